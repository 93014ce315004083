//! Drives many agent runs at once through the real run engine and event streams, and
//! reports what the browsers following them see: events per second, the latency from the
//! agent's output line to the browser (p50 and p99), the server's memory, and database
//! writes per event.
//!
//! Everything is real but the agent's thinking: the release server binary on a fresh
//! SQLite database, a git repository on disk, a local (bubblewrap) sandbox per branch, and
//! one server-sent event stream per branch read over HTTP. The agent is `synthetic-agent`
//! (`server/fakes`), planted where the server looks for Claude Code: the engine starts it
//! as it starts Claude Code, and it prints Claude Code's stream-json at a set rate, each
//! text holding the time it was written.
//!
//! Build the two binaries, then run it; the defaults are the targets' conditions:
//!
//! ```text
//! cargo build --release -p upstream --bin upstream -p upstream-fakes --bin synthetic-agent
//! BENCH_RUNS=500 BENCH_EVENTS=1000 BENCH_RATE=100 cargo bench -p upstream --bench runs
//! ```
//!
//! `BENCH_RUNS` runs (one per branch) each emit `BENCH_EVENTS` texts at `BENCH_RATE` per
//! second, all starting together `BENCH_LEAD_MS` after the prompts are sent (by default 3 s
//! and 20 ms per run, time for the engine to start every agent). `BENCH_SERVER` names
//! another server binary to measure, such as a build with frame pointers for a profiler;
//! `BENCH_KEEP=1` keeps its data directory (database, sandboxes, run logs) and log.
//! Preparing the sandboxes, a clone each, is set-up and not measured. The benchmark's
//! clients, the agents and the server share the machine, as they would not in production;
//! the report says how much of the processor each took.
//!
//! Targets on a 2-core machine with SQLite at 500 runs: p99 under 50 ms, at least 50,000
//! events per second in total.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

const BUILD: &str =
    "cargo build --release -p upstream --bin upstream -p upstream-fakes --bin synthetic-agent";
const P99_TARGET_MS: f64 = 50.0;
const THROUGHPUT_TARGET: f64 = 50_000.0;
/// Branches created at once.
const SETUP_PARALLELISM: usize = 8;
/// Sandboxes prepared at once: each is a clone, and set-up is not what is measured.
const SANDBOX_PARALLELISM: usize = 3;
/// Prompts in flight at once.
const PROMPT_PARALLELISM: usize = 16;
/// How long the last event may come after the agents' nominal end before the benchmark
/// gives up on it.
const GRACE: Duration = Duration::from_secs(120);

/// What to measure, from the environment.
struct Settings {
    runs: usize,
    events: u64,
    rate: u64,
    /// From sending the prompts to the agents' first text.
    lead: Duration,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let runs = number("BENCH_RUNS", 500)?;
        let settings = Settings {
            runs: runs as usize,
            events: number("BENCH_EVENTS", 1000)?,
            rate: number("BENCH_RATE", 100)?,
            lead: Duration::from_millis(number("BENCH_LEAD_MS", 3000 + 20 * runs)?),
        };
        ensure!(settings.runs > 0 && settings.events > 0 && settings.rate > 0, "all must be > 0");
        Ok(settings)
    }

    /// How long each agent emits.
    fn emitting(&self) -> Duration {
        Duration::from_secs_f64(self.events as f64 / self.rate as f64)
    }
}

fn number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text.trim().parse().with_context(|| format!("{name} is not a whole number")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let server_binary = match std::env::var_os("BENCH_SERVER") {
        Some(path) => PathBuf::from(path),
        None => release_binary("upstream")?,
    };
    let agent_binary = release_binary("synthetic-agent")?;
    raise_open_files_limit();

    let mut work = tempfile::tempdir()?;
    if std::env::var_os("BENCH_KEEP").is_some() {
        work.disable_cleanup(true);
        println!("keeping the server's data and log in {}", work.path().display());
    }
    plant_agent(&work.path().join("tools"), &agent_binary)?;
    let remote = bare_repository(work.path())?;
    let server = Server::start(&server_binary, work.path()).await?;
    let outcome = measure(&server, &settings, &remote).await;
    let problems = server.logged_problems();
    if let Err(e) = &outcome {
        eprintln!("{e:#}");
    }
    if outcome.is_err() || outcome.as_ref().is_ok_and(|o| !o.all_completed()) {
        eprintln!("the server logged:");
        for (count, problem) in problems.iter().take(12) {
            eprintln!("  {count:>6} × {problem}");
        }
    }
    report(&settings, &outcome?);
    Ok(())
}

