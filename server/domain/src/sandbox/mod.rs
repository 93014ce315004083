//! Sandboxes: the isolated places where a branch's checkout lives and its agent works.
//!
//! [`Provider`] is the one interface the rest of the domain uses; [`local`] runs sandboxes
//! as bubblewrap-isolated directories on this host (the embedded default) and [`daytona`]
//! runs them as Daytona sandboxes (scale-out). The lifecycle built on top of it (steps,
//! quotas, auto-stop, reconciling) lives in [`crate::sandboxes`].

pub mod daytona;
pub mod local;
mod tail;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use entity::SandboxProvider;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// A script listing (or killing, with their process groups) the processes whose
/// environment holds `tag`, for providers whose commands share one process namespace.
fn tag_scan(tag: &str, kill: bool) -> String {
    // The group is the third field after the command name in /proc/PID/stat; the name,
    // in parentheses, may itself hold spaces.
    let action = if kill {
        r#"group=$(sed 's/.*) //' "$dir/stat" | cut -d' ' -f3); kill -KILL -- "-$group" "$pid" 2>/dev/null"#
    } else {
        r#"echo "$pid""#
    };
    format!(
        r#"for dir in /proc/[0-9]*; do pid=${{dir#/proc/}}; [ "$pid" = "$$" ] && continue; tr '\0' '\n' < "$dir/environ" 2>/dev/null | grep -qxF {tag} && {{ {action}; }}; done; true"#,
        tag = quote(tag),
    )
}

/// `s` as one single-quoted shell word.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What a new sandbox is made from.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// The provider's name for it, `upstream-{login}-{uuid}`, so operators can find it.
    pub name: String,
    /// Who and what it belongs to: `user`, `repository`, `branch`.
    pub labels: BTreeMap<String, String>,
    /// Environment variables every command in it sees.
    pub env: BTreeMap<String, String>,
    /// Minutes without activity after which the provider may stop it by itself.
    pub auto_stop_minutes: u32,
    /// Host paths the sandbox must also reach, read-write (a repository on this host used
    /// as the remote). Only a provider on this host can honour them.
    pub host_paths: Vec<PathBuf>,
}

/// A sandbox's state as its provider reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Creating,
    Running,
    Stopped,
    /// The provider no longer knows it (deleted behind our back, or never finished).
    Missing,
    /// The provider gave up on it, with its reason.
    Failed(String),
}

/// One shell command to run in a sandbox.
#[derive(Clone, Debug)]
pub struct Command {
    /// Run by `bash -c`, so shell syntax works.
    pub script: String,
    /// The directory it starts in; the checkout when `None`. Relative paths are taken from
    /// the checkout.
    pub cwd: Option<String>,
    /// Environment variables on top of the sandbox's own. Secrets go here, never in `script`.
    pub env: BTreeMap<String, String>,
    /// The command is killed after this long.
    pub timeout: Duration,
}

impl Command {
    pub fn new(script: impl Into<String>) -> Self {
        Command {
            script: script.into(),
            cwd: None,
            env: BTreeMap::new(),
            timeout: Duration::from_secs(10 * 60),
        }
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A piece of a running command's life, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    Stdout(String),
    Stderr(String),
    /// Always the last chunk.
    Exit(Exit),
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Stopped through its [`Execution::kill`] token or because the sandbox stopped.
    Killed,
    TimedOut,
}

/// A command that is running: its output as it comes, and a way to stop it.
pub struct Execution {
    /// Ends with one [`Chunk::Exit`], then closes.
    pub output: mpsc::Receiver<Chunk>,
    /// Cancel to kill the command and everything it started.
    pub kill: CancellationToken,
}

impl Execution {
    /// Waits for the end, gathering stdout and stderr together in order.
    pub async fn collect(mut self) -> (String, Exit) {
        let mut text = String::new();
        let mut exit = Exit::Killed;
        while let Some(chunk) = self.output.recv().await {
            match chunk {
                Chunk::Stdout(s) | Chunk::Stderr(s) => text.push_str(&s),
                Chunk::Exit(e) => exit = e,
            }
        }
        (text, exit)
    }
}

/// A URL that reaches a port served inside a sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    pub url: String,
    /// Sent as `x-daytona-preview-token` when the URL is not public.
    pub token: Option<String>,
}

