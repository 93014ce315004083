//! Sandboxes on this host: one directory per sandbox, every command run under bubblewrap.
//!
//! A sandbox is `<root>/<id>/` holding `workspace/` (the checkout, seen as `/workspace`),
//! `home/` (a private home, seen as `/home/sandbox`), `sandbox.json` (what it was made
//! with) and `state` (`running` or `stopped`). Each command gets fresh mount, PID, IPC, UTS
//! and user namespaces in which only those two directories (and the host paths the sandbox
//! was made with) are writable, a chosen part of `/etc` and all of `/usr` are read-only,
//! and nothing else of the host exists: not the server's data directory, not the other
//! sandboxes, not the server's environment (bubblewrap is started with a cleared
//! environment). The network is shared with the host, because agents must reach their
//! model APIs.
//!
//! Every command starts in a new session, so it and all it leaves running share one
//! process group, and every process carries `UPSTREAM_SANDBOX=<id>` in its environment.
//! Stopping a sandbox kills each group found that way; killing bubblewrap's init kills the
//! whole PID namespace, so even a process that made its own session inside is gone.
//! Processes started by a command may outlive it (a dev server for a preview) until the
//! sandbox stops.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use entity::SandboxProvider;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::tail::Watcher;
use super::{AgentTools, Chunk, Command, Execution, Exit, Preview, Provider, Spec, State, Tail};
use crate::{Error, Result};

/// The marker every process of a sandbox carries, to find them all when it stops.
const MARKER: &str = "UPSTREAM_SANDBOX";
const BUBBLEWRAP: &str = "bwrap";
const CHECKOUT: &str = "/workspace";
const HOME: &str = "/home/sandbox";
/// Where sandboxes see the shared agent CLIs.
const TOOLS: &str = "/opt/agents";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The parts of `/etc` programs need (name resolution, certificates, users, the dynamic
/// linker, Debian's alternatives); the rest, which may hold host secrets, stays hidden.
const ETC: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "gai.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "passwd",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
];

/// How commands are kept apart from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    Bubblewrap,
    /// Plain processes in the sandbox's directory: only when the operator chose it
    /// explicitly, because a command can then read anything the server can.
    None,
}

/// The local provider.
pub struct LocalProvider {
    root: PathBuf,
    isolation: Isolation,
    /// Why bubblewrap cannot run here, when it cannot; commands are then refused.
    unavailable: Option<String>,
    /// The bubblewrap program.
    program: String,
    /// The agent CLIs installed on this host, shown read-only to every sandbox.
    tools_dir: Option<PathBuf>,
    /// Wakes the tails of files in sandboxes; started with the first tail, `None` when
    /// the kernel refused (then files are followed through command output instead).
    watcher: OnceLock<Option<Arc<Watcher>>>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    name: String,
    labels: BTreeMap<String, String>,
    host_paths: Vec<PathBuf>,
}

impl LocalProvider {
    /// A provider keeping its sandboxes under `root`. With bubblewrap isolation it first
    /// checks that bubblewrap can make its namespaces here; if it cannot, the provider
    /// still answers but refuses to create sandboxes or run commands, saying why.
    pub async fn new(root: PathBuf, isolation: Isolation) -> Self {
        Self::with_bubblewrap(root, isolation, BUBBLEWRAP).await
    }

    /// The same, with bubblewrap found at `program` (a test points it at nothing).
    pub async fn with_bubblewrap(root: PathBuf, isolation: Isolation, program: &str) -> Self {
        let unavailable = match isolation {
            Isolation::Bubblewrap => bubblewrap_check(program).await.err(),
            Isolation::None => None,
        };
        LocalProvider {
            root,
            isolation,
            unavailable,
            program: program.to_owned(),
            tools_dir: None,
            watcher: OnceLock::new(),
        }
    }

    /// Shares the agent CLIs installed in `dir` (on this host) with every sandbox,
    /// read-only, instead of installing them in each one.
    pub fn with_agent_tools(mut self, dir: PathBuf) -> Self {
        self.tools_dir = Some(dir);
        self
    }

