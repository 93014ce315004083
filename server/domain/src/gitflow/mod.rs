//! Git operations on a branch's sandbox checkout: committing what the agent changed,
//! pushing it safely, showing diffs and history, and the branch operations a user asks for
//! (merge, rebase, abort, reset, tag, rename, delete, force-push with lease).
//!
//! Git runs inside the sandbox through its [`Provider`]. Every script here is constant
//! text; every value that came from a user (a branch, a ref, a message, a token) reaches it
//! through the command's environment, and is checked by [`crate::refname`] before anything
//! runs. Repository hooks never run for these commands (the agent could have written
//! them), and the token reaches only the commands that talk to the remote, through git's
//! credential helper.
//!
//! At the end of an agent run the platform calls [`commit_all`] and then [`push`];
//! [`install_guard`] keeps the agent itself from pushing in between.

mod branch;
mod commit;
mod guard;
mod parse;
mod push;
mod views;

use std::time::Duration;

use crate::refname;
use crate::sandbox::{Chunk, Command, Exit, Provider};
use crate::sandboxes::{last_lines, redact};
use crate::seal::Secret;
use crate::{Error, Result};

pub use branch::{abort, create_tag, merge, rebase, reset, Aborted, Integration, ResetMode};
pub use commit::{commit_all, message_for_changes, subject_from_summary, Commit};
pub use guard::{install_guard, PUSH_ALLOWED, REWRITE_ALLOWED};
pub use parse::{ChangeStatus, FileChange, LogEntry};
pub use push::{
    delete_remote_branch, force_push_with_lease, push, push_tag, rename_branch, PushOutcome,
    PushStatus,
};
pub use views::{diff, file_diff, log, FileDiff, LogPage, FILE_PATCH_LIMIT, PATCH_LIMIT};

/// How long one git command may take; pushes and fetches of large repositories are the
/// slow ones.
const GIT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Exit statuses the scripts here use for the outcomes they tell apart; git itself exits
/// with 1 and 128, so these do not clash.
mod status {
    /// The ref does not name a commit.
    pub const UNKNOWN_REF: i32 = 64;
    /// Tracked files have changes that are not committed.
    pub const DIRTY: i32 = 65;
    /// A merge or rebase stopped on conflicts; the conflicting paths follow on stdout.
    pub const CONFLICTED: i32 = 66;
    /// The name is already taken.
    pub const EXISTS: i32 = 67;
    /// The remote has no such branch.
    pub const MISSING: i32 = 68;
}

/// Where a push goes: the branch on `origin`, and the token to sign in with.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The branch's name, the same locally and on the remote.
    pub branch: String,
    token: Option<Token>,
}

#[derive(Clone, Debug)]
struct Token {
    secret: Secret,
    /// `scheme://host[:port]`: git's credential helper answers only for this.
    scope: String,
}

impl Remote {
    /// The branch `branch` on `origin`, reached without credentials (a local path, or a
    /// remote that lets anyone push).
    pub fn new(branch: impl Into<String>) -> Self {
        Remote { branch: branch.into(), token: None }
    }

    /// Signs in with `token` wherever git asks for credentials at the scheme and host of
    /// `clone_url` (the repository's own URL, as stored), and nowhere else: a checkout
    /// whose `origin` was pointed elsewhere does not receive it. A URL that is not http or
    /// https never asks for a token, so then none is kept.
    pub fn with_token(mut self, token: Secret, clone_url: &str) -> Self {
        self.token = credential_scope(clone_url).map(|scope| Token { secret: token, scope });
        self
    }

    fn secret(&self) -> Option<&Secret> {
        self.token.as_ref().map(|t| &t.secret)
    }
}

