//! A fake Daytona: the sandbox API under `/api` and every sandbox's toolbox under
//! `/toolbox/{sandboxId}`, in one server.
//!
//! Sandboxes are records in memory whose transitions (creating → started, starting →
//! started, stopping → stopped) complete after a set number of `GET /api/sandbox/{id}`
//! looks, so clients must poll as they would against Daytona. Each sandbox's
//! `toolboxProxyUrl` points back at this server, built from the request's Host.
//!
//! Toolbox commands really run on this host, with `bash -c` in a temporary directory that
//! stands in for `/home/daytona` (also their `HOME`). The fake cannot change the root
//! directory, so it rewrites `/home/daytona` to that directory in command lines, working
//! directories and file paths, and refuses any other absolute path. Each command leads a
//! process group of its own; deleting its session, stopping or deleting its sandbox kills
//! the group, as Daytona kills a session's processes.
//!
//! Errors use the real bodies: NestJS's `{path, timestamp, statusCode, error, message}` from
//! the API and the daemon's `{statusCode, message, code, timestamp, path, method}` from the
//! toolbox.

// Handlers answer errors as whole responses; their size is of no concern in a fake.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path as FsPath, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// The home directory of the sandbox user, as commands and paths name it.
pub const HOME: &str = "/home/daytona";
/// The SDK version from which the daemon answers command logs as JSON.
const JSON_LOGS_SINCE: (u32, u32, u32) = (0, 167, 0);

/// The fake's whole world.
pub struct World {
    /// The only key the fake accepts as `Authorization: Bearer`.
    pub api_key: String,
    /// In the order they were made.
    pub sandboxes: Vec<Sandbox>,
    /// Answer `GET /api/sandbox` as older servers did: one plain array, no paging.
    pub legacy_list: bool,
    /// The most items a list page holds, whatever `limit` asks for.
    pub page_size: usize,
    /// How many looks at a sandbox a transition takes to complete.
    pub polls_to_settle: u32,
    /// Every request's method and path with query, in order.
    pub requests: Vec<String>,
    /// Every command line the toolbox was asked to run, as received.
    pub commands: Vec<String>,
    /// Answer the next API request with this status and message instead.
    pub refuse_next: Option<(u16, String)>,
    /// New sandboxes fail to build, with this reason.
    pub build_failure: Option<String>,
}

pub type Shared = Arc<Mutex<World>>;

/// One sandbox, as the API keeps it.
pub struct Sandbox {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub auto_stop_interval: u32,
    pub snapshot: Option<String>,
    pub target: String,
    /// One of Daytona's state names.
    pub state: String,
    pub error_reason: Option<String>,
    created_at: String,
    updated_at: String,
    preview_token: String,
    /// The state a transition is heading for, and the looks left until it gets there.
    pending: Option<(&'static str, u32)>,
    home: tempfile::TempDir,
    sessions: HashMap<String, Vec<Arc<Run>>>,
    /// Every command started in it, in sessions or not.
    runs: Vec<Arc<Run>>,
}

/// A command started in a session.
struct Run {
    id: String,
    command: String,
    /// The pid of its `bash`, which leads its process group.
    group: u32,
    output: Mutex<Output>,
    exit: watch::Sender<Option<i32>>,
}

#[derive(Default)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Both streams in the order they arrived.
    combined: Vec<u8>,
}

impl World {
    /// An empty world accepting `api_key`, with the current list shape in pages of 100, and
    /// transitions that complete on the second look.
    pub fn new(api_key: &str) -> Self {
        World {
            api_key: api_key.into(),
            sandboxes: Vec::new(),
            legacy_list: false,
            page_size: 100,
            polls_to_settle: 2,
            requests: Vec::new(),
            commands: Vec::new(),
            refuse_next: None,
            build_failure: None,
        }
    }

    pub fn sandbox(&self, id: &str) -> Option<&Sandbox> {
        self.sandboxes.iter().find(|s| s.id == id || s.name == id)
    }

    fn sandbox_mut(&mut self, id: &str) -> Option<&mut Sandbox> {
        self.sandboxes.iter_mut().find(|s| s.id == id || s.name == id)
    }

    /// Deletes a sandbox behind its owner's back, killing what runs in it.
    pub fn vanish(&mut self, id: &str) -> bool {
        let before = self.sandboxes.len();
        self.sandboxes.retain(|s| s.id != id);
        self.sandboxes.len() != before
    }

