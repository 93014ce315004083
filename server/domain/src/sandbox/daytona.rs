//! Daytona sandboxes: the provider for scale-out, over Daytona's REST API and the toolbox
//! daemon that runs inside each sandbox.
//!
//! The API (`/sandbox…`) creates, starts, stops and deletes sandboxes; everything inside a
//! sandbox goes to its toolbox at `<toolboxProxyUrl>/<sandbox id>`. Every request carries the
//! SDK version header, because the daemon picks its response formats from it (JSON command
//! logs need 0.167.0 or later).
//!
//! A command runs as an asynchronous command in a session of its own: its logs are polled
//! and only what is new is passed on, and deleting the session is what kills it, on the kill
//! token, on timeout, and once it has ended.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use entity::SandboxProvider;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{quote, AgentTools, Chunk, Command, Execution, Exit, Preview, Provider, Spec, State};
use crate::seal::Secret;
use crate::{Error, Result};

/// The SDK version we speak; the daemon answers logs as JSON from 0.167.0 on.
const SDK_VERSION: &str = "0.190.0";
const SOURCE: &str = "upstream-agents";
const CHECKOUT: &str = "/home/daytona/workspace";
/// Where a command's environment file waits, in a folder of its own, until it is read.
const ENV_ROOT: &str = "/home/daytona/.upstream";
const LOG_POLL: Duration = Duration::from_millis(250);
/// Consecutive failed polls of a running command before it is given up as lost.
const MAX_POLL_FAILURES: u32 = 8;
/// A list stops here even if Daytona offers more, so a runaway cursor cannot loop forever.
const MAX_LIST_PAGES: usize = 100;
const LIST_LIMIT: &str = "100";

/// How to reach Daytona and what to make sandboxes from.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The API base, e.g. `https://app.daytona.io/api`.
    pub api_url: Url,
    pub api_key: Secret,
    /// The snapshot new sandboxes start from; Daytona's default when `None`.
    pub snapshot: Option<String>,
    /// The region new sandboxes go to; the organisation's default when `None`.
    pub target: Option<String>,
}

/// A sandbox as Daytona describes it, in both the full and the list form.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sandbox {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// One of Daytona's state names (`started`, `stopped`, `error`, …).
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error_reason: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Absent from list items.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub auto_stop_interval: Option<u32>,
    #[serde(default)]
    pub toolbox_proxy_url: Option<String>,
}

impl Sandbox {
    /// Its state in the provider's terms.
    pub fn provider_state(&self) -> State {
        let state = self.state.as_deref().unwrap_or("unknown");
        match state {
            "started" => State::Running,
            // A stopping sandbox takes no new work, and `start` waits for it to settle
            // before starting it again, so it already counts as stopped.
            "stopped" | "stopping" | "archived" | "archiving" | "paused" | "pausing" => {
                State::Stopped
            }
            "error" | "build_failed" => State::Failed(
                self.error_reason
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| format!("Daytona reports the sandbox as {state}")),
            ),
            "destroyed" | "destroying" => State::Missing,
            // Everything else (creating, starting, restoring, pulling or building a snapshot,
            // resizing, resuming, unknown, and states newer than this client) is on its way
            // somewhere; a later look tells where.
            _ => State::Creating,
        }
    }

    fn state_name(&self) -> &str {
        self.state.as_deref().unwrap_or("unknown")
    }

    /// Whether it is at rest in `goal`, not merely on its way there.
    fn has_settled(&self, goal: &State) -> bool {
        match goal {
            State::Running => self.state_name() == "started",
            State::Stopped => matches!(self.state_name(), "stopped" | "archived" | "paused"),
            _ => false,
        }
    }
}

/// A sandbox found by [`DaytonaProvider::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: State,
}

/// What a command has written so far.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Logs {
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
    env: &'a BTreeMap<String, String>,
    auto_stop_interval: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
}

/// `GET /sandbox` answers a plain array on older servers and a cursor page on newer ones.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListPage {
    Legacy(Vec<Sandbox>),
    Current {
        items: Vec<Sandbox>,
        #[serde(rename = "nextCursor", default)]
        next_cursor: Option<String>,
    },
}