/// Where a sandbox's processes find the agent CLIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentTools {
    /// Installed once on this host in `host_dir`, which every sandbox sees, read-only, at
    /// `seen_as`.
    Shared { host_dir: PathBuf, seen_as: String },
    /// Installed inside each sandbox, under `dir`.
    InSandbox { dir: String },
}

/// A file of a sandbox read as processes there append to it.
#[async_trait]
pub trait Tail: Send {
    /// At most `max` bytes written past what was read so far; none when nothing new is there.
    async fn read(&mut self, max: usize) -> Result<Vec<u8>>;
    /// Returns once the file may have grown since the last read (or at once, when it had
    /// grown before the tail began).
    async fn grown(&mut self);
}

/// One place sandboxes can live. Every method takes the provider's own id for the sandbox,
/// as [`Provider::create`] returned it.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    fn kind(&self) -> SandboxProvider;

    /// Where the checkout lives inside the sandbox; commands start there.
    fn checkout_dir(&self) -> &str;

    /// Set, to be shown to users, when commands do not run isolated (an operator's
    /// explicit choice) or sandboxes cannot run at all.
    fn isolation_warning(&self) -> Option<String> {
        None
    }

    /// Where commands in its sandboxes find the agent CLIs.
    fn agent_tools(&self) -> AgentTools;

    /// Makes a sandbox and leaves it running; returns the provider's id for it.
    async fn create(&self, spec: &Spec) -> Result<String>;
    async fn start(&self, id: &str) -> Result<()>;
    /// Stops it, killing every command still running in it.
    async fn stop(&self, id: &str) -> Result<()>;
    /// Deletes it and everything in it; deleting a missing sandbox succeeds.
    async fn delete(&self, id: &str) -> Result<()>;
    async fn state(&self, id: &str) -> Result<State>;
    /// Starts a command and streams its output; the sandbox must be running.
    async fn exec(&self, id: &str, command: Command) -> Result<Execution>;
    /// Reads a file; `path` is relative to the checkout.
    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>>;
    /// Writes a file, creating its directories; `path` is relative to the checkout.
    async fn write_file(&self, id: &str, path: &str, contents: &[u8]) -> Result<()>;
    async fn preview_url(&self, id: &str, port: u16) -> Result<Preview>;

    /// Reads at most `max` bytes of a file from byte `offset` on; fewer (or none) at its
    /// end. `path` is relative to the checkout.
    async fn read_file_from(
        &self,
        id: &str,
        path: &str,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>> {
        // Limitation: providers without ranged reads fetch the whole file each time.
        let contents = self.read_file(id, path).await?;
        let start = (offset as usize).min(contents.len());
        let end = start.saturating_add(max).min(contents.len());
        Ok(contents[start..end].to_vec())
    }

    /// Follows a file of the checkout from byte `offset` on, creating it empty when it is
    /// missing, if this provider learns at once when a file grows. `None` when it does
    /// not: the file's writer is then better followed through its command's output.
    async fn tail(&self, _id: &str, _path: &str, _offset: u64) -> Result<Option<Box<dyn Tail>>> {
        Ok(None)
    }

    /// Whether any process started with `tag` (`NAME=value`) in its [`Command::env`] is
    /// still alive in the sandbox, whichever server started it.
    async fn tagged_alive(&self, id: &str, tag: &str) -> Result<bool> {
        let (out, exit) = self.exec(id, Command::new(tag_scan(tag, false))).await?.collect().await;
        match exit {
            Exit::Code(0) => Ok(!out.trim().is_empty()),
            _ => Err(Error::Upstream(format!("could not list the sandbox's processes: {out}"))),
        }
    }

    /// Kills every process started with `tag` in its environment, and what it started.
    async fn kill_tagged(&self, id: &str, tag: &str) -> Result<()> {
        let (out, exit) = self.exec(id, Command::new(tag_scan(tag, true))).await?.collect().await;
        match exit {
            Exit::Code(0) => Ok(()),
            _ => Err(Error::Upstream(format!("could not stop the sandbox's processes: {out}"))),
        }
    }
    /// Changes how long it may idle before the provider stops it.
    async fn set_auto_stop(&self, id: &str, minutes: u32) -> Result<()>;
}