/// The part of an http(s) URL git's `credential.<url>.helper` matches on.
fn credential_scope(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// A script whose git runs with the repository's hooks and file-system monitor off: the
/// agent may have written either, and they would run as part of the platform's command.
/// `rebasing` tells whether a rebase is under way.
macro_rules! local_script {
    ($body:literal) => {
        concat!(
            "git() { command git -c core.hooksPath=/dev/null -c core.fsmonitor=false \"$@\"; }\n",
            "rebasing() { [ -d \"$(git rev-parse --git-path rebase-merge)\" ] || \
             [ -d \"$(git rev-parse --git-path rebase-apply)\" ]; }\n",
            $body
        )
    };
}

/// A script that talks to the remote. On top of [`local_script!`], it resets the credential
/// helpers and the programs git would start from the checkout's configuration, which the
/// agent can edit, so that the token in this command's environment goes to the credential
/// helper for the repository's own host and nowhere else.
// Limitation: the rest of the checkout's configuration still shapes the connection. An
// agent that sets a proxy and trusts its own certificate authority (`http.proxy`,
// `http.sslCAInfo`, or URL-specific `http.<url>.*` settings, which win over the ones reset
// here) could read the token on its way to the real host. Pushing from a git directory
// the agent cannot write, beside the checkout, would close this.
macro_rules! remote_script {
    ($body:literal) => {
        concat!(
            "git() { command git -c core.hooksPath=/dev/null -c core.fsmonitor=false \
             -c credential.helper= \
             ${TOKEN_SCOPE:+-c \"credential.$TOKEN_SCOPE.helper=$CREDENTIAL_HELPER\"} \
             -c core.sshCommand=ssh -c core.askPass= \
             -c remote.origin.receivepack=git-receive-pack \
             -c remote.origin.uploadpack=git-upload-pack \
             -c http.sslVerify=true \"$@\"; }\n",
            $body
        )
    };
}

pub(crate) use {local_script, remote_script};

/// What one git script printed, and how it ended.
struct Output {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Output {
    /// A short reason for a failure: git's last lines of complaint.
    fn reason(&self) -> String {
        let text = match self.stderr.trim() {
            "" => self.stdout.trim(),
            stderr => stderr,
        };
        match text {
            "" => format!("git exited with status {}", self.code),
            text => last_lines(text, 4),
        }
    }
}

/// Runs a constant script in the checkout with `env`; `remote`, when given, adds its
/// token and credential helper. Output is stripped of the token before anyone sees it.
async fn run(
    provider: &dyn Provider,
    id: &str,
    script: &'static str,
    env: &[(&str, &str)],
    remote: Option<&Remote>,
) -> Result<Output> {
    let mut command = Command::new(script)
        .timeout(GIT_TIMEOUT)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_EDITOR", "true")
        .env("GIT_SEQUENCE_EDITOR", "true")
        .env("GIT_MERGE_AUTOEDIT", "no")
        .env("GIT_LITERAL_PATHSPECS", "1")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C");
    for (name, value) in env {
        command = command.env(*name, *value);
    }
    if let Some(remote) = remote {
        command = command
            .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
            .env(PUSH_ALLOWED, "1")
            .env("CREDENTIAL_HELPER", crate::sandboxes::CREDENTIAL_HELPER);
        if let Some(token) = &remote.token {
            command =
                command.env("GIT_TOKEN", token.secret.expose()).env("TOKEN_SCOPE", &token.scope);
        }
    }

    let mut execution = provider.exec(id, command).await?;
    let (mut stdout, mut stderr, mut exit) = (String::new(), String::new(), Exit::Killed);
    while let Some(chunk) = execution.output.recv().await {
        match chunk {
            Chunk::Stdout(text) => stdout.push_str(&text),
            Chunk::Stderr(text) => stderr.push_str(&text),
            Chunk::Exit(e) => exit = e,
        }
    }
    let secret = remote.and_then(Remote::secret);
    let (stdout, stderr) = (redact(&stdout, secret), redact(&stderr, secret));
    match exit {
        Exit::Code(code) => Ok(Output { stdout, stderr, code }),
        Exit::TimedOut => Err(Error::Upstream("git took too long and was stopped".into())),
        Exit::Killed => Err(Error::Upstream("git was stopped before it finished".into())),
    }
}

/// Refuses a ref that is not plainly a branch, tag, remote branch or commit id.
fn valid_ref(field: &'static str, reference: &str) -> Result<()> {
    refname::check_ref(reference).map_err(|m| Error::invalid(field, m))
}

fn valid_branch(field: &'static str, name: &str) -> Result<()> {
    refname::check_branch_name(name).map_err(|m| Error::invalid(field, m))
}

/// Paths git printed, separated by NULs.
fn nul_list(text: &str) -> Vec<String> {
    text.split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// What the checkout is in the middle of, if anything.
#[derive(Debug, PartialEq, Eq)]
struct HeadState {
    /// The branch checked out; `None` when HEAD is detached (as during a rebase).
    branch: Option<String>,
    /// `merge`, `rebase`, `cherry-pick` or `revert` when one is under way.
    operation: Option<String>,
}

const HEAD_STATE: &str = local_script!(
    r#"git rev-parse --git-dir >/dev/null || exit 1
branch=$(git symbolic-ref --quiet --short HEAD) || branch=
op=
if git rev-parse --quiet --verify MERGE_HEAD >/dev/null; then op=merge
elif rebasing; then op=rebase
elif git rev-parse --quiet --verify CHERRY_PICK_HEAD >/dev/null; then op=cherry-pick
elif git rev-parse --quiet --verify REVERT_HEAD >/dev/null; then op=revert
fi
printf '%s\0%s' "$branch" "$op""#
);

async fn head_state(provider: &dyn Provider, id: &str) -> Result<HeadState> {
    let out = run(provider, id, HEAD_STATE, &[], None).await?;
    if out.code != 0 {
        return Err(Error::Upstream(format!(
            "the checkout is not a git repository: {}",
            out.reason()
        )));
    }
    let (branch, operation) = out.stdout.split_once('\0').unwrap_or((&out.stdout, ""));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(HeadState { branch: some(branch), operation: some(operation) })
}

fn busy(operation: &str) -> Error {
    Error::Conflict(format!(
        "a {operation} is in progress in the checkout; finish or abort it first"
    ))
}

/// Refuses to start a merge or rebase on top of one that is under way.
async fn refuse_if_busy(provider: &dyn Provider, id: &str) -> Result<()> {
    match head_state(provider, id).await?.operation {
        Some(operation) => Err(busy(&operation)),
        None => Ok(()),
    }
}

/// Refuses to go on unless the checkout is on `expected`, with nothing half done.
async fn expect_branch(provider: &dyn Provider, id: &str, expected: &str) -> Result<()> {
    let state = head_state(provider, id).await?;
    if let Some(operation) = state.operation {
        return Err(busy(&operation));
    }
    match state.branch {
        Some(branch) if branch == expected => Ok(()),
        Some(branch) => Err(Error::Conflict(format!(
            "the checkout is on branch {branch}, not {expected}; nothing was pushed"
        ))),
        None => Err(Error::Conflict(format!(
            "the checkout has no branch checked out (detached HEAD), expected {expected}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_scoped_to_the_scheme_and_host_of_the_clone_url() {
        let scope = |url| credential_scope(url);
        assert_eq!(scope("https://github.com/acme/app.git").as_deref(), Some("https://github.com"));
        assert_eq!(
            scope("http://git.local:8080/acme/app").as_deref(),
            Some("http://git.local:8080")
        );
        assert_eq!(scope("git@github.com:acme/app.git"), None, "ssh never asks for a token");
        assert_eq!(scope("/srv/git/app.git"), None, "a local path never asks for a token");
    }

    #[test]
    fn a_remote_without_an_http_url_keeps_no_token() {
        let remote = Remote::new("main").with_token(Secret::new("t0k"), "/srv/app.git");
        assert!(remote.secret().is_none(), "the token would only sit in the environment");
    }

    #[test]
    fn a_failure_reason_is_git_s_last_lines() {
        let out = Output {
            stdout: String::new(),
            stderr: "hint: a\nhint: b\nerror: c\nfatal: d\nfatal: e\n".into(),
            code: 128,
        };
        assert_eq!(out.reason(), "hint: b\nerror: c\nfatal: d\nfatal: e");
        let silent = Output { stdout: String::new(), stderr: String::new(), code: 3 };
        assert_eq!(silent.reason(), "git exited with status 3");
    }
}