#[derive(Deserialize)]
struct PreviewBody {
    url: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteBody {
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    result: String,
}

#[derive(Deserialize)]
struct CommandIdBody {
    #[serde(rename = "cmdId")]
    cmd_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandBody {
    #[serde(default)]
    exit_code: Option<i32>,
}

/// Both the API's (NestJS) and the daemon's error bodies carry `message`; NestJS sends a
/// list of messages for validation errors.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
}

/// A client for Daytona's API. Cloning it shares the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: Url,
    key: Secret,
}

impl Client {
    /// A client for the API at `api` (e.g. `https://app.daytona.io/api`) using `key`.
    pub fn new(api: Url, key: Secret) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("X-Daytona-Source", HeaderValue::from_static(SOURCE));
        headers.insert("X-Daytona-SDK-Version", HeaderValue::from_static(SDK_VERSION));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a reqwest client with static headers always builds");
        Self { http, api, key }
    }

    /// Creates a sandbox from `spec`; it is usually still `creating` when this returns.
    pub async fn create(
        &self,
        spec: &Spec,
        snapshot: Option<&str>,
        target: Option<&str>,
    ) -> Result<Sandbox> {
        let body = CreateBody {
            name: &spec.name,
            labels: &spec.labels,
            env: &spec.env,
            auto_stop_interval: spec.auto_stop_minutes,
            snapshot,
            target,
        };
        let request = self.request(Method::POST, self.api_url(&["sandbox"])).json(&body);
        self.json(request, "sandbox").await
    }

    /// One sandbox by id or name; [`Error::NotFound`] when Daytona does not know it.
    pub async fn get(&self, id: &str) -> Result<Sandbox> {
        self.json(self.request(Method::GET, self.api_url(&["sandbox", id])), "sandbox").await
    }

    /// Every sandbox carrying all of `labels`, following the cursor from page to page.
    pub async fn list(&self, labels: &BTreeMap<String, String>) -> Result<Vec<Sandbox>> {
        let filter = serde_json::to_string(labels).expect("a string map always serialises");
        let mut sandboxes = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut url = self.api_url(&["sandbox"]);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("labels", &filter).append_pair("limit", LIST_LIMIT);
                if let Some(cursor) = &cursor {
                    query.append_pair("cursor", cursor);
                }
            }
            let page = self.json(self.request(Method::GET, url), "sandbox").await?;
            let (items, next) = match page {
                ListPage::Legacy(items) => (items, None),
                ListPage::Current { items, next_cursor } => (items, next_cursor),
            };
            sandboxes.extend(items);
            // Daytona marks the last page with an empty or absent cursor; one that repeats
            // would loop forever.
            match next.filter(|next| !next.is_empty() && Some(next) != cursor.as_ref()) {
                Some(next) => cursor = Some(next),
                None => return Ok(sandboxes),
            }
        }
        tracing::warn!(pages = MAX_LIST_PAGES, "daytona sandbox list cut short");
        Ok(sandboxes)
    }

    pub async fn start(&self, id: &str) -> Result<Sandbox> {
        let url = self.api_url(&["sandbox", id, "start"]);
        self.json(self.request(Method::POST, url), "sandbox").await
    }

    pub async fn stop(&self, id: &str) -> Result<Sandbox> {
        let url = self.api_url(&["sandbox", id, "stop"]);
        self.json(self.request(Method::POST, url), "sandbox").await
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        let url = self.api_url(&["sandbox", id]);
        self.send(self.request(Method::DELETE, url), "sandbox").await.map(drop)
    }

    /// Minutes of inactivity before Daytona stops the sandbox; 0 never stops it.
    pub async fn set_auto_stop(&self, id: &str, minutes: u32) -> Result<()> {
        let url = self.api_url(&["sandbox", id, "autostop", &minutes.to_string()]);
        self.send(self.request(Method::POST, url), "sandbox").await.map(drop)
    }

    pub async fn preview_url(&self, id: &str, port: u16) -> Result<Preview> {
        let url = self.api_url(&["sandbox", id, "ports", &port.to_string(), "preview-url"]);
        let body: PreviewBody = self.json(self.request(Method::GET, url), "sandbox").await?;
        Ok(Preview { url: body.url, token: body.token.filter(|t| !t.is_empty()) })
    }

    /// The toolbox of a sandbox as [`Client::get`] returned it.
    pub fn toolbox(&self, sandbox: &Sandbox) -> Result<Toolbox> {
        let base =
            sandbox.toolbox_proxy_url.as_deref().and_then(|u| Url::parse(u).ok()).ok_or_else(
                || Error::Upstream("Daytona gave no toolbox address for the sandbox".into()),
            )?;
        Ok(Toolbox { client: self.clone(), base: join(base, &[&sandbox.id]) })
    }

    fn api_url(&self, segments: &[&str]) -> Url {
        join(self.api.clone(), segments)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(self.key.expose())
    }

    async fn send(&self, request: RequestBuilder, missing: &'static str) -> Result<Response> {
        check(request.send().await.map_err(unreachable)?, missing).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        missing: &'static str,
    ) -> Result<T> {
        self.send(request, missing).await?.json().await.map_err(bad_body)
    }
}