fn release_binary(name: &str) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent");
    let path = root.join("target/release").join(name);
    ensure!(path.exists(), "no release build of {name}: run `{BUILD}` first");
    Ok(path)
}

/// Every run holds two pipes and a stream holds a socket, in the server and here; the
/// server inherits the raised limit.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: both calls only read or write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Puts the synthetic agent where the server finds Claude Code's CLI, so that it is taken
/// as installed and started in its place.
fn plant_agent(tools: &Path, binary: &Path) -> anyhow::Result<()> {
    let program = PathBuf::from(agents::Agent::ClaudeCode.program(&tools.display().to_string()));
    std::fs::create_dir_all(program.parent().expect("the program is in a directory"))?;
    std::fs::copy(binary, &program).context("planting the synthetic agent")?;
    Ok(())
}

/// A bare repository in `dir` with one commit on `main`.
fn bare_repository(dir: &Path) -> anyhow::Result<String> {
    let work = dir.join("widgets-work");
    let bare = dir.join("widgets.git");
    std::fs::create_dir_all(&work)?;
    std::fs::write(work.join("README.md"), "hello\n")?;
    let steps: [&[&str]; 4] = [
        &["init", "-q", "-b", "main"],
        &["add", "."],
        &["commit", "-q", "-m", "first"],
        &["clone", "-q", "--bare", ".", bare.to_str().context("a UTF-8 temporary path")?],
    ];
    for args in steps {
        let status = Command::new("git")
            .args(args)
            .current_dir(&work)
            .env("GIT_AUTHOR_NAME", "Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.com")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.com")
            .status()?;
        ensure!(status.success(), "git {args:?} failed");
    }
    Ok(bare.display().to_string())
}

/// The release server on its own port, data directory and SQLite database.
struct Server {
    child: Child,
    database_url: String,
    log: PathBuf,
    client: Client,
}

/// A browser of the server, signed in as its local user the way a browser is: by the
/// cookie of the first answer.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    url: String,
    cookie: String,
}

impl Server {
    async fn start(binary: &Path, work: &Path) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let data = work.join("data");
        let log = work.join("server.log");
        let output = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", work)
            .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", &data)
            .env("ENCRYPTION_KEY", "42".repeat(32))
            .env("AGENT_TOOLS_DIR", work.join("tools"))
            .env("RUST_LOG", "warn")
            // No `.env` of a developer's is read from here.
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .context("starting the server")?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build()?;
        let client =
            Client { http, url: format!("http://127.0.0.1:{port}"), cookie: String::new() };
        let database_url = format!("sqlite://{}?mode=rw", data.join("upstream.db").display());
        let mut server = Server { child, database_url, log, client };
        server.client.sign_in().await?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn call(&self, name: &str, args: Value) -> anyhow::Result<Value> {
        self.client.call(name, args).await
    }

    async fn form(&self, name: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
        self.client.form(name, fields).await
    }

    /// The engine's counters of stored events and the transactions that stored them.
    async fn stored(&self) -> anyhow::Result<Stored> {
        let url = format!("{}/metrics", self.client.url);
        let text = self.client.http.get(url).send().await?.text().await?;
        let counter = |name: &str| -> anyhow::Result<u64> {
            let line = text.lines().find_map(|l| l.strip_prefix(name));
            let value = line.and_then(|v| v.trim().parse().ok());
            value.with_context(|| format!("/metrics has no {name}"))
        };
        Ok(Stored {
            events: counter("upstream_run_events_stored_total ")?,
            batches: counter("upstream_run_event_batches_total ")?,
        })
    }