    /// Puts a sandbox in the `error` state with `reason`, killing what runs in it.
    pub fn fail(&mut self, id: &str, reason: &str) -> bool {
        let Some(sandbox) = self.sandbox_mut(id) else { return false };
        sandbox.kill_all();
        sandbox.set_state("error");
        sandbox.error_reason = Some(reason.into());
        true
    }

    /// Commands of every sandbox that have not ended yet.
    pub fn running_commands(&self) -> usize {
        let runs = self.sandboxes.iter().flat_map(|s| &s.runs);
        runs.filter(|run| run.exit.borrow().is_none()).count()
    }
}

impl Sandbox {
    /// The host directory standing in for `/home/daytona`.
    pub fn home(&self) -> &FsPath {
        self.home.path()
    }

    fn set_state(&mut self, state: &'static str) {
        self.state = state.into();
        self.pending = None;
        self.updated_at = now();
    }

    fn head_for(&mut self, through: &'static str, to: &'static str, looks: u32) {
        if looks == 0 {
            self.set_state(to);
        } else {
            self.set_state(through);
            self.pending = Some((to, looks));
        }
    }

    /// One more look at the sandbox, completing a transition when its time has come.
    fn look(&mut self) {
        if let Some((to, left)) = self.pending {
            if left <= 1 {
                self.set_state(to);
            } else {
                self.pending = Some((to, left - 1));
            }
        }
    }

    fn kill_all(&mut self) {
        self.sessions.clear();
        self.runs.iter().for_each(|run| run.kill());
    }

    fn json(&self, host: &str, full: bool) -> Value {
        let desired = match self.pending.map(|(to, _)| to).unwrap_or(self.state.as_str()) {
            "error" | "build_failed" => "started",
            state => state,
        };
        let mut body = json!({
            "id": self.id,
            "organizationId": "org-fake",
            "name": self.name,
            "snapshot": self.snapshot,
            "user": "daytona",
            "labels": self.labels,
            "public": false,
            "networkBlockAll": false,
            "target": self.target,
            "cpu": 1,
            "gpu": 0,
            "memory": 1,
            "disk": 3,
            "state": self.state,
            "desiredState": desired,
            "errorReason": self.error_reason,
            "recoverable": false,
            "backupState": "None",
            "autoStopInterval": self.auto_stop_interval,
            "autoArchiveInterval": 10080,
            "autoDeleteInterval": -1,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastActivityAt": self.updated_at,
            "sandboxClass": "container",
            "daemonVersion": "0.190.0",
            "runnerId": "runner-fake",
            "toolboxProxyUrl": format!("http://{host}/toolbox"),
        });
        if full {
            body["env"] = json!(self.env);
            body["networkAllowList"] = Value::Null;
            body["volumes"] = json!([]);
        }
        body
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_all();
    }
}

impl Run {
    fn kill(&self) {
        if self.exit.borrow().is_none() {
            // SAFETY: kill(2) with a negative pid signals a process group and touches no
            // memory of ours.
            unsafe { libc::kill(-(self.group as i32), libc::SIGKILL) };
        }
    }

    fn logs(&self) -> (String, String, String) {
        let output = self.output.lock().unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (text(&output.stdout), text(&output.stderr), text(&output.combined))
    }

    async fn finished(&self) -> i32 {
        let mut exit = self.exit.subscribe();
        let code = *exit.wait_for(Option::is_some).await.expect("the run owns its sender");
        code.expect("waited for a code")
    }
}

/// The router of the fake.
pub fn router(world: Shared) -> Router {
    let api = Router::new()
        .route("/sandbox", get(list).post(create))
        .route("/sandbox/{id}", get(sandbox).delete(remove))
        .route("/sandbox/{id}/start", post(start))
        .route("/sandbox/{id}/stop", post(stop))
        .route("/sandbox/{id}/autostop/{minutes}", post(autostop))
        .route("/sandbox/{id}/ports/{port}/preview-url", get(preview_url));
    let toolbox = Router::new()
        .route("/process/execute", post(execute))
        .route("/process/session", post(create_session))
        .route("/process/session/{session}", delete(delete_session))
        .route("/process/session/{session}/exec", post(session_exec))
        .route("/process/session/{session}/command/{command}", get(command))
        .route("/process/session/{session}/command/{command}/logs", get(command_logs))
        .route("/files", delete(delete_file))
        .route("/files/download", get(download))
        .route("/files/upload", post(upload))
        .route("/files/folder", post(create_folder));
    Router::new()
        .nest("/api", api)
        .nest("/toolbox/{sandbox}", toolbox)
        .layer(axum::middleware::from_fn_with_state(world.clone(), guard))
        .with_state(world)
}

