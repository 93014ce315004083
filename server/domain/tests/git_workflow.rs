//! Git workflows on a real checkout in a real local sandbox, against a bare repository on
//! this host as the remote (mounted into the sandbox as a repository on the server's disk
//! is). "Someone else" works in a second clone on the host.

use std::path::{Path, PathBuf};
use std::process::Command as HostCommand;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use domain::gitflow::{
    self, Aborted, ChangeStatus, Integration, PushStatus, Remote, ResetMode, PATCH_LIMIT,
};
use domain::sandbox::local::{Isolation, LocalProvider};
use domain::sandbox::{Command, Exit, Provider, Spec};
use domain::seal::Secret;
use domain::Error;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A sandbox whose checkout is on `feature`, cloned from a bare remote that has `main`
/// (one commit, README.md) and `feature` (one more commit, notes.txt), guard installed.
struct Fixture {
    dir: TempDir,
    provider: LocalProvider,
    id: String,
}

const BRANCH: &str = "feature";

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bare = dir.path().join("remote.git");
        host_git(dir.path(), &["init", "--quiet", "--bare", "-b", "main", path(&bare)]);
        let seed = dir.path().join("seed");
        host_git(dir.path(), &["clone", "--quiet", path(&bare), path(&seed)]);
        std::fs::write(seed.join("README.md"), "# App\n\nFirst line.\nSecond line.\n").unwrap();
        host_git(&seed, &["add", "-A"]);
        host_git(&seed, &["commit", "--quiet", "-m", "Start"]);
        host_git(&seed, &["push", "--quiet", "origin", "HEAD:main"]);
        host_git(&seed, &["checkout", "--quiet", "-b", BRANCH]);
        std::fs::write(seed.join("notes.txt"), "one\ntwo\nthree\n").unwrap();
        host_git(&seed, &["add", "-A"]);
        host_git(&seed, &["commit", "--quiet", "-m", "Add notes"]);
        host_git(&seed, &["push", "--quiet", "origin", BRANCH]);

        let root = dir.path().join("sandboxes");
        let provider = provider(root).await;
        let spec = Spec {
            // Stopping a local sandbox kills every process carrying its name, so each
            // test's sandbox needs a name of its own.
            name: format!("upstream-test-{}-{}", std::process::id(), uuid_like()),
            host_paths: vec![bare.clone()],
            ..Spec::default()
        };
        let id = provider.create(&spec).await.expect("the sandbox is created");
        let fixture = Fixture { dir, provider, id };
        let clone = Command::new(
            r#"set -e
git clone --quiet "$URL" .
git checkout --quiet "$BRANCH"
git config user.name Agent
git config user.email agent@example.com"#,
        )
        .env("URL", path(&bare))
        .env("BRANCH", BRANCH);
        fixture.exec_ok(clone).await;
        gitflow::install_guard(&fixture.provider, &fixture.id).await.expect("the guard installs");
        fixture
    }

    fn bare(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("sandboxes").join(&self.id).join("workspace")
    }

    fn remote(&self) -> Remote {
        Remote::new(BRANCH)
    }

    /// Runs a command in the sandbox, as the agent would; returns its output and exit.
    async fn sh(&self, script: &str) -> (String, Exit) {
        self.provider.exec(&self.id, Command::new(script)).await.expect("exec").collect().await
    }

    async fn exec_ok(&self, command: Command) -> String {
        let script = command.script.clone();
        let (out, exit) =
            self.provider.exec(&self.id, command).await.expect("exec").collect().await;
        assert_eq!(exit, Exit::Code(0), "{script} failed: {out}");
        out
    }

    async fn write(&self, file: &str, contents: &str) {
        self.provider.write_file(&self.id, file, contents.as_bytes()).await.expect("write");
    }

    /// The commit a ref of the remote points at, or `None`.
    fn remote_ref(&self, reference: &str) -> Option<String> {
        let out = git_output(&self.bare(), &["rev-parse", "--quiet", "--verify", reference]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// A ref of the checkout, read with git on the host.
    fn local(&self, args: &[&str]) -> String {
        let out = git_output(&self.workspace(), args);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Someone else clones the remote, commits `file` on `branch` and pushes.
    fn someone_else_pushes(&self, branch: &str, file: &str, contents: &str) -> String {
        let other = self.dir.path().join(format!("other-{}", uuid_like()));
        host_git(
            self.dir.path(),
            &["clone", "--quiet", "-b", branch, path(&self.bare()), path(&other)],
        );
        std::fs::write(other.join(file), contents).unwrap();
        host_git(&other, &["add", "-A"]);
        host_git(&other, &["commit", "--quiet", "-m", &format!("Someone else changes {file}")]);
        host_git(&other, &["push", "--quiet", "origin", branch]);
        self.remote_ref(&format!("refs/heads/{branch}")).expect("the push landed")
    }

    /// Commits `file` in the checkout, through the platform.
    async fn commit(&self, file: &str, contents: &str) -> String {
        self.write(file, contents).await;
        let commit = gitflow::commit_all(&self.provider, &self.id, Some(&format!("Change {file}")))
            .await
            .expect("commit_all works")
            .expect("something changed");
        commit.hash
    }
}

async fn provider(root: PathBuf) -> LocalProvider {
    let isolated = LocalProvider::new(root.clone(), Isolation::Bubblewrap).await;
    match isolated.unavailable() {
        None => isolated,
        Some(why) => {
            eprintln!("bubblewrap cannot run here ({why}); testing unisolated");
            LocalProvider::new(root, Isolation::None).await
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

fn git_output(cwd: &Path, args: &[&str]) -> std::process::Output {
    HostCommand::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Someone")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "Someone")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .output()
        .expect("git runs on the host")
}

fn host_git(cwd: &Path, args: &[&str]) {
    let out = git_output(cwd, args);
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn is_invalid(result: &Result<impl std::fmt::Debug, Error>, field: &str) -> bool {
    matches!(result, Err(Error::Invalid { field: f, .. }) if *f == field)
}

// Committing and pushing.

#[tokio::test]
async fn committed_changes_are_pushed_to_the_remote_branch() {
    let fx = Fixture::new().await;
    fx.write("src/main.rs", "fn main() {}\n").await;

    let commit = gitflow::commit_all(&fx.provider, &fx.id, Some("Add the entry point"))
        .await
        .unwrap()
        .expect("a commit is made for the new file");
    assert_eq!(commit.subject, "Add the entry point");
    let outcome = gitflow::push(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert_eq!(outcome.status, PushStatus::Pushed);
    assert_eq!(outcome.retries, 0, "nobody else pushed, so no retry was needed");
    assert_eq!(fx.remote_ref("refs/heads/feature"), Some(commit.hash), "the remote has the commit");
}

#[tokio::test]
async fn nothing_changed_makes_no_commit() {
    let fx = Fixture::new().await;
    let before = fx.local(&["rev-parse", "HEAD"]);

    let commit = gitflow::commit_all(&fx.provider, &fx.id, Some("Nothing")).await.unwrap();

    assert_eq!(commit, None, "a clean checkout needs no commit");
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), before, "HEAD did not move");
}

#[tokio::test]
async fn a_commit_without_a_message_is_described_by_its_files() {
    let fx = Fixture::new().await;
    fx.write("src/lib.rs", "pub fn f() {}\n").await;
    fx.write("src/a.rs", "\n").await;
    fx.sh("rm notes.txt").await;

    let commit = gitflow::commit_all(&fx.provider, &fx.id, None).await.unwrap().expect("a commit");

    assert_eq!(commit.subject, "Update notes.txt and 2 other files", "git lists paths sorted");
    assert_eq!(
        fx.local(&["status", "--porcelain"]),
        "",
        "deleted and new files were all committed"
    );
}

#[tokio::test]
async fn a_push_after_someone_else_pushed_rebases_and_succeeds_on_retry() {
    let fx = Fixture::new().await;
    let theirs = fx.someone_else_pushes(BRANCH, "theirs.txt", "their work\n");
    let ours = fx.commit("ours.txt", "our work\n").await;

    let outcome = gitflow::push(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert_eq!(outcome.status, PushStatus::Pushed);
    assert_eq!(outcome.retries, 1, "one rebase and retry is enough");
    let tip = fx.remote_ref("refs/heads/feature").unwrap();
    assert_ne!(tip, ours, "our commit was rebased, so it has a new id");
    let parent = git_output(&fx.bare(), &["rev-parse", &format!("{tip}^")]);
    assert_eq!(String::from_utf8_lossy(&parent.stdout).trim(), theirs, "ours sits on theirs");
}

#[tokio::test]
async fn a_push_with_nothing_new_is_up_to_date() {
    let fx = Fixture::new().await;

    let outcome = gitflow::push(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert_eq!(outcome.status, PushStatus::UpToDate);
    assert!(outcome.is_on_remote());
}

#[tokio::test]
async fn a_push_whose_rebase_conflicts_is_aborted_and_lists_the_files() {
    let fx = Fixture::new().await;
    fx.someone_else_pushes(BRANCH, "notes.txt", "their notes\n");
    let ours = fx.commit("notes.txt", "our notes\n").await;

    let outcome = gitflow::push(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert_eq!(outcome.status, PushStatus::Conflicted { files: vec!["notes.txt".into()] });
    assert!(!outcome.is_on_remote());
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), ours, "the rebase was aborted");
    assert_eq!(fx.local(&["status", "--porcelain"]), "", "no conflict is left in the files");
}

#[tokio::test]
async fn a_push_from_another_branch_than_expected_is_refused() {
    let fx = Fixture::new().await;
    fx.sh("git checkout --quiet main").await;

    let result = gitflow::push(&fx.provider, &fx.id, &fx.remote()).await;

    let Err(Error::Conflict(message)) = result else { panic!("must be refused: {result:?}") };
    assert!(message.contains("on branch main, not feature"), "{message}");
}

// Views.

#[tokio::test]
async fn a_diff_lists_each_file_with_its_status_line_counts_and_patch() {
    let fx = Fixture::new().await;
    let base = fx.local(&["rev-parse", "HEAD"]);
    fx.write("README.md", "# App\n\nFirst line.\nChanged line.\n").await;
    fx.sh("git mv notes.txt 'my notes.txt' && printf '\\0\\1' > image.bin").await;
    fx.commit("added.txt", "a\nb\n").await;

    let files = gitflow::diff(&fx.provider, &fx.id, &base, "HEAD").await.unwrap();

    let summary: Vec<_> = files
        .iter()
        .map(|f| {
            (f.file.path.as_str(), f.file.status, f.file.added, f.file.removed, f.file.is_binary)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("README.md", ChangeStatus::Modified, 1, 1, false),
            ("added.txt", ChangeStatus::Added, 2, 0, false),
            ("image.bin", ChangeStatus::Added, 0, 0, true),
            ("my notes.txt", ChangeStatus::Renamed, 0, 0, false),
        ]
    );
    assert_eq!(files[3].file.old_path.as_deref(), Some("notes.txt"));
    let readme = files[0].patch.as_deref().expect("a small patch is included");
    assert!(readme.contains("-Second line.\n+Changed line.\n"), "{readme}");
    assert!(
        files[1].patch.as_deref().unwrap().contains("+a\n+b\n"),
        "each file gets its own patch"
    );
}

#[tokio::test]
async fn a_large_patch_is_left_out_of_the_diff_and_loaded_on_its_own() {
    let fx = Fixture::new().await;
    let big: String =
        (0..20_000).map(|i| format!("line number {i} of a generated file\n")).collect();
    assert!(big.len() > PATCH_LIMIT);
    fx.commit("big.txt", &big).await;
    fx.commit("small.txt", "small\n").await;

    let files = gitflow::diff(&fx.provider, &fx.id, "origin/feature", "HEAD").await.unwrap();

    let large = files.iter().find(|f| f.file.path == "big.txt").unwrap();
    assert_eq!(large.patch, None, "a patch over the limit is left out");
    assert_eq!(large.file.added, 20_000, "but its line counts are there");
    let small = files.iter().find(|f| f.file.path == "small.txt").unwrap();
    assert!(small.patch.is_some(), "the other files keep their patches");
    let patch = gitflow::file_diff(&fx.provider, &fx.id, "origin/feature", "HEAD", "big.txt")
        .await
        .unwrap();
    assert!(patch.contains("+line number 19999 of a generated file\n"), "the whole patch loads");
}

#[tokio::test]
async fn a_diff_against_an_unknown_ref_says_which_ref() {
    let fx = Fixture::new().await;

    let result = gitflow::diff(&fx.provider, &fx.id, "main", "nosuchbranch").await;

    let Err(Error::Invalid { field, message }) = result else { panic!("refused: {result:?}") };
    assert_eq!(
        (field, message.as_str()),
        ("to", "nosuchbranch does not name a commit in this checkout")
    );
}

#[tokio::test]
async fn the_log_pages_through_history_newest_first() {
    let fx = Fixture::new().await;
    fx.commit("a.txt", "a\n").await;
    fx.write("b.txt", "b\n").await;
    gitflow::commit_all(&fx.provider, &fx.id, Some("Change b.txt\n\nWith a body.")).await.unwrap();

    let first = gitflow::log(&fx.provider, &fx.id, "HEAD", 0, 2).await.unwrap();
    let second = gitflow::log(&fx.provider, &fx.id, "HEAD", 2, 2).await.unwrap();

    let subjects = |page: &gitflow::LogPage| {
        page.entries.iter().map(|e| e.subject.clone()).collect::<Vec<_>>()
    };
    assert_eq!(subjects(&first), ["Change b.txt", "Change a.txt"]);
    assert!(first.has_more, "two older commits follow");
    assert_eq!(first.entries[0].body, "With a body.");
    assert_eq!(first.entries[0].author_name, "Agent");
    assert_eq!(subjects(&second), ["Add notes", "Start"]);
    assert!(!second.has_more, "the first commit ends the history");
}

// Branch operations.

#[tokio::test]
async fn a_merge_brings_in_the_other_branch_s_commits() {
    let fx = Fixture::new().await;
    fx.someone_else_pushes("main", "CHANGELOG.md", "main moved on\n");
    fx.sh("git fetch --quiet origin").await;

    let outcome = gitflow::merge(&fx.provider, &fx.id, "origin/main").await.unwrap();

    let Integration::Done { head } = outcome else { panic!("merged: {outcome:?}") };
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), head);
    assert!(fx.workspace().join("CHANGELOG.md").exists(), "main's file arrived");
    assert_eq!(fx.local(&["rev-list", "--count", "--merges", "HEAD"]), "1", "a merge commit");
}

#[tokio::test]
async fn a_merge_of_what_the_branch_already_has_is_up_to_date() {
    let fx = Fixture::new().await;

    let outcome = gitflow::merge(&fx.provider, &fx.id, "main").await;

    assert_eq!(outcome.unwrap(), Integration::UpToDate);
}

#[tokio::test]
async fn a_conflicting_merge_lists_the_files_and_abort_restores_the_clean_state() {
    let fx = Fixture::new().await;
    fx.someone_else_pushes("main", "README.md", "main's readme\n");
    fx.sh("git fetch --quiet origin").await;
    let before = fx.commit("README.md", "feature's readme\n").await;

    let outcome = gitflow::merge(&fx.provider, &fx.id, "origin/main").await.unwrap();

    assert_eq!(outcome, Integration::Conflicted { files: vec!["README.md".into()] });
    let state = fx.local(&["status", "--porcelain"]);
    assert_eq!(state, "UU README.md", "the checkout is left mid-merge");
    assert_eq!(gitflow::abort(&fx.provider, &fx.id).await.unwrap(), Aborted::Merge);
    assert_eq!(fx.local(&["status", "--porcelain"]), "", "abort leaves no conflict behind");
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), before, "and the branch where it was");
}

#[tokio::test]
async fn nothing_is_committed_while_conflicts_are_unresolved() {
    let fx = Fixture::new().await;
    fx.someone_else_pushes("main", "README.md", "main's readme\n");
    fx.sh("git fetch --quiet origin").await;
    fx.commit("README.md", "feature's readme\n").await;
    gitflow::merge(&fx.provider, &fx.id, "origin/main").await.unwrap();

    let result = gitflow::commit_all(&fx.provider, &fx.id, None).await;

    let Err(Error::Conflict(message)) = result else { panic!("refused: {result:?}") };
    assert!(message.contains("unresolved conflicts: README.md"), "{message}");
    assert_eq!(fx.local(&["status", "--porcelain"]), "UU README.md", "the conflict stays");
}

#[tokio::test]
async fn a_merge_over_uncommitted_changes_is_refused() {
    let fx = Fixture::new().await;
    fx.write("notes.txt", "unsaved\n").await;

    let result = gitflow::merge(&fx.provider, &fx.id, "main").await;

    let Err(Error::Conflict(message)) = result else { panic!("refused: {result:?}") };
    assert!(message.contains("uncommitted changes"), "{message}");
}

#[tokio::test]
async fn a_rebase_replays_the_branch_onto_the_other() {
    let fx = Fixture::new().await;
    let main = fx.someone_else_pushes("main", "CHANGELOG.md", "main moved on\n");
    fx.sh("git fetch --quiet origin").await;

    let outcome = gitflow::rebase(&fx.provider, &fx.id, "origin/main").await.unwrap();

    assert!(matches!(outcome, Integration::Done { .. }), "{outcome:?}");
    assert_eq!(fx.local(&["rev-parse", "HEAD~1"]), main, "the branch's commit sits on main");
    assert_eq!(fx.local(&["rev-list", "--count", "--merges", "HEAD"]), "0", "no merge commit");
}

#[tokio::test]
async fn a_conflicting_rebase_stops_and_abort_returns_to_the_branch() {
    let fx = Fixture::new().await;
    fx.someone_else_pushes("main", "notes.txt", "main's notes\n");
    fx.sh("git fetch --quiet origin").await;
    let before = fx.local(&["rev-parse", "HEAD"]);

    let outcome = gitflow::rebase(&fx.provider, &fx.id, "origin/main").await.unwrap();

    assert_eq!(outcome, Integration::Conflicted { files: vec!["notes.txt".into()] });
    assert_eq!(gitflow::abort(&fx.provider, &fx.id).await.unwrap(), Aborted::Rebase);
    assert_eq!(fx.local(&["symbolic-ref", "--short", "HEAD"]), BRANCH, "back on the branch");
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), before, "at the same commit");
}