    /// Why sandboxes cannot run on this host, if they cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    fn refuse_if_unavailable(&self) -> Result<()> {
        match &self.unavailable {
            Some(why) => Err(Error::NotConfigured(why.clone())),
            None => Ok(()),
        }
    }

    fn dir(&self, id: &str) -> Result<PathBuf> {
        // Ids are ours (`upstream-…`), but they arrive as strings: keep them to one
        // plain path component.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Error::NotFound("sandbox"));
        }
        Ok(self.root.join(id))
    }

    async fn meta(&self, id: &str) -> Result<Meta> {
        let raw = tokio::fs::read(self.dir(id)?.join("sandbox.json"))
            .await
            .map_err(|_| Error::NotFound("sandbox"))?;
        serde_json::from_slice(&raw).map_err(|e| {
            Error::Internal(format!("sandbox {id} has an unreadable sandbox.json: {e}"))
        })
    }

    async fn set_state(&self, id: &str, state: &str) -> Result<()> {
        tokio::fs::write(self.dir(id)?.join("state"), state).await.map_err(io_error)
    }

    /// The host path of `path` inside the checkout, refusing anything that could leave it.
    ///
    /// The checkout belongs to the agent, which may plant symbolic links pointing anywhere
    /// on the host; the parent directory is resolved and must stay inside the checkout,
    /// and the file itself is opened without following a link.
    async fn checkout_path(&self, id: &str, path: &str) -> Result<PathBuf> {
        let relative = Path::new(path);
        if path.is_empty() || relative.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(Error::invalid("path", "give a path inside the checkout, without `..`"));
        }
        let checkout = self.dir(id)?.join("workspace");
        let checkout =
            tokio::fs::canonicalize(&checkout).await.map_err(|_| Error::NotFound("sandbox"))?;
        let full = checkout.join(relative);
        let parent = full.parent().unwrap_or(&checkout);
        if let Ok(real_parent) = tokio::fs::canonicalize(parent).await {
            if !real_parent.starts_with(&checkout) {
                return Err(Error::invalid("path", "that path leads outside the checkout"));
            }
        }
        Ok(full)
    }

    /// Opens a file of the checkout for reading, without following a link at its end.
    async fn open_in_checkout(&self, id: &str, path: &str) -> Result<tokio::fs::File> {
        let full = self.checkout_path(id, path).await?;
        tokio::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&full)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound("file"),
                _ => Error::invalid("path", format!("{path} cannot be read: {e}")),
            })
    }

    /// The process that runs `command` for sandbox `id`.
    fn process(
        &self,
        id: &str,
        dir: &Path,
        meta: &Meta,
        command: &Command,
    ) -> Result<tokio::process::Command> {
        let cwd = match command.cwd.as_deref() {
            None | Some("") => PathBuf::from(CHECKOUT),
            Some(cwd) if cwd.starts_with('/') => PathBuf::from(cwd),
            Some(cwd) => Path::new(CHECKOUT).join(cwd),
        };
        let mut env: BTreeMap<String, String> = BTreeMap::from([
            ("PATH".into(), PATH.into()),
            ("HOME".into(), HOME.into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "dumb".into()),
        ]);
        env.extend(command.env.clone());
        env.insert(MARKER.into(), id.into());

        let mut process = match self.isolation {
            Isolation::Bubblewrap => {
                let mut bwrap = tokio::process::Command::new(&self.program);
                bwrap.args(bubblewrap_args(dir, &meta.host_paths));
                if let Some(tools) = &self.tools_dir {
                    bwrap.arg("--ro-bind").arg(tools).arg(TOOLS);
                }
                bwrap.arg("--chdir").arg(&cwd);
                bwrap.args(["--", "bash", "-c", &command.script]);
                bwrap
            }
            Isolation::None => {
                // The same layout, seen through the host's own paths.
                let host_cwd =
                    dir.join("workspace").join(cwd.strip_prefix(CHECKOUT).unwrap_or(&cwd));
                env.insert("HOME".into(), dir.join("home").display().to_string());
                let mut bash = tokio::process::Command::new("bash");
                bash.args(["-c", &command.script]).current_dir(host_cwd);
                bash
            }
        };
        process
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        // A new session: its own process group to kill as one, and no controlling
        // terminal through which a command could type into the operator's shell.
        unsafe {
            process.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(process)
    }
}