/// The daemon inside one sandbox.
#[derive(Clone)]
pub struct Toolbox {
    client: Client,
    base: Url,
}

impl Toolbox {
    /// Runs `script` to its end with `bash -c` and returns its combined output.
    ///
    /// Older daemons split the command line and run it without a shell, newer ones hand it
    /// to a shell; an explicit `bash -c` behaves the same on both. A timeout answered by the
    /// daemon (HTTP 408) is [`Exit::TimedOut`].
    pub async fn execute(
        &self,
        script: &str,
        cwd: Option<&str>,
        timeout: Duration,
    ) -> Result<(String, Exit)> {
        let mut body = serde_json::json!({
            "command": format!("bash -c {}", quote(script)),
            "timeout": timeout.as_secs_f64().ceil().max(1.0) as u64,
        });
        if let Some(cwd) = cwd {
            body["cwd"] = cwd.into();
        }
        let request = self
            .request(Method::POST, &["process", "execute"])
            .timeout(timeout + Duration::from_secs(30))
            .json(&body);
        let response = request.send().await.map_err(unreachable)?;
        if response.status() == StatusCode::REQUEST_TIMEOUT {
            return Ok((String::new(), Exit::TimedOut));
        }
        let body: ExecuteBody = check(response, "sandbox").await?.json().await.map_err(bad_body)?;
        Ok((body.result, Exit::Code(body.exit_code.unwrap_or(0))))
    }

    pub async fn create_session(&self, session: &str) -> Result<()> {
        let body = serde_json::json!({ "sessionId": session });
        let request = self.request(Method::POST, &["process", "session"]).json(&body);
        self.send(request, "sandbox").await.map(drop)
    }

    /// Deletes a session, killing whatever still runs in it.
    pub async fn delete_session(&self, session: &str) -> Result<()> {
        let request = self.request(Method::DELETE, &["process", "session", session]);
        self.send(request, "command session").await.map(drop)
    }

    /// Starts `command` in `session` without waiting for it; returns the command's id.
    pub async fn exec_async(&self, session: &str, command: &str) -> Result<String> {
        let body = serde_json::json!({ "command": command, "runAsync": true });
        let request = self.request(Method::POST, &["process", "session", session, "exec"]);
        let body: CommandIdBody = self.json(request.json(&body), "command session").await?;
        Ok(body.cmd_id)
    }

    /// The exit code of a session command, `None` while it runs.
    pub async fn exit_code(&self, session: &str, command: &str) -> Result<Option<i32>> {
        let path = ["process", "session", session, "command", command];
        let body: CommandBody = self.json(self.request(Method::GET, &path), "command").await?;
        Ok(body.exit_code)
    }

    /// Everything a session command has written so far.
    pub async fn logs(&self, session: &str, command: &str) -> Result<Logs> {
        let path = ["process", "session", session, "command", command, "logs"];
        let response = self.send(self.request(Method::GET, &path), "command").await?;
        let bytes = response.bytes().await.map_err(bad_body)?;
        // A daemon that ignores the SDK version header answers plain combined text.
        Ok(serde_json::from_slice(&bytes).unwrap_or_else(|_| Logs {
            stdout: String::from_utf8_lossy(&bytes).into_owned(),
            stderr: String::new(),
        }))
    }

    pub async fn download(&self, path: &str) -> Result<Vec<u8>> {
        let mut request = self.request(Method::GET, &["files", "download"]);
        request = request.query(&[("path", path)]).timeout(Duration::from_secs(300));
        let response = self.send(request, "file").await?;
        Ok(response.bytes().await.map_err(bad_body)?.to_vec())
    }

    pub async fn upload(&self, path: &str, contents: Vec<u8>) -> Result<()> {
        let name = path.rsplit('/').next().unwrap_or("file").to_owned();
        let part = reqwest::multipart::Part::bytes(contents).file_name(name);
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = self
            .request(Method::POST, &["files", "upload"])
            .query(&[("path", path)])
            .timeout(Duration::from_secs(300))
            .multipart(form);
        self.send(request, "folder").await.map(drop)
    }