#[tokio::test]
async fn abort_with_nothing_under_way_does_nothing() {
    let fx = Fixture::new().await;

    assert_eq!(gitflow::abort(&fx.provider, &fx.id).await.unwrap(), Aborted::Nothing);
}

#[tokio::test]
async fn a_soft_reset_moves_the_branch_and_keeps_the_changes_staged() {
    let fx = Fixture::new().await;
    let base = fx.local(&["rev-parse", "HEAD"]);
    fx.commit("a.txt", "a\n").await;

    let head = gitflow::reset(&fx.provider, &fx.id, &base, ResetMode::Soft).await.unwrap();

    assert_eq!(head, base);
    assert_eq!(fx.local(&["status", "--porcelain"]), "A  a.txt", "the change is staged");
}

#[tokio::test]
async fn a_hard_reset_moves_the_branch_and_discards_the_changes() {
    let fx = Fixture::new().await;
    let base = fx.local(&["rev-parse", "--short", "HEAD"]);
    fx.commit("a.txt", "a\n").await;
    fx.write("b.txt", "b\n").await;
    fx.sh("git add b.txt").await;

    let head = gitflow::reset(&fx.provider, &fx.id, &base, ResetMode::Hard).await.unwrap();

    assert!(head.starts_with(&base), "{head} is the commit {base} named");
    assert_eq!(fx.local(&["status", "--porcelain"]), "", "nothing is left of either change");
    assert!(!fx.workspace().join("a.txt").exists());
}