/// Bubblewrap's arguments for a sandbox directory, up to (not including) `--chdir`.
fn bubblewrap_args(dir: &Path, host_paths: &[PathBuf]) -> Vec<String> {
    let mut args = namespace_args();
    let path = |p: &Path| p.display().to_string();
    args.extend(["--bind".into(), path(&dir.join("workspace")), CHECKOUT.into()]);
    args.extend(["--bind".into(), path(&dir.join("home")), HOME.into()]);
    for host in host_paths {
        args.extend(["--bind".into(), path(host), path(host)]);
    }
    args
}

/// The namespaces and the read-only view of the host that every sandbox shares.
fn namespace_args() -> Vec<String> {
    let mut args: Vec<String> = [
        "--unshare-user",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .to_vec();
    for name in ETC {
        args.extend(["--ro-bind-try".into(), format!("/etc/{name}"), format!("/etc/{name}")]);
    }
    args
}

/// Runs a trivial command in the namespaces every sandbox needs.
async fn bubblewrap_check(program: &str) -> std::result::Result<(), String> {
    let output = tokio::process::Command::new(program)
        .args(namespace_args())
        .args(["--", "true"])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .await;
    let advice = "install the `bubblewrap` package (and allow unprivileged user namespaces), or \
                  set SANDBOX_ISOLATION=none to run sandbox commands without isolation";
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "bubblewrap cannot isolate sandboxes on this host ({}): {advice}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("bubblewrap is not available ({e}): {advice}")),
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn kind(&self) -> SandboxProvider {
        SandboxProvider::Local
    }

    fn checkout_dir(&self) -> &str {
        CHECKOUT
    }

    fn isolation_warning(&self) -> Option<String> {
        if let Some(why) = &self.unavailable {
            return Some(format!("Sandboxes cannot run on this server: {why}."));
        }
        (self.isolation == Isolation::None).then(|| {
            "Sandboxes on this server are not isolated: commands and agents can read and \
             change anything the server can (SANDBOX_ISOLATION=none)."
                .to_owned()
        })
    }

    fn agent_tools(&self) -> AgentTools {
        match (&self.tools_dir, self.isolation) {
            (Some(dir), Isolation::Bubblewrap) => {
                AgentTools::Shared { host_dir: dir.clone(), seen_as: TOOLS.into() }
            }
            (Some(dir), Isolation::None) => {
                AgentTools::Shared { host_dir: dir.clone(), seen_as: dir.display().to_string() }
            }
            (None, _) => AgentTools::InSandbox { dir: format!("{HOME}/.upstream/agents") },
        }
    }

    async fn create(&self, spec: &Spec) -> Result<String> {
        self.refuse_if_unavailable()?;
        let id = spec.name.clone();
        let dir = self.dir(&id)?;
        if tokio::fs::try_exists(&dir).await.unwrap_or(false) {
            return Err(Error::Conflict(format!("a sandbox named {id} already exists")));
        }
        for sub in ["workspace", "home"] {
            tokio::fs::create_dir_all(dir.join(sub)).await.map_err(io_error)?;
        }
        // The sandbox's secrets are not kept here: they reach each command through its
        // environment, from the database where they are sealed.
        let meta = Meta {
            name: id.clone(),
            labels: spec.labels.clone(),
            host_paths: spec.host_paths.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Internal(e.to_string()))?;
        tokio::fs::write(dir.join("sandbox.json"), json).await.map_err(io_error)?;
        self.set_state(&id, "running").await?;
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        self.refuse_if_unavailable()?;
        self.meta(id).await?;
        self.set_state(id, "running").await
    }

    async fn stop(&self, id: &str) -> Result<()> {
        self.meta(id).await?;
        kill_marked(id).await;
        self.set_state(id, "stopped").await
    }

    async fn delete(&self, id: &str) -> Result<()> {
        let dir = self.dir(id)?;
        kill_marked(id).await;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn state(&self, id: &str) -> Result<State> {
        let dir = self.dir(id)?;
        if !tokio::fs::try_exists(dir.join("workspace")).await.unwrap_or(false) {
            return Ok(State::Missing);
        }
        match tokio::fs::read_to_string(dir.join("state")).await.as_deref() {
            Ok("running") => Ok(State::Running),
            Ok("stopped") => Ok(State::Stopped),
            _ => Ok(State::Missing),
        }
    }

    async fn exec(&self, id: &str, command: Command) -> Result<Execution> {
        self.refuse_if_unavailable()?;
        let dir = self.dir(id)?;
        let meta = self.meta(id).await?;
        if self.state(id).await? != State::Running {
            return Err(Error::Conflict("the sandbox is stopped; start it first".into()));
        }
        let mut child = self
            .process(id, &dir, &meta, &command)?
            .spawn()
            .map_err(|e| Error::Internal(format!("could not start a sandbox command: {e}")))?;
        let group = child.id().map(|pid| pid as i32);
        let (tx, rx) = mpsc::channel(64);
        let kill = CancellationToken::new();

        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = [
            tokio::spawn(forward(stdout, tx.clone(), Chunk::Stdout)),
            tokio::spawn(forward(stderr, tx.clone(), Chunk::Stderr)),
        ];
        let token = kill.clone();
        tokio::spawn(async move {
            let exit = tokio::select! {
                status = child.wait() => match status {
                    Ok(status) => status.code().map(Exit::Code).unwrap_or(Exit::Killed),
                    Err(_) => Exit::Killed,
                },
                _ = token.cancelled() => Exit::Killed,
                _ = tokio::time::sleep(command.timeout) => Exit::TimedOut,
            };
            if !matches!(exit, Exit::Code(_)) {
                if let Some(group) = group {
                    kill_group(group);
                }
                let _ = child.wait().await;
            }
            // Processes the command left running still hold its output open; take what
            // they have written by now and let the rest go.
            for reader in readers {
                let abort = reader.abort_handle();
                if tokio::time::timeout(Duration::from_millis(200), reader).await.is_err() {
                    abort.abort();
                }
            }
            let _ = tx.send(Chunk::Exit(exit)).await;
        });
        Ok(Execution { output: rx, kill })
    }

    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let mut file = self.open_in_checkout(id, path).await?;
        let mut contents = Vec::new();
        file.read_to_end(&mut contents).await.map_err(io_error)?;
        Ok(contents)
    }

    async fn write_file(&self, id: &str, path: &str, contents: &[u8]) -> Result<()> {
        let full = self.checkout_path(id, path).await?;
        if let Some(parent) = full.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        }
        // Directories just made may hold links the agent planted meanwhile; check again.
        let full = self.checkout_path(id, path).await?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&full)
            .await
            .map_err(|e| Error::invalid("path", format!("{path} cannot be written: {e}")))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, contents).await.map_err(io_error)
    }

    async fn preview_url(&self, id: &str, port: u16) -> Result<Preview> {
        self.meta(id).await?;
        // Local sandboxes share the host's network, so a port they serve is the host's.
        Ok(Preview { url: format!("http://127.0.0.1:{port}"), token: None })
    }

    async fn read_file_from(
        &self,
        id: &str,
        path: &str,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>> {
        use tokio::io::AsyncSeekExt;
        let mut file = self.open_in_checkout(id, path).await?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io_error)?;
        let mut contents = Vec::new();
        file.take(max as u64).read_to_end(&mut contents).await.map_err(io_error)?;
        Ok(contents)
    }

    async fn tail(&self, id: &str, path: &str, offset: u64) -> Result<Option<Box<dyn Tail>>> {
        let watcher = self.watcher.get_or_init(|| match Watcher::start() {
            Ok(watcher) => Some(watcher),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch files; run logs are followed through pipes");
                None
            }
        });
        let Some(watcher) = watcher else { return Ok(None) };
        let full = self.checkout_path(id, path).await?;
        if let Some(parent) = full.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        }
        // Directories just made may hold links the agent planted meanwhile; check again.
        let full = self.checkout_path(id, path).await?;
        let open = |create: bool| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut options = std::fs::OpenOptions::new();
            match create {
                true => options.append(true).create(true),
                false => options.read(true),
            };
            options.custom_flags(libc::O_NOFOLLOW).open(&full)
        };
        let refused =
            |e: std::io::Error| Error::invalid("path", format!("{path} cannot be followed: {e}"));
        open(true).map_err(refused)?;
        let file = open(false).map_err(refused)?;
        Ok(Some(Box::new(watcher.tail(file, &full, offset)?)))
    }

    async fn tagged_alive(&self, id: &str, tag: &str) -> Result<bool> {
        Ok(!tagged_groups(id, tag).await?.is_empty())
    }

    async fn kill_tagged(&self, id: &str, tag: &str) -> Result<()> {
        for group in tagged_groups(id, tag).await? {
            kill_group(group);
        }
        Ok(())
    }

    async fn set_auto_stop(&self, id: &str, _minutes: u32) -> Result<()> {
        // The server's own auto-stop sweep stops local sandboxes; nothing to tell them.
        self.meta(id).await.map(|_| ())
    }
}