/// Serves the fake on `address` (port 0 picks a free one) in the background and returns
/// where it listens. The API is at `http://<address>/api`.
pub async fn spawn(world: Shared, address: &str) -> std::io::Result<SocketAddr> {
    crate::serve(router(world), address).await
}

/// Records every request, then lets through only those with the API key.
async fn guard(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/api");
    let (authorized, refusal) = {
        let mut world = world.lock().unwrap();
        world.requests.push(format!("{} {}", request.method(), request.uri()));
        let key = format!("Bearer {}", world.api_key);
        let header = request.headers().get(header::AUTHORIZATION);
        let authorized = header.is_some_and(|v| v.as_bytes() == key.as_bytes());
        let refusal = if authorized && is_api { world.refuse_next.take() } else { None };
        (authorized, refusal)
    };
    if let Some((status, message)) = refusal {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return nest_error(status, &path, &message);
    }
    match (authorized, is_api) {
        (true, _) => next.run(request).await,
        (false, true) => nest_error(StatusCode::UNAUTHORIZED, &path, "Invalid credentials"),
        (false, false) => {
            daemon_error(StatusCode::UNAUTHORIZED, &path, request.method(), "unauthorized")
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An API error as Daytona's NestJS exception filter writes it.
fn nest_error(status: StatusCode, path: &str, message: &str) -> Response {
    let body = json!({
        "path": path,
        "timestamp": now(),
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

/// A toolbox error as the daemon writes it.
fn daemon_error(status: StatusCode, path: &str, method: &Method, message: &str) -> Response {
    let code = status.canonical_reason().unwrap_or("ERROR").to_uppercase().replace(' ', "_");
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message,
        "code": code,
        "timestamp": now(),
        "path": path,
        "method": method.as_str(),
    });
    (status, Json(body)).into_response()
}

fn host(headers: &HeaderMap) -> String {
    headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned()
}

fn missing_sandbox(id: &str) -> Response {
    nest_error(
        StatusCode::NOT_FOUND,
        &format!("/api/sandbox/{id}"),
        &format!("Sandbox with ID or name {id} not found"),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSandbox {
    name: Option<String>,
    snapshot: Option<String>,
    target: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    auto_stop_interval: Option<u32>,
}

async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<CreateSandbox>,
) -> Response {
    let mut world = world.lock().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let name = body.name.filter(|n| !n.is_empty()).unwrap_or_else(|| id.clone());
    if world.sandboxes.iter().any(|s| s.name == name) {
        let message = format!("Sandbox with name {name} already exists");
        return nest_error(StatusCode::CONFLICT, "/api/sandbox", &message);
    }
    let home = match tempfile::Builder::new().prefix("fake-daytona-").tempdir() {
        Ok(home) => home,
        Err(err) => {
            let message = format!("could not make the sandbox: {err}");
            return nest_error(StatusCode::INTERNAL_SERVER_ERROR, "/api/sandbox", &message);
        }
    };
    let mut sandbox = Sandbox {
        id,
        name,
        labels: body.labels,
        env: body.env,
        auto_stop_interval: body.auto_stop_interval.unwrap_or(15),
        snapshot: body.snapshot.or_else(|| Some("daytonaio/sandbox:0.4.3".into())),
        target: body.target.unwrap_or_else(|| "us".into()),
        state: String::new(),
        error_reason: None,
        created_at: now(),
        updated_at: now(),
        preview_token: uuid::Uuid::new_v4().simple().to_string(),
        pending: None,
        home,
        sessions: HashMap::new(),
        runs: Vec::new(),
    };
    match world.build_failure.clone() {
        Some(reason) => {
            sandbox.head_for("pending_build", "build_failed", world.polls_to_settle);
            sandbox.error_reason = Some(reason);
        }
        None => sandbox.head_for("creating", "started", world.polls_to_settle),
    }
    let body = sandbox.json(&host(&headers), true);
    world.sandboxes.push(sandbox);
    Json(body).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    labels: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let world = world.lock().unwrap();
    let wanted: BTreeMap<String, String> = match query.labels.as_deref() {
        None => BTreeMap::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(labels) => labels,
            Err(_) => {
                let message = "labels must be a JSON object of strings";
                return nest_error(StatusCode::BAD_REQUEST, "/api/sandbox", message);
            }
        },
    };
    let host = host(&headers);
    let matching =
        world.sandboxes.iter().filter(|s| wanted.iter().all(|(k, v)| s.labels.get(k) == Some(v)));
    if world.legacy_list {
        let all: Vec<Value> = matching.map(|s| s.json(&host, true)).collect();
        return Json(all).into_response();
    }

    // The cursor is the id of the last sandbox on the previous page.
    let mut matching = matching.peekable();
    if let Some(cursor) = &query.cursor {
        if !world.sandboxes.iter().any(|s| &s.id == cursor) {
            return nest_error(StatusCode::BAD_REQUEST, "/api/sandbox", "Invalid cursor");
        }
        for sandbox in matching.by_ref() {
            if &sandbox.id == cursor {
                break;
            }
        }
    }
    let size = query.limit.unwrap_or(100).clamp(1, 200).min(world.page_size.max(1));
    let page: Vec<&Sandbox> = matching.by_ref().take(size).collect();
    let next = match matching.peek() {
        Some(_) => page.last().map(|s| Value::from(s.id.clone())).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|s| s.json(&host, false)).collect();
    Json(json!({ "items": items, "nextCursor": next })).into_response()
}

async fn sandbox(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut world = world.lock().unwrap();
    let Some(sandbox) = world.sandbox_mut(&id) else { return missing_sandbox(&id) };
    sandbox.look();
    Json(sandbox.json(&host(&headers), true)).into_response()
}

async fn remove(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut world = world.lock().unwrap();
    let Some(index) = world.sandboxes.iter().position(|s| s.id == id || s.name == id) else {
        return missing_sandbox(&id);
    };
    let mut sandbox = world.sandboxes.remove(index);
    sandbox.set_state("destroying");
    Json(sandbox.json(&host(&headers), true)).into_response()
}

async fn start(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut world = world.lock().unwrap();
    let looks = world.polls_to_settle;
    let Some(sandbox) = world.sandbox_mut(&id) else { return missing_sandbox(&id) };
    match sandbox.state.as_str() {
        "started" | "starting" | "creating" => {}
        "stopped" | "archived" => {
            sandbox.preview_token = uuid::Uuid::new_v4().simple().to_string();
            sandbox.head_for("starting", "started", looks);
        }
        state => {
            let path = format!("/api/sandbox/{id}/start");
            let message = format!("Sandbox is in state {state} and cannot be started");
            return nest_error(StatusCode::BAD_REQUEST, &path, &message);
        }
    }
    Json(sandbox.json(&host(&headers), true)).into_response()
}

async fn stop(State(world): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut world = world.lock().unwrap();
    let looks = world.polls_to_settle;
    let Some(sandbox) = world.sandbox_mut(&id) else { return missing_sandbox(&id) };
    if sandbox.state != "started" {
        let path = format!("/api/sandbox/{id}/stop");
        return nest_error(StatusCode::BAD_REQUEST, &path, "Sandbox is not started");
    }
    sandbox.kill_all();
    sandbox.head_for("stopping", "stopped", looks);
    Json(sandbox.json(&host(&headers), true)).into_response()
}

async fn autostop(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((id, minutes)): Path<(String, String)>,
) -> Response {
    let mut world = world.lock().unwrap();
    let Some(sandbox) = world.sandbox_mut(&id) else { return missing_sandbox(&id) };
    let Ok(minutes) = minutes.parse::<u32>() else {
        let path = format!("/api/sandbox/{id}/autostop/{minutes}");
        return nest_error(StatusCode::BAD_REQUEST, &path, "Invalid auto-stop interval");
    };
    sandbox.auto_stop_interval = minutes;
    Json(sandbox.json(&host(&headers), true)).into_response()
}

async fn preview_url(
    State(world): State<Shared>,
    Path((id, port)): Path<(String, u16)>,
) -> Response {
    let world = world.lock().unwrap();
    let Some(sandbox) = world.sandbox(&id) else { return missing_sandbox(&id) };
    Json(json!({
        "sandboxId": sandbox.id,
        "url": format!("https://{port}-{}.proxy.daytona.work", sandbox.id),
        "token": sandbox.preview_token,
    }))
    .into_response()
}

/// What a toolbox handler needs to know about the request, for its errors.
struct Call {
    path: String,
    method: Method,
}

impl Call {
    fn new(method: &Method, sandbox: &str, rest: &str) -> Self {
        Call { path: format!("/toolbox/{sandbox}{rest}"), method: method.clone() }
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        daemon_error(status, &self.path, &self.method, message)
    }
}

/// The started sandbox a toolbox call is for, or the error the proxy gives.
fn reachable<'a>(world: &'a mut World, id: &str, call: &Call) -> Result<&'a mut Sandbox, Response> {
    let sandbox = world
        .sandbox_mut(id)
        .ok_or_else(|| call.error(StatusCode::NOT_FOUND, &format!("sandbox {id} not found")))?;
    if sandbox.state != "started" {
        let message = format!("sandbox {id} is not running (state: {})", sandbox.state);
        return Err(call.error(StatusCode::BAD_REQUEST, &message));
    }
    Ok(sandbox)
}

/// The host path for a path inside the sandbox.
fn host_path(home: &FsPath, path: &str, call: &Call) -> Result<PathBuf, Response> {
    let relative = match path.strip_prefix(HOME) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        _ if !path.starts_with('/') => path,
        _ => {
            let message = format!("the fake reaches only paths under {HOME}, not {path}");
            return Err(call.error(StatusCode::BAD_REQUEST, &message));
        }
    };
    let mut resolved = home.to_path_buf();
    for part in FsPath::new(relative).components() {
        match part {
            Component::Normal(part) => resolved.push(part),
            Component::ParentDir if resolved != home => drop(resolved.pop()),
            Component::CurDir => {}
            _ => return Err(call.error(StatusCode::BAD_REQUEST, "path leaves the sandbox")),
        }
    }
    Ok(resolved)
}

/// Starts `command` with `bash -c` as a process group of its own, capturing its output.
fn launch(
    sandbox: &mut Sandbox,
    command: &str,
    cwd: &FsPath,
    env: &BTreeMap<String, String>,
) -> std::io::Result<Arc<Run>> {
    let home = sandbox.home().to_string_lossy().into_owned();
    let mut child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(command.replace(HOME, &home))
        .current_dir(cwd)
        .envs(&sandbox.env)
        .envs(env)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let run = Arc::new(Run {
        id: uuid::Uuid::new_v4().to_string(),
        command: command.to_owned(),
        group: child.id().expect("a child that was just spawned has a pid"),
        output: Mutex::new(Output::default()),
        exit: watch::Sender::new(None),
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let readers = {
        let run = run.clone();
        tokio::spawn(async move {
            tokio::join!(capture(&run, stdout, false), capture(&run, stderr, true))
        })
    };
    let watched = run.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        // A process left in the background may hold the pipes open; the command has ended
        // all the same.
        let _ = tokio::time::timeout(Duration::from_secs(2), readers).await;
        let code = match status {
            Ok(status) => status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(9)),
            Err(_) => -1,
        };
        watched.exit.send_replace(Some(code));
    });
    sandbox.runs.push(run.clone());
    Ok(run)
}