#[tokio::test]
async fn a_tag_is_created_pushed_and_not_created_twice() {
    let fx = Fixture::new().await;
    let head = fx.local(&["rev-parse", "HEAD"]);

    gitflow::create_tag(&fx.provider, &fx.id, "v1.0.0", "HEAD").await.unwrap();
    gitflow::push_tag(&fx.provider, &fx.id, &fx.remote(), "v1.0.0").await.unwrap();
    let again = gitflow::create_tag(&fx.provider, &fx.id, "v1.0.0", "main").await;

    assert_eq!(fx.remote_ref("refs/tags/v1.0.0"), Some(head), "the remote has the tag");
    assert!(matches!(again, Err(Error::Conflict(_))), "a second v1.0.0 is refused: {again:?}");
}

#[tokio::test]
async fn renaming_the_branch_moves_it_on_the_remote_and_in_the_checkout() {
    let fx = Fixture::new().await;
    let head = fx.local(&["rev-parse", "HEAD"]);

    gitflow::rename_branch(&fx.provider, &fx.id, &fx.remote(), "feature-renamed").await.unwrap();

    assert_eq!(
        fx.remote_ref("refs/heads/feature-renamed"),
        Some(head),
        "pushed under the new name"
    );
    assert_eq!(fx.remote_ref("refs/heads/feature"), None, "the old name is gone from the remote");
    assert_eq!(fx.local(&["symbolic-ref", "--short", "HEAD"]), "feature-renamed");
    let pushed = gitflow::push(&fx.provider, &fx.id, &Remote::new("feature-renamed")).await;
    assert_eq!(pushed.unwrap().status, PushStatus::UpToDate, "later pushes use the new name");
}