    /// The distinct errors and warnings the server logged, each with how often, the most
    /// frequent first.
    fn logged_problems(&self) -> Vec<(usize, String)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut seen: Vec<(usize, String)> = Vec::new();
        for line in text.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")) {
            let problem = problem_of(line);
            match seen.iter_mut().find(|(_, p)| *p == problem) {
                Some((count, _)) => *count += 1,
                None => seen.push((1, problem)),
            }
        }
        seen.sort_by_key(|(count, _)| std::cmp::Reverse(*count));
        seen
    }
}

/// A log line without its colours, its time stamp and its numbers, which differ on every
/// line of the same problem.
fn problem_of(line: &str) -> String {
    let mut plain = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An ANSI colour: ESC [ … m.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else if c.is_ascii_digit() {
            while chars.next_if(|c| c.is_ascii_digit() || *c == '.').is_some() {}
            plain.push('#');
        } else {
            plain.push(c);
        }
    }
    let message = plain.split_once(' ').map_or(plain.as_str(), |(_, rest)| rest);
    message.trim().to_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    async fn sign_in(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.http.get(format!("{}/healthz", self.url)).send().await;
            if let Ok(answer) = answer.as_ref().map(|a| a.headers().get("set-cookie").cloned()) {
                let cookie = answer.context("the local server signs in without a cookie")?;
                let cookie = cookie.to_str()?.split(';').next().unwrap_or_default();
                self.cookie = cookie.to_owned();
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the server did not come up within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Calls a server function with JSON arguments, as the app does.
    async fn call(&self, name: &str, args: Value) -> anyhow::Result<Value> {
        let answer = self
            .http
            .post(format!("{}/api/{name}", self.url))
            .header("cookie", &self.cookie)
            .json(&args)
            .send()
            .await?;
        let status = answer.status();
        let text = answer.text().await?;
        ensure!(status.is_success(), "{name} failed ({status}): {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// Posts a form to a server function, as the settings page does.
    async fn form(&self, name: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
        let body: String =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let answer = self
            .http
            .post(format!("{}/api/{name}", self.url))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        let status = answer.status();
        ensure!(status.is_success(), "{name} failed ({status}): {}", answer.text().await?);
        Ok(())
    }

    /// Opens a branch's event stream, after `last_event_id` when reconnecting.
    async fn open_events(
        &self,
        branch_id: i64,
        last_event_id: Option<i64>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/streams/branches/{branch_id}/events", self.url);
        let mut request = self.http.get(url).header("cookie", &self.cookie);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let answer = request.send().await?;
        ensure!(answer.status().is_success(), "the event stream answered {}", answer.status());
        Ok(answer)
    }
}

#[derive(Clone, Copy, Debug)]
struct Stored {
    events: u64,
    batches: u64,
}

/// Everything measured, for the report.
struct Outcome {
    setup: Duration,
    start_at: u64,
    followed: Vec<Followed>,
    stored: Stored,
    memory: Memory,
    cpu: CpuShare,
    /// When the engine began storing each text, by the time the agent wrote it.
    storing: HashMap<u64, u64>,
}

impl Outcome {
    fn all_completed(&self) -> bool {
        self.followed.iter().all(|f| f.status.as_deref() == Some("completed"))
    }
}

async fn measure(server: &Server, settings: &Settings, remote: &str) -> anyhow::Result<Outcome> {
    let began = Instant::now();
    let (repository_id, branches) = prepare(server, settings, remote).await?;
    let setup = began.elapsed();
    println!("prepared {} branches with their sandboxes in {setup:.1?}", branches.len());
    let prepared_kb = resident_kb(server.pid(), "VmRSS:")?;

    // Every browser follows its branch before anything happens on it.
    let streams: Vec<reqwest::Response> = futures::stream::iter(&branches)
        .map(|id| server.client.open_events(*id, None))
        .buffered(PROMPT_PARALLELISM)
        .try_collect()
        .await?;
    let before = server.stored().await?;
    let idle_kb = resident_kb(server.pid(), "VmRSS:")?;

    let start_at = now_nanos() + settings.lead.as_nanos() as u64;
    set_env(server, repository_id, "SYNTHETIC_START_AT", start_at).await?;
    let deadline = Instant::now() + settings.lead + settings.emitting() + GRACE;
    let readers: Vec<_> = streams
        .into_iter()
        .zip(&branches)
        .map(|(stream, id)| tokio::spawn(follow(server.client.clone(), *id, stream, deadline)))
        .collect();
    let sampled = Arc::new(Mutex::new(Sampled { peak_kb: idle_kb, ..Default::default() }));
    let sampler = tokio::spawn(sample(server.pid(), start_at, sampled.clone()));

    send_prompts(server, &branches).await?;
    tokio::time::sleep(Duration::from_nanos(start_at.saturating_sub(now_nanos()))).await;
    let cpu_before = Cpu::now(server.pid())?;
    let mut followed = Vec::with_capacity(readers.len());
    for reader in readers {
        followed.push(reader.await?);
    }
    sampler.abort();
    let (peak_kb, sandbox_seconds) = {
        let sampled = sampled.lock().expect("sampler lock");
        (sampled.peak_kb, sampled.sandbox_seconds())
    };
    let cpu = Cpu::now(server.pid())?.since(&cpu_before, sandbox_seconds);

    let after = server.stored().await?;
    let stored =
        Stored { events: after.events - before.events, batches: after.batches - before.batches };
    let memory = Memory {
        prepared_kb,
        idle_kb,
        peak_kb,
        high_water_kb: resident_kb(server.pid(), "VmHWM:")?,
    };
    let storing = storing_times(&server.database_url).await?;
    Ok(Outcome { setup, start_at, followed, stored, memory, cpu, storing })
}

/// When the engine began storing each text event, by the time the agent wrote it: the
/// engine stamps each batch with the time it begins storing it. This splits the latency
/// into the way to the engine and the way from the engine to the browser.
async fn storing_times(database_url: &str) -> anyhow::Result<HashMap<u64, u64>> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = sea_orm::Database::connect(database_url).await?;
    let sql = "SELECT payload, created_at FROM run_events WHERE kind = 'text'";
    let rows = db.query_all(Statement::from_string(DbBackend::Sqlite, sql)).await?;
    let mut storing = HashMap::with_capacity(rows.len());
    for row in rows {
        let payload: Value = row.try_get("", "payload")?;
        let at: chrono::DateTime<chrono::Utc> = row.try_get("", "created_at")?;
        let sent = payload["text"].as_str().and_then(|t| t.strip_prefix("t=")?.parse().ok());
        if let (Some(sent), Some(at)) = (sent, at.timestamp_nanos_opt()) {
            storing.insert(sent, at as u64);
        }
    }
    db.close().await?;
    Ok(storing)
}

/// A repository, the agent key, the agent's settings, a quota that holds every sandbox,
/// and the branches with their sandboxes ready. Returns the repository's id and the
/// branches' ids.
async fn prepare(
    server: &Server,
    settings: &Settings,
    remote: &str,
) -> anyhow::Result<(i64, Vec<i64>)> {
    let repository = server.call("add_git_repository", json!({ "url": remote })).await?;
    let repository_id = repository["id"].as_i64().context("the repository's id")?;
    server.form("set_agent_key", &[("kind", "anthropic"), ("value", "sk-synthetic")]).await?;
    set_env(server, repository_id, "SYNTHETIC_EVENTS", settings.events).await?;
    set_env(server, repository_id, "SYNTHETIC_RATE", settings.rate).await?;
    raise_quota(&server.database_url, settings.runs).await?;

    let branches: Vec<i64> = futures::stream::iter(0..settings.runs)
        .map(|index| create_branch(server, repository_id, index))
        .buffered(SETUP_PARALLELISM)
        .try_collect()
        .await?;
    futures::stream::iter(&branches)
        .map(|id| ready_sandbox(server, *id))
        .buffer_unordered(SANDBOX_PARALLELISM)
        .try_collect::<Vec<()>>()
        .await?;
    Ok((repository_id, branches))
}

/// The repository's sandbox environment reaches every command in its sandboxes, the agent
/// included: the synthetic agent reads its settings there.
async fn set_env(
    server: &Server,
    repository_id: i64,
    name: &str,
    value: u64,
) -> anyhow::Result<()> {
    let (id, value) = (repository_id.to_string(), value.to_string());
    server
        .form("set_repository_env", &[("repository_id", &id), ("name", name), ("value", &value)])
        .await
}

/// Lets the local user hold a sandbox per run. No setting goes past 100 sandboxes a user,
/// so this is done as an operator would: in the database.
async fn raise_quota(database_url: &str, runs: usize) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(database_url).await?;
    let sql = format!("UPDATE users SET sandbox_quota = {runs} WHERE login = 'local'");
    let changed = db.execute_unprepared(&sql).await?.rows_affected();
    ensure!(changed == 1, "the local user was not found");
    db.close().await?;
    Ok(())
}

async fn create_branch(server: &Server, repository_id: i64, index: usize) -> anyhow::Result<i64> {
    let branch = server
        .call(
            "create_branch",
            json!({
                "repository_id": repository_id, "name": format!("bench-{index}"),
                "base_branch": "main", "agent": "claude-code", "model": "sonnet"
            }),
        )
        .await?;
    branch["id"].as_i64().context("the branch's id")
}

/// Starts the branch's sandbox and waits until it is ready, so that no run waits for a
/// clone.
async fn ready_sandbox(server: &Server, branch_id: i64) -> anyhow::Result<()> {
    let args = json!({ "branch_id": branch_id, "action": "start" });
    server.call("change_sandbox", args).await?;
    loop {
        let view = server.call("get_sandbox", json!({ "branch_id": branch_id })).await?;
        match view["state"].as_str() {
            Some("running") => return Ok(()),
            Some("creating") => tokio::time::sleep(Duration::from_millis(200)).await,
            state => bail!("the sandbox of branch {branch_id} is {state:?}: {}", view["error"]),
        }
    }
}

async fn send_prompts(server: &Server, branches: &[i64]) -> anyhow::Result<()> {
    futures::stream::iter(branches)
        .map(|id| {
            let args = json!({
                "branch_id": id, "prompt": "Emit.", "agent": "claude-code", "model": "sonnet"
            });
            server.call("send_prompt", args)
        })
        .buffer_unordered(PROMPT_PARALLELISM)
        .try_collect::<Vec<Value>>()
        .await?;
    Ok(())
}

/// One text event as its browser got it: when the agent wrote it and when it arrived, in
/// nanoseconds since the epoch.
#[derive(Clone, Copy)]
struct Sample {
    sent: u64,
    received: u64,
}

/// What one browser saw of its branch's run.
#[derive(Default)]
struct Followed {
    samples: Vec<Sample>,
    /// When the agent's session was announced: the agent had started.
    started: Option<u64>,
    status: Option<String>,
    error: Option<String>,
    /// The id of the last event, from which a reconnecting stream goes on.
    last_id: Option<i64>,
    reconnections: u32,
    timed_out: bool,
}

#[derive(Deserialize)]
struct Frame {
    event: Payload,
}

#[derive(Deserialize)]
struct Payload {
    kind: String,
    text: Option<String>,
    status: Option<String>,
    error: Option<String>,
}

/// How long a browser waits before it reconnects a stream that ended.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Reads a branch's event stream until its run finishes, timing each text on arrival. A
/// stream that ends before is opened again after the last event seen, as a browser's
/// `EventSource` does.
async fn follow(
    client: Client,
    branch_id: i64,
    mut stream: reqwest::Response,
    deadline: Instant,
) -> Followed {
    let mut followed = Followed::default();
    loop {
        match read_stream(&mut followed, stream, deadline).await {
            Ended::Finished => return followed,
            Ended::TimedOut => {
                followed.timed_out = true;
                return followed;
            }
            Ended::Closed => followed.reconnections += 1,
        }
        stream = loop {
            tokio::time::sleep(RECONNECT_AFTER).await;
            if Instant::now() >= deadline {
                followed.timed_out = true;
                return followed;
            }
            if let Ok(stream) = client.open_events(branch_id, followed.last_id).await {
                break stream;
            }
        };
    }
}

enum Ended {
    Finished,
    Closed,
    TimedOut,
}

async fn read_stream(
    followed: &mut Followed,
    mut stream: reqwest::Response,
    deadline: Instant,
) -> Ended {
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(_) => return Ended::Closed,
            Err(_) => return Ended::TimedOut,
        };
        let received = now_nanos();
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = pending.drain(..end + 2).collect();
            if followed.read(&String::from_utf8_lossy(&block), received) {
                return Ended::Finished;
            }
        }
    }
}