    /// Makes a folder and its missing parents with `mode` (octal, e.g. `755`).
    pub async fn create_folder(&self, path: &str, mode: &str) -> Result<()> {
        let request = self.request(Method::POST, &["files", "folder"]);
        let request = request.query(&[("path", path), ("mode", mode)]);
        self.send(request, "folder").await.map(drop)
    }

    /// Removes a file or a folder with everything in it.
    pub async fn delete_path(&self, path: &str) -> Result<()> {
        let request = self.request(Method::DELETE, &["files"]);
        let request = request.query(&[("path", path), ("recursive", "true")]);
        self.send(request, "file").await.map(drop)
    }

    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.client.request(method, join(self.base.clone(), segments))
    }

    async fn send(&self, request: RequestBuilder, missing: &'static str) -> Result<Response> {
        self.client.send(request, missing).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        missing: &'static str,
    ) -> Result<T> {
        self.client.json(request, missing).await
    }
}

/// Sandboxes at Daytona.
pub struct DaytonaProvider {
    client: Client,
    snapshot: Option<String>,
    target: Option<String>,
    settle_timeout: Duration,
}

impl DaytonaProvider {
    pub fn new(settings: Settings) -> Self {
        Self {
            client: Client::new(settings.api_url, settings.api_key),
            snapshot: settings.snapshot,
            target: settings.target,
            settle_timeout: Duration::from_secs(120),
        }
    }

    /// How long creating, starting or stopping a sandbox may take (120 s unless set).
    pub fn with_settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// The API client underneath, for calls the [`Provider`] interface does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every sandbox at Daytona carrying all of `labels`, for reconciling.
    pub async fn list(&self, labels: &BTreeMap<String, String>) -> Result<Vec<Listed>> {
        let sandboxes = self.client.list(labels).await?;
        let listed = sandboxes.into_iter().map(|s| Listed {
            state: s.provider_state(),
            id: s.id,
            name: s.name,
            labels: s.labels,
        });
        Ok(listed.collect())
    }

    /// Polls until the sandbox reaches `goal`, failing at once when it cannot get there.
    async fn settle(&self, id: &str, goal: State) -> Result<Sandbox> {
        let deadline = Instant::now() + self.settle_timeout;
        let mut pause = Duration::from_millis(200);
        loop {
            let sandbox = self.client.get(id).await?;
            if sandbox.has_settled(&goal) {
                return Ok(sandbox);
            }
            match sandbox.provider_state() {
                State::Failed(reason) => {
                    return Err(Error::Upstream(format!("Daytona failed the sandbox: {reason}")))
                }
                State::Missing => {
                    return Err(Error::Upstream("Daytona deleted the sandbox meanwhile".into()))
                }
                State::Creating | State::Running | State::Stopped => {}
            }
            if Instant::now() + pause > deadline {
                let seconds = self.settle_timeout.as_secs();
                return Err(Error::Upstream(format!(
                    "the Daytona sandbox was still {} after {seconds} s",
                    sandbox.state_name()
                )));
            }
            sleep(pause).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(1));
        }
    }

    /// The toolbox of a sandbox that must be running.
    async fn running(&self, id: &str) -> Result<Toolbox> {
        let sandbox = self.client.get(id).await?;
        if sandbox.provider_state() != State::Running {
            return Err(Error::Conflict(format!(
                "the sandbox is not running (Daytona reports it as {})",
                sandbox.state_name()
            )));
        }
        self.client.toolbox(&sandbox)
    }

    /// Makes the new sandbox ready, or deletes it so that a failed create leaves nothing.
    async fn prepare(&self, id: &str) -> Result<()> {
        let sandbox = self.settle(id, State::Running).await?;
        self.client.toolbox(&sandbox)?.create_folder(CHECKOUT, "755").await
    }

    /// Writes `env` to a file in a fresh folder only this user can enter, so the values
    /// travel in a request body instead of a command line Daytona records and shows.
    async fn stage_env(
        &self,
        toolbox: &Toolbox,
        run: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<String> {
        let folder = format!("{ENV_ROOT}/{run}");
        let mut file = String::new();
        for (name, value) in env {
            file.push_str(&format!("export {name}={}\n", quote(value)));
        }
        toolbox.create_folder(&folder, "700").await?;
        if let Err(err) = toolbox.upload(&format!("{folder}/env"), file.into_bytes()).await {
            let _ = toolbox.delete_path(&folder).await;
            return Err(err);
        }
        Ok(folder)
    }
}