#[tokio::test]
async fn renaming_onto_a_name_the_remote_has_is_refused() {
    let fx = Fixture::new().await;

    let result = gitflow::rename_branch(&fx.provider, &fx.id, &fx.remote(), "main").await;

    let Err(Error::Conflict(message)) = result else { panic!("refused: {result:?}") };
    assert!(message.contains("main already exists"), "{message}");
    assert!(fx.remote_ref("refs/heads/feature").is_some(), "the remote branch stayed");
}

#[tokio::test]
async fn deleting_the_remote_branch_leaves_the_checkout_alone() {
    let fx = Fixture::new().await;

    let deleted = gitflow::delete_remote_branch(&fx.provider, &fx.id, &fx.remote()).await.unwrap();
    let again = gitflow::delete_remote_branch(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert!(deleted, "the branch was there to delete");
    assert!(!again, "the second time there was nothing to delete");
    assert_eq!(fx.remote_ref("refs/heads/feature"), None);
    assert_eq!(fx.local(&["symbolic-ref", "--short", "HEAD"]), BRANCH, "the checkout keeps it");
}

#[tokio::test]
async fn a_force_push_with_lease_replaces_the_remote_branch_after_a_reset() {
    let fx = Fixture::new().await;
    gitflow::reset(&fx.provider, &fx.id, "main", ResetMode::Hard).await.unwrap();
    let main = fx.local(&["rev-parse", "HEAD"]);

    let outcome = gitflow::force_push_with_lease(&fx.provider, &fx.id, &fx.remote()).await.unwrap();

    assert_eq!(outcome.status, PushStatus::Pushed);
    assert_eq!(fx.remote_ref("refs/heads/feature"), Some(main), "the remote was rewound");
}

#[tokio::test]
async fn a_force_push_with_lease_is_refused_when_the_remote_moved_unseen() {
    let fx = Fixture::new().await;
    let theirs = fx.someone_else_pushes(BRANCH, "theirs.txt", "theirs\n");
    gitflow::reset(&fx.provider, &fx.id, "main", ResetMode::Hard).await.unwrap();

    let result = gitflow::force_push_with_lease(&fx.provider, &fx.id, &fx.remote()).await;

    assert!(matches!(result, Err(Error::Conflict(_))), "refused: {result:?}");
    assert_eq!(fx.remote_ref("refs/heads/feature"), Some(theirs), "their commit survived");
}

// The token.

/// An HTTP server on this host that asks for credentials on every request and keeps, for
/// each request, the `Authorization` header it was sent, if any. Returns a repository URL
/// on it.
async fn server_asking_for_credentials() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/app.git", listener.local_addr().unwrap().port());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let seen = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let authorization =
                    head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:"));
                seen.lock().unwrap().push(authorization.map(str::to_owned));
                let reply =
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                             Content-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, sent)
}

