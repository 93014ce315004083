//! The user's GitHub token while a sandbox clones a GitHub repository: it reaches git only
//! through the environment of the clone, so it shows in no process's command line, in no
//! log line and in no step shown to the user. The clone is real: bubblewrap and git in the
//! sandbox, the fake GitHub's git over HTTP on the other side.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use support::sandbox::{new_branch, ready, run, sandbox_row, Output};
use support::{Browser, SignIn, TestApp};

/// The dev user's GitHub token in the fake.
const TOKEN: &str = "gho_octo";
const REPOSITORY: &str = "octo-org/widgets";

/// The fake GitHub's `octo-org/widgets` with a real repository behind it, added by the dev
/// user, and a branch `feature` of it.
async fn with_github_branch(app: &TestApp) -> (Browser, Value, Value) {
    let mut browser = app.browser();
    app.github_git_repository("octo-org", "widgets");
    let repo = browser.ok("add_github_repository", json!({ "full_name": REPOSITORY })).await;
    let branch = browser.ok("create_branch", new_branch(&repo, "feature")).await;
    (browser, repo, branch)
}

/// Runs a command that must succeed and returns what it printed.
async fn succeed(browser: &mut Browser, branch: &Value, command: &str) -> String {
    let output: Output = run(browser, branch, command).await;
    assert_eq!(output.exit.as_deref(), Some("exit 0"), "`{command}` failed: {output:?}");
    output.stdout
}

/// What a watch over every process's command line saw.
#[derive(Debug, Default)]
struct Sightings {
    /// Command lines holding the secret.
    leaks: BTreeSet<String>,
    /// Command lines of git at work on the repository.
    git: BTreeSet<String>,
}

/// Reads `/proc/*/cmdline` of every process on the host every 20 ms, on a thread of its own
/// so that the server's work goes on meanwhile, until [`Watch::finish`].
struct Watch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Sightings>,
}

impl Watch {
    fn start(secret: &'static str, repository: &'static str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Sightings::default();
            while !stopped.load(Ordering::Relaxed) {
                for line in command_lines() {
                    if line.contains(secret) {
                        seen.leaks.insert(line);
                    } else if line.contains("git") && line.contains(repository) {
                        seen.git.insert(line);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        });
        Watch { stop, thread }
    }

    fn finish(self) -> Sightings {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the watch does not panic")
    }
}

fn command_lines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .collect()
}

#[tokio::test]
async fn the_github_token_is_in_no_command_line_during_a_clone() {
    let app = TestApp::start(SignIn::Dev).await;
    let (mut browser, _repo, branch) = with_github_branch(&app).await;
    // Each refs advertisement waits, so the clone's processes stay up long enough to be seen.
    app.github.lock().unwrap().git_delay = Duration::from_millis(1500);

    let watch = Watch::start(TOKEN, REPOSITORY);
    let view = ready(&mut browser, &branch).await;
    let seen = watch.finish();

    assert!(seen.leaks.is_empty(), "the token is on a command line: {:?}", seen.leaks);
    assert!(
        seen.git.iter().any(|line| line.contains("clone") || line.contains("remote-http")),
        "the watch never saw git cloning, so it proves nothing: {:?}",
        seen.git
    );
    assert_eq!(view["state"], "running", "{view}");
    assert_eq!(succeed(&mut browser, &branch, "git branch --show-current").await, "feature\n");
    assert_eq!(succeed(&mut browser, &branch, "ls").await, "README.md\n");
}

#[tokio::test]
async fn a_command_pushes_to_github_as_the_user_without_the_token_on_a_command_line() {
    let app = TestApp::start(SignIn::Dev).await;
    let (mut browser, _repo, branch) = with_github_branch(&app).await;
    assert_eq!(ready(&mut browser, &branch).await["state"], "running");
    app.github.lock().unwrap().git_delay = Duration::from_millis(1000);

    let watch = Watch::start(TOKEN, REPOSITORY);
    let push = "git commit -q --allow-empty -m 'from the sandbox' && git push -q origin feature";
    succeed(&mut browser, &branch, push).await;
    let seen = watch.finish();

    assert!(seen.leaks.is_empty(), "the token is on a command line: {:?}", seen.leaks);
    assert!(!seen.git.is_empty(), "the watch never saw git pushing, so it proves nothing");
    let requests = app.github_requests();
    let pushes = "POST /octo-org/widgets.git/git-receive-pack";
    assert!(requests.iter().any(|r| r == pushes), "GitHub took the push: {requests:?}");
    let bare = app.db.dir().join("github/octo-org/widgets.git");
    let log = std::process::Command::new("git")
        .args(["log", "-1", "--format=%s", "feature"])
        .current_dir(bare)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout), "from the sandbox\n");
}

/// Everything the process logs through `tracing`, from the first call on.
///
/// The capture is process-wide rather than a default for one test's thread: tracing caches
/// per call site whether anyone listens, and while only one subscriber exists it decides
/// with the default of whichever thread reaches the call site first, so a subscriber set
/// for one thread misses call sites another test reached before it. Other tests' lines are
/// captured too, which only widens the search for the token.
fn captured_logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other test sets one");
        captured
    })
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn the_github_token_is_in_no_log_line() {
    let captured = captured_logs();
    let app = TestApp::start(SignIn::Dev).await;
    let (mut browser, repo, branch) = with_github_branch(&app).await;
    let refused = browser.ok("create_branch", new_branch(&repo, "refused")).await;
    let prepared = ready(&mut browser, &branch).await;
    assert_eq!(prepared["state"], "running", "{prepared}");

    // GitHub no longer takes the token the server holds: the next clone is refused.
    app.github.lock().unwrap().accounts[0].token = "gho_rotated".into();
    let failed = ready(&mut browser, &refused).await;
    assert_eq!(failed["state"], "error", "{failed}");
    let step = failed["steps"].as_array().unwrap().iter().find(|s| s["state"] == "failed");
    let step = step.expect("a failed step");
    assert_eq!(step["name"], format!("Clone {REPOSITORY}"));
    assert!(step["detail"].as_str().unwrap().contains("Authentication failed"), "{failed}");

    for view in [&prepared, &failed] {
        assert!(!view.to_string().contains(TOKEN), "a step shows the token: {view}");
    }
    let logs = captured.text();
    let prepared_id = sandbox_row(&app, &branch).await.provider_id;
    let failed_id = sandbox_row(&app, &refused).await.provider_id;
    for (message, sandbox) in [
        ("preparing a sandbox", &prepared_id),
        ("sandbox ready", &prepared_id),
        ("preparing a sandbox", &failed_id),
        ("sandbox preparation failed", &failed_id),
    ] {
        let logged = logs.lines().any(|l| l.contains(message) && l.contains(sandbox.as_str()));
        assert!(logged, "no `{message}` for {sandbox} among the captured logs:\n{logs}");
    }
    let leaks: Vec<&str> = logs.lines().filter(|line| line.contains(TOKEN)).collect();
    assert!(leaks.is_empty(), "log lines hold the token: {leaks:#?}");
}