impl Followed {
    /// Takes in one server-sent event; true when it ends the run.
    fn read(&mut self, block: &str, received: u64) -> bool {
        let mut is_run = false;
        let mut data = None;
        for line in block.lines() {
            if let Some(name) = line.strip_prefix("event:") {
                is_run = name.trim() == "run";
            } else if let Some(id) = line.strip_prefix("id:") {
                self.last_id = id.trim().parse().ok().or(self.last_id);
            } else if let Some(value) = line.strip_prefix("data:") {
                data = Some(value.trim_start());
            }
        }
        let frame = match data.filter(|_| is_run).map(serde_json::from_str::<Frame>) {
            Some(Ok(frame)) => frame.event,
            _ => return false,
        };
        match frame.kind.as_str() {
            "session" => self.started = Some(received),
            "text" => {
                let sent = frame.text.as_deref().and_then(|t| t.strip_prefix("t=")?.parse().ok());
                if let Some(sent) = sent {
                    self.samples.push(Sample { sent, received });
                }
            }
            "run_finished" => {
                self.status = frame.status;
                self.error = frame.error;
                return true;
            }
            _ => {}
        }
        false
    }
}

struct Memory {
    /// After the set-up, before the streams.
    prepared_kb: u64,
    /// With every stream open, before the runs.
    idle_kb: u64,
    /// The most seen while the runs went on, sampled.
    peak_kb: u64,
    /// The most the kernel saw over the server's life.
    high_water_kb: u64,
}