const TOKEN: &str = "ghp_secret_token_1234";

#[tokio::test]
async fn the_token_signs_in_to_the_repository_s_own_host_and_never_shows_in_errors() {
    let fx = Fixture::new().await;
    let (url, sent) = server_asking_for_credentials().await;
    fx.exec_ok(Command::new(r#"git remote set-url origin "$URL""#).env("URL", &url)).await;
    let remote = fx.remote().with_token(Secret::new(TOKEN), &url);

    let result = gitflow::push(&fx.provider, &fx.id, &remote).await;

    let Err(Error::Upstream(message)) = result else { panic!("the server refuses: {result:?}") };
    assert!(!message.contains(TOKEN), "the error shows the token: {message}");
    let expected = format!("Basic {}", BASE64.encode(format!("x-access-token:{TOKEN}")));
    let sent = sent.lock().unwrap().clone();
    let signed_in = sent.iter().flatten().any(|header| header.ends_with(&expected));
    assert!(signed_in, "git did not sign in with the token: {sent:?}");
}

#[tokio::test]
async fn the_token_is_not_sent_to_a_host_the_checkout_was_pointed_at() {
    let fx = Fixture::new().await;
    let (elsewhere, sent) = server_asking_for_credentials().await;
    // The agent points origin at a server of its own.
    fx.sh(&format!("git remote set-url origin {elsewhere}")).await;
    let remote = fx.remote().with_token(Secret::new(TOKEN), "https://github.com/acme/app.git");

    let result = gitflow::push(&fx.provider, &fx.id, &remote).await;

    assert!(matches!(result, Err(Error::Upstream(_))), "the server refuses: {result:?}");
    let sent = sent.lock().unwrap().clone();
    assert!(!sent.is_empty(), "git never reached the other host, so this proves nothing");
    assert!(sent.iter().all(Option::is_none), "credentials went to the other host: {sent:?}");
}

// Injection and validation: every function checks its inputs before running anything. A
// stopped sandbox refuses every command, so an `Invalid` error from one proves nothing
// ran; a running one shows that nothing the input names was executed.

const INJECTIONS: [&str; 5] =
    ["--upload-pack=touch /workspace/pwned", "a;touch pwned", "../x", "@{-1}", "$(touch pwned)"];

#[tokio::test]
async fn refs_that_look_like_options_or_shell_are_refused_before_anything_runs() {
    let fx = Fixture::new().await;
    fx.provider.stop(&fx.id).await.unwrap();
    let (p, id) = (&fx.provider, fx.id.as_str());

    for bad in INJECTIONS {
        assert!(is_invalid(&gitflow::merge(p, id, bad).await, "ref"), "merge {bad}");
        assert!(is_invalid(&gitflow::rebase(p, id, bad).await, "ref"), "rebase {bad}");
        assert!(
            is_invalid(&gitflow::reset(p, id, bad, ResetMode::Hard).await, "ref"),
            "reset {bad}"
        );
        assert!(is_invalid(&gitflow::log(p, id, bad, 0, 10).await, "ref"), "log {bad}");
        assert!(is_invalid(&gitflow::diff(p, id, bad, "HEAD").await, "from"), "diff from {bad}");
        assert!(is_invalid(&gitflow::diff(p, id, "HEAD", bad).await, "to"), "diff to {bad}");
        assert!(is_invalid(&gitflow::create_tag(p, id, "v1", bad).await, "ref"), "tag at {bad}");
    }
}

#[tokio::test]
async fn tag_names_that_look_like_options_or_shell_are_refused_before_anything_runs() {
    let fx = Fixture::new().await;
    fx.provider.stop(&fx.id).await.unwrap();
    let (p, id) = (&fx.provider, fx.id.as_str());

    for bad in INJECTIONS {
        assert!(is_invalid(&gitflow::create_tag(p, id, bad, "HEAD").await, "tag"), "tag {bad}");
        let pushed = gitflow::push_tag(p, id, &fx.remote(), bad).await;
        assert!(is_invalid(&pushed, "tag"), "push tag {bad}: {pushed:?}");
    }
}

#[tokio::test]
async fn branch_names_that_look_like_options_or_shell_are_refused_before_anything_runs() {
    let fx = Fixture::new().await;
    fx.provider.stop(&fx.id).await.unwrap();
    let (p, id) = (&fx.provider, fx.id.as_str());

    for bad in INJECTIONS {
        let remote = Remote::new(bad);
        assert!(is_invalid(&gitflow::push(p, id, &remote).await, "branch"), "push {bad}");
        let forced = gitflow::force_push_with_lease(p, id, &remote).await;
        assert!(is_invalid(&forced, "branch"), "force-push {bad}");
        let deleted = gitflow::delete_remote_branch(p, id, &remote).await;
        assert!(is_invalid(&deleted, "branch"), "delete {bad}");
        let renamed = gitflow::rename_branch(p, id, &fx.remote(), bad).await;
        assert!(is_invalid(&renamed, "new_name"), "rename to {bad}");
    }
}

#[tokio::test]
async fn paths_outside_the_repository_are_refused_before_anything_runs() {
    let fx = Fixture::new().await;
    fx.provider.stop(&fx.id).await.unwrap();

    for bad in ["../x", "/etc/passwd", "a/../../b", "a\nb", ""] {
        let result = gitflow::file_diff(&fx.provider, &fx.id, "main", "HEAD", bad).await;
        assert!(is_invalid(&result, "path"), "{bad:?}: {result:?}");
    }
}

#[tokio::test]
async fn refused_injections_leave_no_trace_in_a_running_sandbox() {
    let fx = Fixture::new().await;
    let (p, id) = (&fx.provider, fx.id.as_str());

    for bad in INJECTIONS {
        let _ = gitflow::merge(p, id, bad).await;
        let _ = gitflow::push(p, id, &Remote::new(bad)).await;
        let _ = gitflow::create_tag(p, id, bad, "HEAD").await;
        let _ = gitflow::rename_branch(p, id, &fx.remote(), bad).await;
    }

    assert!(!fx.workspace().join("pwned").exists(), "an injected command ran");
    assert_eq!(fx.local(&["tag"]), "", "no tag was made");
    assert_eq!(fx.local(&["symbolic-ref", "--short", "HEAD"]), BRANCH, "the branch kept its name");
}

// The guard.

#[tokio::test]
async fn the_agent_s_own_push_is_stopped_by_the_pre_push_hook() {
    let fx = Fixture::new().await;
    let before = fx.remote_ref("refs/heads/feature");
    fx.commit("a.txt", "a\n").await;

    let (out, exit) = fx.sh("git push origin HEAD:refs/heads/feature").await;

    assert_ne!(exit, Exit::Code(0), "the push went through: {out}");
    assert!(out.contains("Pushing from the sandbox is turned off"), "the agent is told why: {out}");
    assert_eq!(fx.remote_ref("refs/heads/feature"), before, "the remote did not move");
}

#[tokio::test]
async fn the_agent_cannot_drop_commits_that_were_pushed() {
    let fx = Fixture::new().await;
    let pushed = fx.local(&["rev-parse", "HEAD"]);

    let (out, exit) = fx.sh("git reset --hard HEAD~1").await;

    assert_ne!(exit, Exit::Code(0), "the reset went through: {out}");
    assert!(out.contains("already pushed"), "the agent is told why: {out}");
    // The files were reset before the branch's move was refused; history is what stays.
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), pushed, "the branch did not move");
}

