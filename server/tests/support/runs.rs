//! Driving agent runs the way the branch page does, with the real agent CLIs talking to
//! the scripted model server: send a prompt, wait for the branch to go quiet, read its
//! event stream.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use fakes::models;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::sandbox::new_branch;
use super::{bare_repository, Browser, SignIn, TestApp};

/// The key the scripted model server accepts, set as every agent key of the test user.
pub const MODEL_KEY: &str = "sk-test-model-key-1234";

/// Where the agent CLIs are installed once for every test run (they are large).
pub fn shared_tools() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().expect("the target directory").join("agent-tools")
}

/// A server whose agents reach the scripted model server, with a branch on a repository
/// on disk and the user's agent keys set.
pub struct AgentTest {
    pub app: TestApp,
    pub browser: Browser,
    pub branch: Value,
    pub models: models::Shared,
}

impl AgentTest {
    pub async fn start() -> AgentTest {
        AgentTest::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(&str, &str)]) -> AgentTest {
        let models = models::World::shared(MODEL_KEY);
        let address = models::spawn(models.clone(), "127.0.0.1:0").await.unwrap();
        let url = format!("http://{address}");
        let tools = shared_tools().display().to_string();
        let mut vars = vec![
            ("AGENT_TOOLS_DIR", tools.as_str()),
            ("ANTHROPIC_BASE_URL", url.as_str()),
            ("OPENAI_BASE_URL", url.as_str()),
            ("OPENCODE_BASE_URL", url.as_str()),
            ("AGENT_TIMEOUT_MINUTES", "5"),
        ];
        vars.extend_from_slice(extra);
        let app = TestApp::start_with(SignIn::Local, &vars).await;
        let mut browser = app.browser();
        let remote = bare_repository(app.db.dir(), "widgets", &[]);
        let repo = browser.ok("add_git_repository", json!({ "url": remote })).await;
        let branch = browser.ok("create_branch", new_branch(&repo, "feature")).await;
        for kind in ["anthropic", "openai", "opencode"] {
            let set = browser.form("set_agent_key", &[("kind", kind), ("value", MODEL_KEY)]).await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.text);
        }
        AgentTest { app, browser, branch, models }
    }

    pub fn branch_id(&self) -> i64 {
        self.branch["id"].as_i64().unwrap()
    }

    /// Sends a prompt and returns its run.
    pub async fn send(&mut self, agent: &str, model: &str, prompt: &str) -> Value {
        let args = json!({
            "branch_id": self.branch_id(), "prompt": prompt, "agent": agent, "model": model
        });
        self.browser.ok("send_prompt", args).await
    }

    pub async fn conversation(&mut self) -> Value {
        self.browser.ok("get_conversation", json!({ "branch_id": self.branch_id() })).await
    }

    /// Waits until no run is running or queued on the branch, and returns the
    /// conversation then.
    pub async fn settle(&mut self, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let conversation = self.conversation().await;
            if conversation["runs"].as_array().unwrap().is_empty() {
                return conversation;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "runs still under way after {limit:?}: {}",
                conversation["runs"]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the branch's stored events include one `kind`, and returns them all.
    pub async fn wait_for_event(&mut self, kind: &str, limit: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let events = self.events(0, None).await;
            if events.iter().any(|e| e.kind() == kind) {
                return events;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {kind} event after {limit:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The branch's event stream after `after` (or after `last_event_id`, sent as the
    /// `Last-Event-ID` header a reconnecting browser sends), read until it goes quiet.
    pub async fn events(&mut self, after: i64, last_event_id: Option<i64>) -> Vec<SseEvent> {
        let path = format!("/streams/branches/{}/events?after={after}", self.branch_id());
        let mut request = Request::get(path);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let jar: Vec<String> =
            self.browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !jar.is_empty() {
            request = request.header(header::COOKIE, jar.join("; "));
        }
        let response =
            self.app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        read_sse(response.into_body(), Duration::from_millis(400)).await
    }
}

impl AgentTest {
    /// Opens a stream of the server's and returns its body, to read while the test goes on.
    pub async fn open_stream(&self, path: &str) -> Body {
        let jar: Vec<String> =
            self.browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut request = Request::get(path);
        if !jar.is_empty() {
            request = request.header(header::COOKIE, jar.join("; "));
        }
        let response =
            self.app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body()
    }
}

/// The `data:` lines of a stream's body, read until nothing arrives for `quiet`.
pub async fn data_lines(body: Body, quiet: Duration) -> Vec<String> {
    data_lines_until(body, quiet, |_| false).await
}

/// Like [`data_lines`], but also stops after a data line for which `last` holds.
pub async fn data_lines_until(
    mut body: Body,
    quiet: Duration,
    last: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut text = String::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, body.frame()).await {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        if text.lines().filter_map(|l| l.strip_prefix("data:")).any(|l| last(l.trim())) {
            break;
        }
    }
    text.lines().filter_map(|l| l.strip_prefix("data:")).map(|l| l.trim().to_owned()).collect()
}

/// One server-sent event.
#[derive(Clone, Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<i64>,
    pub data: Value,
}

impl SseEvent {
    /// The run event's kind (`run_started`, `text`, `tool_started`, …), or the SSE event
    /// name for others.
    pub fn kind(&self) -> String {
        self.data["event"]["kind"].as_str().map(str::to_owned).unwrap_or_else(|| self.event.clone())
    }

    pub fn payload(&self) -> &Value {
        &self.data["event"]
    }
}

/// Reads events from an SSE body until nothing arrives for `quiet`.
pub async fn read_sse(mut body: Body, quiet: Duration) -> Vec<SseEvent> {
    let mut text = String::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, body.frame()).await {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    parse_sse(&text)
}

pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if data.is_empty() {
            continue;
        }
        events.push(SseEvent {
            event,
            id,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
        });
    }
    events
}

/// The kinds of the run events, in order.
pub fn kinds(events: &[SseEvent]) -> Vec<String> {
    events.iter().filter(|e| e.event == "run").map(SseEvent::kind).collect()
}

/// The text blocks of the assistant replies in a conversation, in order.
pub fn replies(conversation: &Value) -> Vec<String> {
    conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}
