//! A server killed in the middle of an agent run, then started again on the same database
//! and data directory: the real server binary, the real Claude Code CLI and a real local
//! sandbox. Nothing stored before the kill is lost, and the run ends in a clear state
//! whether the agent outlived the server or not.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::runs::{parse_sse, shared_tools, SseEvent, MODEL_KEY};
use support::{bare_repository, TestDb};

/// The server binary, started on its own port with the test's database and directories.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(db: &TestDb, models_url: &str) -> Server {
        Server::start_with(db, models_url, &[]).await
    }

    async fn start_with(db: &TestDb, models_url: &str, extra: &[(&str, &str)]) -> Server {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_upstream"))
            .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &db.url)
            .env("DATA_DIR", db.dir().join("data"))
            .env("ENCRYPTION_KEY", "42".repeat(32))
            .env("AGENT_TOOLS_DIR", shared_tools())
            .env("ANTHROPIC_BASE_URL", models_url)
            .env("GITHUB_API_URL", "http://127.0.0.1:9")
            .env("GITHUB_WEB_URL", "http://127.0.0.1:9")
            .env("RUST_LOG", "warn")
            .env_remove("GITHUB_PAT")
            .env_remove("GITHUB_CLIENT_ID")
            .env_remove("DAYTONA_API_KEY")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let server = Server { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..300 {
            if let Ok(answer) = reqwest::get(format!("{}/healthz", server.url)).await {
                if answer.status().is_success() {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not come up");
    }

    /// Kills the process at once, as a crash or an OOM kill would.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn call(&self, name: &str, args: Value) -> Value {
        let answer = reqwest::Client::new()
            .post(format!("{}/api/{name}", self.url))
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(status.is_success(), "{name} failed: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn form(&self, name: &str, fields: &[(&str, &str)]) {
        let body: String =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let answer = reqwest::Client::new()
            .post(format!("{}/api/{name}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{name} failed");
    }

    /// The branch's stored events, read from its stream until it goes quiet.
    async fn events(&self, branch_id: i64) -> Vec<SseEvent> {
        let url = format!("{}/streams/branches/{branch_id}/events", self.url);
        let mut answer = reqwest::get(url).await.unwrap();
        let mut text = String::new();
        while let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_millis(500), answer.chunk()).await
        {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        parse_sse(&text)
    }

    /// Waits until the branch has no run under way.
    async fn settle(&self, branch_id: i64) -> Value {
        for _ in 0..600 {
            let conversation =
                self.call("get_conversation", json!({ "branch_id": branch_id })).await;
            if conversation["runs"].as_array().unwrap().is_empty() {
                return conversation;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the run did not end after the restart");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server with a branch and the agent keys, and a run under way whose tool has started.
async fn run_under_way(
    db: &TestDb,
    models_url: &str,
    command: &str,
) -> (Server, i64, Vec<SseEvent>) {
    let server = Server::start(db, models_url).await;
    let (branch_id, events) = start_run(&server, &server, db, command).await;
    (server, branch_id, events)
}

/// Starts a run through `starter` and waits until `watcher`'s stream shows its tool.
async fn start_run(
    starter: &Server,
    watcher: &Server,
    db: &TestDb,
    command: &str,
) -> (i64, Vec<SseEvent>) {
    let server = starter;
    let remote = bare_repository(db.dir(), "widgets", &[]);
    let repo = server.call("add_git_repository", json!({ "url": remote })).await;
    let branch = server
        .call(
            "create_branch",
            json!({
                "repository_id": repo["id"], "name": "feature", "base_branch": "main",
                "agent": "claude-code", "model": "sonnet"
            }),
        )
        .await;
    let branch_id = branch["id"].as_i64().unwrap();
    server.form("set_agent_key", &[("kind", "anthropic"), ("value", MODEL_KEY)]).await;
    let prompt = format!("Run: {command}");
    let args = json!({
        "branch_id": branch_id, "prompt": prompt, "agent": "claude-code", "model": "sonnet"
    });
    server.call("send_prompt", args).await;
    for _ in 0..1200 {
        let events = watcher.events(branch_id).await;
        if events.iter().any(|e| e.kind() == "tool_started") {
            return (branch_id, events);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the agent's tool never started");
}

async fn models() -> String {
    let world = fakes::models::World::shared(MODEL_KEY);
    let address = fakes::models::spawn(world, "127.0.0.1:0").await.unwrap();
    format!("http://{address}")
}

fn assert_kept(before: &[SseEvent], after: &[SseEvent]) {
    for event in before.iter().filter(|e| e.id.is_some()) {
        let kept = after.iter().find(|e| e.id == event.id).unwrap_or_else(|| {
            panic!("event {:?} ({}) was lost in the restart", event.id, event.kind())
        });
        assert_eq!(kept.data, event.data, "event {:?} changed", event.id);
    }
}

#[tokio::test]
async fn an_agent_that_outlives_its_server_is_followed_again_after_a_restart() {
    let db = TestDb::new().await;
    let models = models().await;
    let (server, branch_id, before) =
        run_under_way(&db, &models, "sleep 3 && echo survived-the-restart").await;
    server.kill();

    let server = Server::start(&db, &models).await;
    let conversation = server.settle(branch_id).await;
    let after = server.events(branch_id).await;
    assert_kept(&before, &after);
    let kinds: Vec<String> = after.iter().map(SseEvent::kind).collect();
    assert!(
        after.iter().any(|e| e.payload()["text"].as_str().is_some_and(|t| t.contains("restarted"))),
        "the conversation says the run was taken up again: {kinds:?}"
    );
    let tool = after.iter().find(|e| e.kind() == "tool_finished");
    let tool = tool.unwrap_or_else(|| panic!("the tool's end: {after:#?}"));
    assert!(tool.payload()["output"].as_str().unwrap().contains("survived-the-restart"));
    assert_eq!(after.last().unwrap().payload()["status"], "completed", "{kinds:?}");
    let ids: Vec<i64> = after.iter().filter_map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "no event twice: {ids:?}");
    let reply = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(reply["status"], "completed", "{reply}");
}

#[tokio::test]
async fn a_run_whose_agent_died_with_its_server_ends_as_interrupted_keeping_what_it_showed() {
    let db = TestDb::new().await;
    let models = models().await;
    let (server, branch_id, before) = run_under_way(&db, &models, "sleep 600").await;
    let run_id = before[0].data["run_id"].as_i64().unwrap();
    server.kill();
    // The machine went down with it: nothing of the run is left running.
    let sandboxes = std::fs::read_dir(db.dir().join("data").join("sandboxes")).unwrap();
    let sandbox = sandboxes.flatten().next().expect("the branch's sandbox").file_name();
    let sandbox = sandbox.to_str().unwrap();
    kill_marked(&[&format!("UPSTREAM_RUN={run_id}@{sandbox}")]);

    let server = Server::start(&db, &models).await;
    let conversation = server.settle(branch_id).await;
    let after = server.events(branch_id).await;
    assert_kept(&before, &after);
    let last = after.last().unwrap().payload();
    assert_eq!(last["status"], "interrupted", "{last}");
    let reply = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(reply["status"], "interrupted");
    assert!(reply["error"].as_str().unwrap().contains("server was away"), "{reply}");
    let card = reply["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "tool").cloned();
    assert_eq!(card.expect("the tool card is kept")["status"], "failed");
}

#[tokio::test]
async fn two_instances_on_postgresql_share_a_run_and_the_survivor_takes_it_over() {
    let db = TestDb::postgres().await;
    let models = models().await;
    let lease = [("RUN_LEASE_SECONDS", "3")];
    let owner = Server::start_with(&db, &models, &lease).await;
    let other = Server::start_with(&db, &models, &lease).await;
    // Started through one instance, followed through the other.
    let (branch_id, before) = start_run(&owner, &other, &db, "sleep 4 && echo handed-over").await;
    owner.kill();

    let conversation = other.settle(branch_id).await;
    let after = other.events(branch_id).await;
    assert_kept(&before, &after);
    let tool = after.iter().find(|e| e.kind() == "tool_finished").expect("the tool's end");
    assert!(tool.payload()["output"].as_str().unwrap().contains("handed-over"), "{tool:?}");
    let reply = conversation["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(reply["status"], "completed", "{reply}");
}

/// Kills every process whose environment holds all of `markers`, and waits until none is
/// left.
fn kill_marked(markers: &[&str]) {
    let marked = || -> Vec<String> {
        let entries = std::fs::read_dir("/proc").unwrap().flatten();
        entries
            .filter(|entry| {
                std::fs::read(entry.path().join("environ")).is_ok_and(|env| {
                    markers.iter().all(|m| env.split(|b| *b == 0).any(|var| var == m.as_bytes()))
                })
            })
            .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
            .collect()
    };
    for _ in 0..50 {
        let pids = marked();
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the run's processes would not die");
}