/// What was seen of the server and the sandboxes while the runs went on.
#[derive(Default)]
struct Sampled {
    peak_kb: u64,
    /// The processor time of each agent and its `tee`, when first and last seen, in
    /// nanoseconds.
    sandboxes: HashMap<String, (u64, u64)>,
}

impl Sampled {
    fn sandbox_seconds(&self) -> f64 {
        let nanos: u64 =
            self.sandboxes.values().map(|(first, last)| last.saturating_sub(*first)).sum();
        nanos as f64 / 1e9
    }
}

/// Samples the server's memory, and from the agents' start the processor time of the
/// processes that carry each line in its sandbox: the agent and `tee`. They are sampled
/// while they live because bubblewrap's init does not pass its children's time up to the
/// server; what each does after its last sample is missed.
async fn sample(pid: u32, start_at: u64, sampled: Arc<Mutex<Sampled>>) {
    // Looking through every process costs more than reading the known ones.
    const RESCAN: u64 = 4;
    for round in 0u64.. {
        let rss = resident_kb(pid, "VmRSS:");
        let emitting = now_nanos() >= start_at;
        {
            let mut sampled = sampled.lock().expect("sampler lock");
            if let Ok(kb) = rss {
                sampled.peak_kb = sampled.peak_kb.max(kb);
            }
            if emitting && (sampled.sandboxes.is_empty() || round % RESCAN == 0) {
                // Agents that started late were not there at the first look: they count
                // from when they are found.
                for pid in line_carriers() {
                    if let Ok(nanos) = run_time(&pid) {
                        sampled.sandboxes.entry(pid).or_insert((nanos, nanos));
                    }
                }
            }
            for (pid, (_, last)) in sampled.sandboxes.iter_mut() {
                // A pid taken over by a newer process must not lower what the old one used.
                if let Ok(nanos) = run_time(pid) {
                    *last = (*last).max(nanos);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The processes of the sandboxes that handle every line: the agents (planted as Claude
/// Code's `claude`) and the `tee` that logs their output.
fn line_carriers() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            matches!(comm.trim(), "claude" | "tee")
                && environ.split(|b| *b == 0).any(|var| var.starts_with(b"UPSTREAM_SANDBOX="))
        })
        .collect()
}

fn resident_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let value = status.lines().find_map(|l| l.strip_prefix(field));
    let kb = value.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    kb.with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Processor time so far, in clock ticks: the machine's busy and total, the server's and
/// this benchmark's own.
struct Cpu {
    busy: u64,
    total: u64,
    server: u64,
    bench: u64,
    at: Instant,
}

/// Processor use over a span, in cores.
struct CpuShare {
    machine: f64,
    cores: f64,
    server: f64,
    sandboxes: f64,
    bench: f64,
}

impl Cpu {
    fn now(server: u32) -> anyhow::Result<Cpu> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("cpu "))
            .context("no cpu line in /proc/stat")?
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        Ok(Cpu {
            busy: total - idle,
            total,
            server: process_ticks(&server.to_string())?,
            bench: process_ticks("self")?,
            at: Instant::now(),
        })
    }

    /// The share of each over the span since `before`; `sandboxes` is what the sandboxes
    /// took meanwhile, in seconds.
    fn since(&self, before: &Cpu, sandboxes: f64) -> CpuShare {
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let seconds = (self.at - before.at).as_secs_f64().max(1e-9);
        let cores = |ticks: u64| ticks as f64 / hz / seconds;
        CpuShare {
            machine: cores(self.busy - before.busy),
            cores: cores(self.total - before.total),
            server: cores(self.server - before.server),
            sandboxes: sandboxes / seconds,
            bench: cores(self.bench - before.bench),
        }
    }
}

/// How long a single-threaded process has run, in nanoseconds. Its clock ticks would be
/// too coarse: an agent runs for microseconds at a time.
fn run_time(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
    let nanos = stat.split_whitespace().next().and_then(|n| n.parse().ok());
    nanos.context("an empty /proc schedstat")
}

/// User and system time of a process, in clock ticks.
fn process_ticks(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')').context("a /proc stat")?.1.split(' ').collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are the 14th and 15th fields; index 0 here is the blank after `)`.
    Ok(field(12) + field(13))
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn report(settings: &Settings, outcome: &Outcome) {
    let offered = settings.runs as f64 * settings.rate as f64;
    let expected = settings.runs as u64 * settings.events;
    let mut samples: Vec<Sample> =
        outcome.followed.iter().flat_map(|f| f.samples.iter().copied()).collect();
    let mut latencies: Vec<u64> =
        samples.iter().map(|s| s.received.saturating_sub(s.sent)).collect();
    latencies.sort_unstable();
    samples.sort_unstable_by_key(|s| s.received);

    println!();
    println!(
        "{} runs × {} events at {}/s each (offered {} events/s); set-up {:.0?}, not measured",
        settings.runs,
        settings.events,
        settings.rate,
        thousands(offered),
        outcome.setup
    );
    line("events delivered", format!("{} of {}", samples.len(), expected));
    let (steady, whole) = throughput(&samples, outcome.start_at, settings.emitting());
    line_target("events per second, steady", steady, "", THROUGHPUT_TARGET, true);
    line("events per second, first to last", thousands(whole));
    let ms = |p: f64| percentile(&latencies, p) as f64 / 1e6;
    line("latency p50", format!("{:.1} ms", ms(0.50)));
    line_target("latency p99", ms(0.99), " ms", P99_TARGET_MS, false);
    line("latency max", format!("{:.1} ms", ms(1.0)));
    report_split(&samples, &outcome.storing);
    let memory = &outcome.memory;
    line(
        "server memory (resident)",
        format!(
            "{:.0} MB after set-up, {:.0} MB with the streams open, {:.0} MB at most during \
             the runs (high water {:.0} MB)",
            memory.prepared_kb as f64 / 1024.0,
            memory.idle_kb as f64 / 1024.0,
            memory.peak_kb as f64 / 1024.0,
            memory.high_water_kb as f64 / 1024.0
        ),
    );
    let stored = outcome.stored;
    line(
        "database writes per event",
        format!(
            "{:.3} ({} transactions stored {} events)",
            stored.batches as f64 / stored.events.max(1) as f64,
            stored.batches,
            stored.events
        ),
    );
    let cpu = &outcome.cpu;
    let rest = cpu.machine - cpu.server - cpu.sandboxes - cpu.bench;
    line(
        "processor while emitting, in cores",
        format!(
            "{:.2} busy of {:.0}: server {:.2}, sandboxes {:.2} (agents and tee, sampled), \
             benchmark clients {:.2}, anything else {:.2}",
            cpu.machine,
            cpu.cores,
            cpu.server,
            cpu.sandboxes,
            cpu.bench,
            rest.max(0.0)
        ),
    );
    report_runs(outcome, settings.events);
}

/// Events per second while every agent was emitting (leaving out a second at each end,
/// where runs start and finish), and over the whole span from the agents' start to the
/// last arrival.
fn throughput(samples: &[Sample], start_at: u64, emitting: Duration) -> (f64, f64) {
    let emitting = emitting.as_nanos() as u64;
    let margin = (emitting / 4).min(1_000_000_000);
    let (from, to) = (start_at + margin, start_at + emitting - margin);
    let within = samples.iter().filter(|s| (from..to).contains(&s.received)).count();
    let steady = within as f64 / ((to - from) as f64 / 1e9);
    let last = samples.last().map_or(start_at, |s| s.received);
    let whole = samples.len() as f64 / (last.saturating_sub(start_at).max(1) as f64 / 1e9);
    (steady, whole)
}

/// The latency in two parts: from the agent's line to the engine beginning to store it
/// (the pipe, the parser, and the run's previous batch still being stored), and from there
/// to the browser (the database, the hub, the stream).
fn report_split(samples: &[Sample], storing: &HashMap<u64, u64>) {
    let (mut before, mut after): (Vec<u64>, Vec<u64>) = samples
        .iter()
        .filter_map(|s| {
            let at = *storing.get(&s.sent)?;
            Some((at.saturating_sub(s.sent), s.received.saturating_sub(at)))
        })
        .unzip();
    before.sort_unstable();
    after.sort_unstable();
    let part = |sorted: &[u64]| {
        let ms = |p: f64| percentile(sorted, p) as f64 / 1e6;
        format!("p50 {:.1} ms, p99 {:.1} ms", ms(0.5), ms(0.99))
    };
    line("  agent → engine begins storing", part(&before));
    line("  engine begins storing → browser", part(&after));
}

fn report_runs(outcome: &Outcome, events: u64) {
    let followed = &outcome.followed;
    let completed = followed.iter().filter(|f| f.status.as_deref() == Some("completed")).count();
    let late = followed.iter().filter(|f| f.started.is_none_or(|t| t > outcome.start_at)).count();
    let timed_out = followed.iter().filter(|f| f.timed_out).count();
    let reconnections: u32 = followed.iter().map(|f| f.reconnections).sum();
    line("runs completed", format!("{completed} of {}", followed.len()));
    let short: Vec<usize> =
        followed.iter().map(|f| f.samples.len()).filter(|got| (*got as u64) < events).collect();
    if !short.is_empty() {
        let lost: u64 = short.iter().map(|got| events - *got as u64).sum();
        println!(
            "  {} runs reached their browser with fewer texts than their agent wrote: {lost} \
             texts lost, the fewest a run delivered {}",
            short.len(),
            short.iter().min().expect("not empty")
        );
    }
    if late > 0 {
        println!(
            "  {late} agents started after the common start, so the runs did not all overlap; \
             give them more time with BENCH_LEAD_MS"
        );
    }
    if reconnections > 0 {
        let streams = followed.iter().filter(|f| f.reconnections > 0).count();
        println!(
            "  the server ended {streams} streams early; they reconnected {reconnections} times"
        );
    }
    if timed_out > 0 {
        println!("  {timed_out} streams gave up waiting for their run's end");
    }
    if let Some(failed) = followed.iter().find(|f| f.status.as_deref() != Some("completed")) {
        println!("  a run that did not complete: {:?} {:?}", failed.status, failed.error);
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn line(what: &str, value: impl std::fmt::Display) {
    println!("{what:<36} {value}");
}

fn line_target(what: &str, value: f64, unit: &str, target: f64, at_least: bool) {
    let met = if at_least { value >= target } else { value < target };
    let (shown, bound) = match at_least {
        true => (thousands(value), format!("at least {}", thousands(target))),
        false => (format!("{value:.1}"), format!("under {target}{unit}")),
    };
    let verdict = if met { "met" } else { "MISSED" };
    println!("{what:<36} {shown}{unit}  (target at 500 runs: {bound}, {verdict})");
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