/// Sends what `source` produces as chunks, keeping multi-byte characters whole.
async fn forward(
    mut source: impl AsyncRead + Unpin,
    tx: mpsc::Sender<Chunk>,
    wrap: fn(String) -> Chunk,
) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match source.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buffer[..n]);
        let complete = complete_utf8_prefix(&pending);
        if complete > 0 {
            let text = String::from_utf8_lossy(&pending[..complete]).into_owned();
            pending.drain(..complete);
            if tx.send(wrap(text)).await.is_err() {
                return;
            }
        }
    }
    if !pending.is_empty() {
        let _ = tx.send(wrap(String::from_utf8_lossy(&pending).into_owned())).await;
    }
}

/// How many leading bytes of `bytes` do not end inside a UTF-8 character.
fn complete_utf8_prefix(bytes: &[u8]) -> usize {
    // A character is at most 4 bytes: look back at most 3 for a lead byte whose sequence
    // is not finished yet.
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for its lead
        }
        let width = match byte {
            b if b & 0b1000_0000 == 0 => 1,
            b if b & 0b1110_0000 == 0b1100_0000 => 2,
            b if b & 0b1111_0000 == 0b1110_0000 => 3,
            b if b & 0b1111_1000 == 0b1111_0000 => 4,
            _ => 1,
        };
        return if width > back { bytes.len() - back } else { bytes.len() };
    }
    bytes.len()
}

