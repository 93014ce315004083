//! The fake GitHub's git over HTTP, driven by the real git client: clones, fetches and
//! pushes at the `clone_url`, with GitHub's rules for credentials.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use fakes::github::World;

/// Answers git's credential questions with the token in `$TOKEN`, as the workspace's
/// sandboxes do.
const HELPER: &str =
    "credential.helper=!f() { echo username=x-access-token; echo \"password=$TOKEN\"; }; f";

struct Fake {
    world: Arc<Mutex<World>>,
    url: String,
    dir: tempfile::TempDir,
}

/// The sample world serving `octo-org/widgets` (private) and `octo/dotfiles` (public).
async fn fake() -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::sample();
    world.git_root = Some(dir.path().join("github"));
    world.create_git_repository("octo-org", "widgets").unwrap();
    world.create_git_repository("octo", "dotfiles").unwrap();
    let world = Arc::new(Mutex::new(world));
    let address = fakes::github::spawn(world.clone(), "127.0.0.1:0").await.unwrap();
    Fake { world, url: format!("http://{address}"), dir }
}

/// Runs git in `cwd` with `token` (if any) for the credential helper to hand out.
async fn git(cwd: &Path, token: Option<&str>, args: &[&str]) -> Output {
    git_with(cwd, token, &[], args).await
}

async fn git_with(cwd: &Path, token: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new("git");
    command
        .args(["-c", HELPER])
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Octo")
        .env("GIT_AUTHOR_EMAIL", "octo@example.com")
        .env("GIT_COMMITTER_NAME", "Octo")
        .env("GIT_COMMITTER_EMAIL", "octo@example.com")
        .env("TOKEN", token.unwrap_or_default())
        .envs(env.iter().copied());
    command.output().await.unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_clone_gets_every_branch_of_the_bare_repository() {
    let fake = fake().await;
    let url = format!("{}/octo-org/widgets.git", fake.url);
    let cloned = git(fake.dir.path(), Some("gho_octo"), &["clone", "-q", &url, "widgets"]).await;
    assert!(cloned.status.success(), "{}", text(&cloned));

    let work = fake.dir.path().join("widgets");
    let readme = std::fs::read_to_string(work.join("README.md")).unwrap();
    assert!(readme.starts_with("# widgets"), "{readme}");
    let branches = git(&work, None, &["branch", "-r", "--format=%(refname:short)"]).await;
    let branches = String::from_utf8_lossy(&branches.stdout).into_owned();
    for branch in ["origin/main", "origin/develop", "origin/release/1.0"] {
        assert!(branches.lines().any(|b| b == branch), "{branch} missing from {branches}");
    }
    let requests = fake.world.lock().unwrap().requests.clone();
    assert!(
        requests.iter().any(|r| r == "GET /octo-org/widgets.git/info/refs?service=git-upload-pack"),
        "the refs advertisement is recorded: {requests:?}"
    );
    assert!(requests.iter().any(|r| r == "POST /octo-org/widgets.git/git-upload-pack"));
}

#[tokio::test]
async fn a_push_lands_in_the_bare_repository() {
    let fake = fake().await;
    let url = format!("{}/octo-org/widgets.git", fake.url);
    git(fake.dir.path(), Some("gho_octo"), &["clone", "-q", &url, "widgets"]).await;
    let work = fake.dir.path().join("widgets");
    let committed = git(&work, None, &["commit", "-q", "--allow-empty", "-m", "pushed"]).await;
    assert!(committed.status.success(), "{}", text(&committed));

    let pushed = git(&work, Some("gho_octo"), &["push", "-q", "origin", "HEAD:feature"]).await;
    assert!(pushed.status.success(), "{}", text(&pushed));
    let bare = fake.dir.path().join("github/octo-org/widgets.git");
    let log = git(&bare, None, &["log", "-1", "--format=%s", "feature"]).await;
    assert_eq!(String::from_utf8_lossy(&log.stdout), "pushed\n");
}

#[tokio::test]
async fn without_a_known_token_git_is_asked_for_credentials_and_refused() {
    let fake = fake().await;
    let url = format!("{}/octo-org/widgets.git", fake.url);
    let anonymous = git(fake.dir.path(), None, &["ls-remote", &url]).await;
    assert!(!anonymous.status.success());
    let wrong = git(fake.dir.path(), Some("gho_wrong"), &["ls-remote", &url]).await;
    assert!(!wrong.status.success());
    let output = text(&wrong);
    assert!(output.contains("Invalid username or token"), "{output}");
    assert!(output.contains("Authentication failed"), "{output}");
}

#[tokio::test]
async fn an_account_that_cannot_see_the_repository_finds_nothing() {
    let fake = fake().await;
    let url = format!("{}/octo-org/widgets.git", fake.url);
    let other = git(fake.dir.path(), Some("gho_other"), &["ls-remote", &url]).await;
    assert!(!other.status.success());
    assert!(text(&other).contains("Repository not found"), "{}", text(&other));

    let missing = format!("{}/octo-org/gadgets.git", fake.url);
    let listed_only = git(fake.dir.path(), Some("gho_octo"), &["ls-remote", &missing]).await;
    assert!(!listed_only.status.success(), "a repository without a bare clone is not found");
}

#[tokio::test]
async fn a_public_repository_is_read_without_credentials_but_not_written() {
    let fake = fake().await;
    let url = format!("{}/octo/dotfiles.git", fake.url);
    let cloned = git(fake.dir.path(), None, &["clone", "-q", &url, "dotfiles"]).await;
    assert!(cloned.status.success(), "{}", text(&cloned));
    let work = fake.dir.path().join("dotfiles");
    git(&work, None, &["commit", "-q", "--allow-empty", "-m", "anonymous"]).await;
    let pushed = git(&work, None, &["push", "-q", "origin", "HEAD:main"]).await;
    assert!(!pushed.status.success(), "an anonymous push is refused");
}

#[tokio::test]
async fn a_gzipped_fetch_negotiation_is_understood() {
    let fake = fake().await;
    let url = format!("{}/octo-org/widgets.git", fake.url);
    git(fake.dir.path(), Some("gho_octo"), &["clone", "-q", &url, "widgets"]).await;
    let work = fake.dir.path().join("widgets");
    // Enough local commits that the haves git sends outgrow the size it compresses from.
    for n in 0..64 {
        git(&work, None, &["commit", "-q", "--allow-empty", "-m", &format!("local {n}")]).await;
    }
    let bare = fake.dir.path().join("github/octo-org/widgets.git");
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), None, &["clone", "-q", bare.to_str().unwrap(), "."]).await;
    git(remote.path(), None, &["commit", "-q", "--allow-empty", "-m", "remote"]).await;
    git(remote.path(), None, &["push", "-q", "origin", "HEAD:main"]).await;

    let trace = fake.dir.path().join("trace");
    let trace_env = [("GIT_TRACE_CURL", trace.to_str().unwrap())];
    let fetched = git_with(&work, Some("gho_octo"), &trace_env, &["fetch", "-q", "origin"]).await;
    assert!(fetched.status.success(), "{}", text(&fetched));
    let sent = std::fs::read_to_string(&trace).unwrap();
    assert!(sent.contains("Content-Encoding: gzip"), "git compressed its negotiation");
    let log = git(&work, None, &["log", "-1", "--format=%s", "origin/main"]).await;
    assert_eq!(String::from_utf8_lossy(&log.stdout), "remote\n");
}