async fn capture(run: &Run, mut stream: impl AsyncRead + Unpin, is_stderr: bool) {
    let mut buffer = [0u8; 4096];
    while let Ok(read @ 1..) = stream.read(&mut buffer).await {
        let mut output = run.output.lock().unwrap();
        let chunk = &buffer[..read];
        if is_stderr {
            output.stderr.extend_from_slice(chunk)
        } else {
            output.stdout.extend_from_slice(chunk)
        }
        output.combined.extend_from_slice(chunk);
    }
}

#[derive(Deserialize)]
struct ExecuteRequest {
    command: String,
    cwd: Option<String>,
    #[serde(default)]
    envs: BTreeMap<String, String>,
    timeout: Option<u64>,
}

async fn execute(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<ExecuteRequest>,
) -> Response {
    let call = Call::new(&Method::POST, &id, "/process/execute");
    let run = {
        let mut world = world.lock().unwrap();
        world.commands.push(body.command.clone());
        let sandbox = match reachable(&mut world, &id, &call) {
            Ok(sandbox) => sandbox,
            Err(response) => return response,
        };
        let cwd = match host_path(sandbox.home(), body.cwd.as_deref().unwrap_or(HOME), &call) {
            Ok(cwd) => cwd,
            Err(response) => return response,
        };
        match launch(sandbox, &body.command, &cwd, &body.envs) {
            Ok(run) => run,
            Err(err) => return call.error(StatusCode::BAD_REQUEST, &err.to_string()),
        }
    };
    // The daemon applies a timeout only when one is sent.
    let code = match body.timeout.filter(|t| *t > 0) {
        None => run.finished().await,
        Some(seconds) => {
            match tokio::time::timeout(Duration::from_secs(seconds), run.finished()).await {
                Ok(code) => code,
                Err(_) => {
                    run.kill();
                    return call.error(StatusCode::REQUEST_TIMEOUT, "command execution timeout");
                }
            }
        }
    };
    Json(json!({ "exitCode": code, "result": run.logs().2 })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSession {
    session_id: String,
}

async fn create_session(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<CreateSession>,
) -> Response {
    let call = Call::new(&Method::POST, &id, "/process/session");
    let mut world = world.lock().unwrap();
    let sandbox = match reachable(&mut world, &id, &call) {
        Ok(sandbox) => sandbox,
        Err(response) => return response,
    };
    if sandbox.sessions.contains_key(&body.session_id) {
        return call.error(StatusCode::CONFLICT, "session already exists");
    }
    sandbox.sessions.insert(body.session_id, Vec::new());
    StatusCode::CREATED.into_response()
}

async fn delete_session(
    State(world): State<Shared>,
    Path((id, session)): Path<(String, String)>,
) -> Response {
    let call = Call::new(&Method::DELETE, &id, &format!("/process/session/{session}"));
    let mut world = world.lock().unwrap();
    let sandbox = match reachable(&mut world, &id, &call) {
        Ok(sandbox) => sandbox,
        Err(response) => return response,
    };
    match sandbox.sessions.remove(&session) {
        Some(runs) => {
            runs.iter().for_each(|run| run.kill());
            StatusCode::NO_CONTENT.into_response()
        }
        None => call.error(StatusCode::NOT_FOUND, "session not found"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionExec {
    command: String,
    #[serde(default)]
    run_async: bool,
    /// The older name of `runAsync`.
    #[serde(default, rename = "async")]
    legacy_async: bool,
}

async fn session_exec(
    State(world): State<Shared>,
    Path((id, session)): Path<(String, String)>,
    Json(body): Json<SessionExec>,
) -> Response {
    let call = Call::new(&Method::POST, &id, &format!("/process/session/{session}/exec"));
    let run = {
        let mut world = world.lock().unwrap();
        world.commands.push(body.command.clone());
        let sandbox = match reachable(&mut world, &id, &call) {
            Ok(sandbox) => sandbox,
            Err(response) => return response,
        };
        if !sandbox.sessions.contains_key(&session) {
            return call.error(StatusCode::NOT_FOUND, "session not found");
        }
        let home = sandbox.home().to_path_buf();
        let run = match launch(sandbox, &body.command, &home, &BTreeMap::new()) {
            Ok(run) => run,
            Err(err) => return call.error(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        sandbox.sessions.get_mut(&session).expect("checked above").push(run.clone());
        run
    };
    if body.run_async || body.legacy_async {
        return (StatusCode::ACCEPTED, Json(json!({ "cmdId": run.id }))).into_response();
    }
    let code = run.finished().await;
    let (stdout, stderr, output) = run.logs();
    Json(json!({
        "cmdId": run.id,
        "output": output,
        "stdout": stdout,
        "stderr": stderr,
        "exitCode": code,
    }))
    .into_response()
}

/// A command of a session in a started sandbox.
fn find_run(
    world: &mut World,
    id: &str,
    session: &str,
    command: &str,
    call: &Call,
) -> Result<Arc<Run>, Response> {
    let sandbox = reachable(world, id, call)?;
    let runs = sandbox
        .sessions
        .get(session)
        .ok_or_else(|| call.error(StatusCode::NOT_FOUND, "session not found"))?;
    let run = runs.iter().find(|run| run.id == command);
    run.cloned().ok_or_else(|| call.error(StatusCode::NOT_FOUND, "command not found"))
}

async fn command(
    State(world): State<Shared>,
    Path((id, session, command)): Path<(String, String, String)>,
) -> Response {
    let call =
        Call::new(&Method::GET, &id, &format!("/process/session/{session}/command/{command}"));
    let mut world = world.lock().unwrap();
    let run = match find_run(&mut world, &id, &session, &command, &call) {
        Ok(run) => run,
        Err(response) => return response,
    };
    let exit = *run.exit.borrow();
    Json(json!({ "id": run.id, "command": run.command, "exitCode": exit })).into_response()
}

async fn command_logs(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((id, session, command)): Path<(String, String, String)>,
) -> Response {
    let path = format!("/process/session/{session}/command/{command}/logs");
    let call = Call::new(&Method::GET, &id, &path);
    let run = {
        let mut world = world.lock().unwrap();
        match find_run(&mut world, &id, &session, &command, &call) {
            Ok(run) => run,
            Err(response) => return response,
        }
    };
    let (stdout, stderr, output) = run.logs();
    let version = headers.get("x-daytona-sdk-version").and_then(|v| v.to_str().ok());
    if version.and_then(parse_version).is_some_and(|v| v >= JSON_LOGS_SINCE) {
        Json(json!({ "output": output, "stdout": stdout, "stderr": stderr })).into_response()
    } else {
        output.into_response()
    }
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim_start_matches('v').splitn(3, '.');
    let mut next = || parts.next()?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok();
    Some((next()?, next()?, next()?))
}

#[derive(Deserialize)]
struct FileQuery {
    path: String,
    mode: Option<String>,
    #[serde(default)]
    recursive: bool,
}

/// The host path a files call is about, in a started sandbox.
fn file_path(world: &Shared, id: &str, path: &str, call: &Call) -> Result<PathBuf, Response> {
    let mut world = world.lock().unwrap();
    let sandbox = reachable(&mut world, id, call)?;
    host_path(sandbox.home(), path, call)
}

async fn download(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
) -> Response {
    let call = Call::new(&Method::GET, &id, "/files/download");
    let path = match file_path(&world, &id, &query.path, &call) {
        Ok(path) => path,
        Err(response) => return response,
    };
    if path.is_dir() {
        return call.error(StatusCode::BAD_REQUEST, "path is a directory");
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], Bytes::from(bytes))
            .into_response(),
        Err(_) => call.error(StatusCode::NOT_FOUND, "file not found"),
    }
}

async fn upload(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
    mut form: Multipart,
) -> Response {
    let call = Call::new(&Method::POST, &id, "/files/upload");
    let path = match file_path(&world, &id, &query.path, &call) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let mut contents = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            match field.bytes().await {
                Ok(bytes) => contents = Some(bytes),
                Err(err) => return call.error(StatusCode::BAD_REQUEST, &err.to_string()),
            }
        }
    }
    let Some(contents) = contents else {
        return call.error(StatusCode::BAD_REQUEST, "file is required");
    };
    if !path.parent().is_some_and(FsPath::is_dir) {
        return call.error(StatusCode::BAD_REQUEST, "the parent directory does not exist");
    }
    match tokio::fs::write(&path, contents).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => call.error(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}

async fn create_folder(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
) -> Response {
    let call = Call::new(&Method::POST, &id, "/files/folder");
    let path = match file_path(&world, &id, &query.path, &call) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let Ok(mode) = u32::from_str_radix(query.mode.as_deref().unwrap_or("755"), 8) else {
        return call.error(StatusCode::BAD_REQUEST, "invalid mode");
    };
    let made = std::fs::create_dir_all(&path)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)));
    match made {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(err) => call.error(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}

async fn delete_file(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<FileQuery>,
) -> Response {
    let call = Call::new(&Method::DELETE, &id, "/files");
    let path = match file_path(&world, &id, &query.path, &call) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let removed = match (path.is_dir(), query.recursive) {
        (true, true) => std::fs::remove_dir_all(&path),
        (true, false) => std::fs::remove_dir(&path),
        (false, _) => std::fs::remove_file(&path),
    };
    match removed {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            call.error(StatusCode::NOT_FOUND, "file not found")
        }
        Err(err) => call.error(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}