fn kill_group(group: i32) {
    // SAFETY: killpg only sends a signal; a group that no longer exists is an error we
    // can ignore.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}

/// Kills every process group holding a process marked as belonging to sandbox `id`.
async fn kill_marked(id: &str) {
    let markers = [format!("{MARKER}={id}")];
    let groups = tokio::task::spawn_blocking(move || marked_groups(&markers)).await;
    for group in groups.unwrap_or_default() {
        kill_group(group);
    }
}

/// The process groups of sandbox `id`'s processes started with `tag` in their environment.
async fn tagged_groups(id: &str, tag: &str) -> Result<Vec<i32>> {
    let markers = [format!("{MARKER}={id}"), tag.to_owned()];
    tokio::task::spawn_blocking(move || marked_groups(&markers))
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The process groups of the processes whose environment holds every one of `markers`.
fn marked_groups(markers: &[String]) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut groups = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        let has = |marker: &String| environ.split(|b| *b == 0).any(|var| var == marker.as_bytes());
        if !markers.iter().all(has) {
            continue;
        }
        // SAFETY: getpgid reads a process's group; it fails harmlessly if it is gone.
        let group = unsafe { libc::getpgid(pid) };
        if group > 1 && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

fn io_error(e: std::io::Error) -> Error {
    Error::Internal(format!("sandbox storage: {e}"))
}

#[cfg(test)]
mod tests {
    use super::complete_utf8_prefix;

    #[test]
    fn a_character_split_across_reads_is_held_back_until_whole() {
        let text = "añ€😀".as_bytes();
        assert_eq!(complete_utf8_prefix(text), text.len());
        assert_eq!(complete_utf8_prefix(&text[..2]), 1); // "a" + half of "ñ"
        assert_eq!(complete_utf8_prefix(&text[..5]), 3); // "añ" + two thirds of "€"
        assert_eq!(complete_utf8_prefix(&text[..8]), 6); // "añ€" + a quarter of "😀"
        assert_eq!(complete_utf8_prefix(b""), 0);
    }
}