#[tokio::test]
async fn the_agent_may_still_rewrite_commits_it_has_not_pushed() {
    let fx = Fixture::new().await;
    fx.commit("a.txt", "a\n").await;

    let (out, exit) = fx
        .sh("git commit --quiet --amend -m 'Better words' && git reset --quiet --hard HEAD~1")
        .await;

    assert_eq!(exit, Exit::Code(0), "unpushed work is the agent's to rewrite: {out}");
    assert_eq!(fx.local(&["rev-parse", "HEAD"]), fx.remote_ref("refs/heads/feature").unwrap());
}

#[tokio::test]
async fn the_project_s_own_hooks_still_run_for_the_agent_but_not_for_the_platform() {
    let fx = Fixture::new().await;
    let hook = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/hook-runs\"\n";
    fx.sh(&format!(
        "cat > .git/hooks/pre-commit <<'EOF'\n{hook}EOF\nchmod +x .git/hooks/pre-commit"
    ))
    .await;
    gitflow::install_guard(&fx.provider, &fx.id).await.expect("installing twice is fine");

    fx.sh("echo x > x.txt && git add x.txt && git commit --quiet -m x").await;
    fx.commit("y.txt", "y\n").await;

    let runs = std::fs::read_to_string(fx.workspace().join(".git/hook-runs")).unwrap_or_default();
    assert_eq!(runs, "ran\n", "the agent's commit ran the hook once; the platform's did not");
}