#[async_trait]
impl Provider for DaytonaProvider {
    fn kind(&self) -> SandboxProvider {
        SandboxProvider::Daytona
    }

    fn checkout_dir(&self) -> &str {
        CHECKOUT
    }

    fn agent_tools(&self) -> AgentTools {
        // Each Daytona sandbox is its own machine: the CLIs are installed in it on first use.
        AgentTools::InSandbox { dir: "/home/daytona/.upstream/agents".into() }
    }

    async fn create(&self, spec: &Spec) -> Result<String> {
        if !spec.host_paths.is_empty() {
            return Err(Error::invalid(
                "repository",
                "a repository on the server's disk cannot be reached from a Daytona sandbox; \
                 use a clone URL instead",
            ));
        }
        let sandbox =
            self.client.create(spec, self.snapshot.as_deref(), self.target.as_deref()).await?;
        if let Err(err) = self.prepare(&sandbox.id).await {
            if let Err(cleanup) = self.client.delete(&sandbox.id).await {
                let id = &sandbox.id;
                tracing::warn!(sandbox = %id, error = %cleanup, "daytona sandbox left behind");
            }
            return Err(err);
        }
        tracing::debug!(sandbox = %sandbox.id, "daytona sandbox created");
        Ok(sandbox.id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        let sandbox = self.client.get(id).await?;
        match sandbox.state_name() {
            "started" => return Ok(()),
            "stopping" | "archiving" | "pausing" => {
                self.settle(id, State::Stopped).await?;
            }
            _ => {}
        }
        match sandbox.provider_state() {
            State::Missing => return Err(Error::NotFound("sandbox")),
            State::Creating => {}
            State::Running | State::Stopped | State::Failed(_) => {
                self.client.start(id).await?;
            }
        }
        self.settle(id, State::Running).await.map(drop)
    }

    async fn stop(&self, id: &str) -> Result<()> {
        let sandbox = self.client.get(id).await?;
        match sandbox.provider_state() {
            State::Stopped => return self.settle(id, State::Stopped).await.map(drop),
            State::Missing => return Err(Error::NotFound("sandbox")),
            // Daytona refuses to stop a sandbox on its way up; let it arrive first.
            State::Creating => {
                self.settle(id, State::Running).await?;
            }
            State::Running | State::Failed(_) => {}
        }
        self.client.stop(id).await?;
        self.settle(id, State::Stopped).await.map(drop)
    }

    async fn delete(&self, id: &str) -> Result<()> {
        match self.client.delete(id).await {
            Err(Error::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    async fn state(&self, id: &str) -> Result<State> {
        match self.client.get(id).await {
            Ok(sandbox) => Ok(sandbox.provider_state()),
            Err(Error::NotFound(_)) => Ok(State::Missing),
            Err(err) => Err(err),
        }
    }

    async fn exec(&self, id: &str, command: Command) -> Result<Execution> {
        if let Some(name) = command.env.keys().find(|name| !is_variable_name(name)) {
            return Err(Error::invalid("env", format!("`{name}` is not a variable name")));
        }
        let cwd = match command.cwd.as_deref() {
            None | Some("") => CHECKOUT.to_owned(),
            Some(dir) if dir.starts_with('/') => dir.to_owned(),
            Some(dir) => format!("{CHECKOUT}/{dir}"),
        };
        let toolbox = self.running(id).await?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let env_folder = if command.env.is_empty() {
            None
        } else {
            Some(self.stage_env(&toolbox, &run, &command.env).await?)
        };

        let session = format!("upstream-{run}");
        let script = wrap(&command.script, &cwd, env_folder.as_deref());
        let started = match toolbox.create_session(&session).await {
            Ok(()) => toolbox.exec_async(&session, &script).await,
            Err(err) => Err(err),
        };
        let command_id = match started {
            Ok(command_id) => command_id,
            Err(err) => {
                let _ = toolbox.delete_session(&session).await;
                if let Some(folder) = env_folder {
                    let _ = toolbox.delete_path(&folder).await;
                }
                return Err(err);
            }
        };

        let (sender, output) = mpsc::channel(64);
        let kill = CancellationToken::new();
        let follower = Follower {
            client: self.client.clone(),
            toolbox,
            sandbox: id.to_owned(),
            session,
            command: command_id,
            sender,
        };
        tokio::spawn(follower.run(kill.clone(), Instant::now() + command.timeout));
        Ok(Execution { output, kill })
    }

    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let path = in_checkout(path)?;
        self.running(id).await?.download(&path).await
    }

    async fn write_file(&self, id: &str, path: &str, contents: &[u8]) -> Result<()> {
        let path = in_checkout(path)?;
        let toolbox = self.running(id).await?;
        if let Some((folder, _)) = path.rsplit_once('/') {
            toolbox.create_folder(folder, "755").await?;
        }
        toolbox.upload(&path, contents.to_vec()).await
    }

    async fn preview_url(&self, id: &str, port: u16) -> Result<Preview> {
        self.client.preview_url(id, port).await
    }

    async fn set_auto_stop(&self, id: &str, minutes: u32) -> Result<()> {
        self.client.set_auto_stop(id, minutes).await
    }
}

/// Follows one session command to its end, passing its output on as it grows.
struct Follower {
    client: Client,
    toolbox: Toolbox,
    sandbox: String,
    session: String,
    command: String,
    sender: mpsc::Sender<Chunk>,
}

impl Follower {
    async fn run(self, kill: CancellationToken, deadline: Instant) {
        let mut seen = (0, 0);
        let mut failures = 0;
        let exit = loop {
            tokio::select! {
                _ = kill.cancelled() => break Exit::Killed,
                _ = tokio::time::sleep_until(deadline) => break Exit::TimedOut,
                polled = self.poll(&mut seen) => match polled {
                    Ok(Some(code)) => break Exit::Code(code),
                    Ok(None) => failures = 0,
                    Err(err) => {
                        failures += 1;
                        if failures >= MAX_POLL_FAILURES || !self.sandbox_is_running().await {
                            self.report_lost(&err).await;
                            break Exit::Killed;
                        }
                    }
                },
            }
            tokio::select! {
                _ = kill.cancelled() => break Exit::Killed,
                _ = tokio::time::sleep_until(deadline) => break Exit::TimedOut,
                _ = sleep(LOG_POLL) => {}
            }
        };
        // Deleting the session kills the command and everything it started, so by the time
        // the exit is sent nothing of it runs any more.
        // Limitation: this also ends what a command that exited normally left running in the
        // background (a dev server for a preview); such a process must be started detached
        // from the session. Keeping sessions open instead would leave an idle shell in the
        // sandbox for every command ever run.
        match self.toolbox.delete_session(&self.session).await {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(err) => {
                let sandbox = &self.sandbox;
                tracing::warn!(sandbox = %sandbox, error = %err, "daytona session not deleted");
            }
        }
        let _ = self.sender.send(Chunk::Exit(exit)).await;
    }

    async fn report_lost(&self, err: &Error) {
        tracing::warn!(sandbox = %self.sandbox, error = %err, "daytona command lost");
        let note = format!("\nlost track of the command in Daytona: {err}\n");
        let _ = self.sender.send(Chunk::Stderr(note)).await;
    }

    /// Passes on new output and returns the exit code once there is one. The code is read
    /// before the logs, so logs read after it are complete.
    async fn poll(&self, seen: &mut (usize, usize)) -> Result<Option<i32>> {
        let exit = self.toolbox.exit_code(&self.session, &self.command).await?;
        let logs = self.toolbox.logs(&self.session, &self.command).await?;
        if let Some(new) = unseen(&logs.stdout, &mut seen.0) {
            let _ = self.sender.send(Chunk::Stdout(new)).await;
        }
        if let Some(new) = unseen(&logs.stderr, &mut seen.1) {
            let _ = self.sender.send(Chunk::Stderr(new)).await;
        }
        Ok(exit)
    }

    async fn sandbox_is_running(&self) -> bool {
        let sandbox = self.client.get(&self.sandbox).await;
        sandbox.is_ok_and(|s| s.provider_state() == State::Running)
    }
}

/// The part of `text` past `seen` bytes, moving `seen` on. A cut inside a character waits
/// for the next poll.
fn unseen(text: &str, seen: &mut usize) -> Option<String> {
    let new = text.get(*seen..).filter(|new| !new.is_empty())?.to_owned();
    *seen = text.len();
    Some(new)
}

/// The command line sent to the session: the script run by its own `bash -c`, after reading
/// and removing its environment file and entering its directory. Plain `bash -c` rather than
/// a login shell, since profile scripts may reset variables Daytona set for the sandbox.
fn wrap(script: &str, cwd: &str, env_folder: Option<&str>) -> String {
    let mut inner = String::new();
    if let Some(folder) = env_folder {
        let file = format!("{folder}/env");
        inner.push_str(&format!(". {}\nrm -rf -- {}\n", quote(&file), quote(folder)));
    }
    inner.push_str(&format!("cd -- {} || exit\n", quote(cwd)));
    inner.push_str(script);
    format!("bash -c {}", quote(&inner))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The absolute path of `path`, which must stay inside the checkout.
fn in_checkout(path: &str) -> Result<String> {
    let path = path.trim_start_matches("./");
    let escapes = path.split('/').any(|part| part == "..");
    if path.is_empty() || path.starts_with('/') || escapes {
        return Err(Error::invalid("path", "give a path inside the checkout, without `..`"));
    }
    Ok(format!("{CHECKOUT}/{path}"))
}

/// `base` with `segments` appended, each percent-encoded as one path segment.
fn join(mut base: Url, segments: &[&str]) -> Url {
    base.path_segments_mut()
        .expect("Daytona addresses are http(s) URLs, which have paths")
        .pop_if_empty()
        .extend(segments);
    base
}

/// Turns a non-success answer into the error a user should see; `missing` names what a
/// 404 means at this address.
async fn check(response: Response, missing: &'static str) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = error_message(&body).unwrap_or_else(|| status.to_string());
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::NotConfigured(format!(
            "Daytona refused the API key ({message}); check the configured Daytona API key"
        )),
        StatusCode::NOT_FOUND => Error::NotFound(missing),
        StatusCode::REQUEST_TIMEOUT => Error::Upstream(format!("Daytona timed out: {message}")),
        _ => Error::Upstream(format!("Daytona answered {}: {message}", status.as_u16())),
    })
}

/// Daytona's own words from an error body, or a short piece of a body that is not JSON.
fn error_message(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(serde_json::Value::String(text)), .. }) => text,
        Ok(ErrorBody { message: Some(serde_json::Value::Array(parts)), .. }) => {
            let parts = parts.iter().filter_map(|p| p.as_str());
            parts.collect::<Vec<_>>().join("; ")
        }
        Ok(ErrorBody { error, .. }) => error?,
        Err(_) => String::from_utf8_lossy(body).chars().take(300).collect(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn unreachable(err: reqwest::Error) -> Error {
    tracing::warn!(error = %err, "daytona unreachable");
    if err.is_timeout() {
        return Error::Upstream("Daytona did not answer in time".into());
    }
    Error::Upstream("Daytona could not be reached".into())
}

fn bad_body(err: reqwest::Error) -> Error {
    tracing::warn!(error = %err, "daytona sent an unexpected body");
    Error::Upstream("Daytona sent an answer we could not read".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn paths_outside_the_checkout_are_refused() {
        assert_eq!(in_checkout("src/main.rs").unwrap(), "/home/daytona/workspace/src/main.rs");
        for bad in ["/etc/passwd", "../x", "a/../../b", ""] {
            assert!(in_checkout(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn new_output_is_cut_at_what_was_seen() {
        let mut seen = 0;
        assert_eq!(unseen("ab", &mut seen).as_deref(), Some("ab"));
        assert_eq!(unseen("ab", &mut seen), None);
        assert_eq!(unseen("abcé", &mut seen).as_deref(), Some("cé"));
    }

    #[test]
    fn nest_and_daemon_error_bodies_give_their_message() {
        let nest = br#"{"path":"/api/sandbox/x","timestamp":"t","statusCode":404,
            "error":"Not Found","message":"Sandbox with ID or name x not found"}"#;
        assert_eq!(error_message(nest).unwrap(), "Sandbox with ID or name x not found");
        let list = br#"{"statusCode":400,"error":"Bad Request","message":["a is bad","b too"]}"#;
        assert_eq!(error_message(list).unwrap(), "a is bad; b too");
        let daemon = br#"{"statusCode":400,"message":"bad path","code":"BAD_REQUEST",
            "timestamp":"t","path":"/files","method":"GET"}"#;
        assert_eq!(error_message(daemon).unwrap(), "bad path");
    }
}
