//! Installing the CLIs on this machine with npm.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::fs;
use tokio::process::Command;
use tokio::sync::Mutex;

use crate::script::{staging_prefix, INSTALL_HOME, NPM_CACHE, NPM_FLAGS};
use crate::Agent;

/// An install that takes longer than this has hung: three installs take under a minute.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// An unfinished install older than this was abandoned by a process that died.
const ABANDONED_AFTER: Duration = Duration::from_secs(60 * 60);

/// How much of npm's output an error keeps.
const STDERR_TAIL: usize = 2000;

/// One install per agent at a time in this process: a second caller waits and then finds
/// the CLI there. Other processes are settled by the final rename instead.
static INSTALLING: [Mutex<()>; 3] =
    [Mutex::const_new(()), Mutex::const_new(()), Mutex::const_new(())];

/// Makes each staging directory's name unique within this process.
static NEXT_STAGING: AtomicU64 = AtomicU64::new(0);

/// Why a CLI could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("could not prepare {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not run npm to install {package}; is Node.js installed? ({source})")]
    NpmUnavailable {
        package: String,
        #[source]
        source: io::Error,
    },
    #[error("npm install {package} failed ({status}): {output}")]
    NpmFailed {
        package: String,
        status: String,
        /// The end of npm's stderr, or of its stdout when stderr is empty.
        output: String,
    },
    #[error("npm install {package} did not finish within {} minutes", timeout.as_secs() / 60)]
    TimedOut { package: String, timeout: Duration },
    #[error(
        "npm installed {package} but {} is missing; were its install scripts blocked?",
        program.display()
    )]
    MissingProgram { package: String, program: PathBuf },
}

/// The directory the CLIs are installed in, each pinned version in a directory of its own.
#[derive(Clone, Debug)]
pub struct Tools {
    root: PathBuf,
}

impl Tools {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Tools { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the executable of `agent` is once installed.
    pub fn program(&self, agent: Agent) -> PathBuf {
        self.root.join(agent.install_dir()).join("node_modules").join(".bin").join(agent.binary())
    }

    pub fn is_installed(&self, agent: Agent) -> bool {
        self.program(agent).exists()
    }

    /// Installs the pinned version of `agent` unless it is there already, and returns the
    /// path of its executable.
    ///
    /// npm installs into a staging directory that is renamed into place only when the
    /// install is complete, so a program that exists is always whole. Callers in several
    /// processes may race: the first rename wins and the others drop their copies.
    pub async fn ensure(&self, agent: Agent) -> Result<PathBuf, InstallError> {
        let program = self.program(agent);
        if program.exists() {
            return Ok(program);
        }
        let _installing = INSTALLING[agent as usize].lock().await;
        if program.exists() {
            return Ok(program);
        }

        let root = self.root.display();
        let (name, version) = (agent.as_str(), agent.version());
        tracing::info!(agent = name, version, %root, "installing agent cli");
        let started = Instant::now();
        fs::create_dir_all(&self.root).await.map_err(|source| io_error(&self.root, source))?;
        self.remove_abandoned(agent).await;

        let staging = self.root.join(format!(
            "{}{}-{}",
            staging_prefix(agent),
            std::process::id(),
            NEXT_STAGING.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(error) = self.npm_install(agent, &staging).await {
            remove(&staging).await;
            return Err(error);
        }
        settle(&staging, &self.root.join(agent.install_dir()), &program).await?;

        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(agent = agent.as_str(), elapsed_ms, "installed agent cli");
        Ok(program)
    }

    async fn npm_install(&self, agent: Agent, staging: &Path) -> Result<(), InstallError> {
        let package = format!("{}@{}", agent.package(), agent.version());
        let home = self.root.join(INSTALL_HOME);
        let mut command = Command::new("npm");
        command
            .arg("install")
            .arg("--prefix")
            .arg(staging)
            .args(NPM_FLAGS)
            .arg(&package)
            .env("npm_config_cache", self.root.join(NPM_CACHE))
            .env("npm_config_update_notifier", "false")
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A timed-out install must not go on writing into a directory being removed.
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|source| InstallError::NpmUnavailable { package: package.clone(), source })?;
        let output = match tokio::time::timeout(INSTALL_TIMEOUT, child.wait_with_output()).await {
            Ok(output) => output.map_err(|source| io_error(staging, source))?,
            Err(_) => return Err(InstallError::TimedOut { package, timeout: INSTALL_TIMEOUT }),
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let shown = if stderr.trim().is_empty() { stdout } else { stderr };
            let status = output.status.to_string();
            return Err(InstallError::NpmFailed { package, status, output: tail(&shown) });
        }

        let program = staging.join("node_modules").join(".bin").join(agent.binary());
        if !program.exists() {
            return Err(InstallError::MissingProgram { package, program });
        }
        Ok(())
    }

    /// Removes the staging directories of installs of `agent` that were abandoned long
    /// ago. Best effort: leftovers cost only disk space.
    async fn remove_abandoned(&self, agent: Agent) {
        let Ok(mut entries) = fs::read_dir(&self.root).await else { return };
        let prefix = staging_prefix(agent);
        while let Ok(Some(entry)) = entries.next_entry().await {
            let is_staging = entry.file_name().to_string_lossy().starts_with(&prefix);
            let modified = entry.metadata().await.and_then(|metadata| metadata.modified());
            let age = modified.ok().and_then(|time| SystemTime::now().duration_since(time).ok());
            if is_staging && age.is_some_and(|age| age > ABANDONED_AFTER) {
                tracing::debug!(path = %entry.path().display(), "removing abandoned agent install");
                remove(&entry.path()).await;
            }
        }
    }
}

/// Moves a finished install into place. When the place is taken, another install got
/// there first: its copy serves, and this one is dropped.
async fn settle(staging: &Path, target: &Path, program: &Path) -> Result<(), InstallError> {
    let Err(source) = fs::rename(staging, target).await else {
        return Ok(());
    };
    remove(staging).await;
    if program.exists() {
        Ok(())
    } else {
        Err(io_error(target, source))
    }
}

async fn remove(path: &Path) {
    if let Err(error) = fs::remove_dir_all(path).await {
        if error.kind() != io::ErrorKind::NotFound {
            let path = path.display();
            tracing::warn!(%path, %error, "could not remove an unfinished agent install");
        }
    }
}

fn io_error(path: &Path, source: io::Error) -> InstallError {
    InstallError::Io { path: path.to_owned(), source }
}

/// The last [`STDERR_TAIL`] characters of `text`, trimmed.
fn tail(text: &str) -> String {
    let text = text.trim();
    let skip = text.chars().count().saturating_sub(STDERR_TAIL);
    match text.char_indices().nth(skip) {
        Some((start, _)) if skip > 0 => format!("…{}", &text[start..]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(dir: &Path, agent: Agent) -> PathBuf {
        let bin = dir.join("node_modules").join(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        let program = bin.join(agent.binary());
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        program
    }

    #[tokio::test]
    async fn a_finished_install_is_moved_into_place() {
        let root = tempfile::tempdir().unwrap();
        let tools = Tools::new(root.path());
        let staging = root.path().join("staging");
        fake_install(&staging, Agent::Codex);
        let target = root.path().join(Agent::Codex.install_dir());

        settle(&staging, &target, &tools.program(Agent::Codex)).await.unwrap();

        assert!(tools.is_installed(Agent::Codex), "the program should be in place");
        assert!(!staging.exists(), "the staging directory should be gone");
    }

    #[tokio::test]
    async fn an_install_that_lost_the_race_drops_its_copy_and_succeeds() {
        let root = tempfile::tempdir().unwrap();
        let tools = Tools::new(root.path());
        let target = root.path().join(Agent::Codex.install_dir());
        fake_install(&target, Agent::Codex);
        let staging = root.path().join("staging");
        fake_install(&staging, Agent::Codex);

        settle(&staging, &target, &tools.program(Agent::Codex)).await.unwrap();

        assert!(tools.is_installed(Agent::Codex));
        assert!(!staging.exists(), "the losing copy should be removed");
    }

    #[tokio::test]
    async fn a_broken_install_in_the_way_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let tools = Tools::new(root.path());
        let target = root.path().join(Agent::Codex.install_dir());
        std::fs::create_dir_all(target.join("leftover")).unwrap();
        let staging = root.path().join("staging");
        fake_install(&staging, Agent::Codex);

        let error = settle(&staging, &target, &tools.program(Agent::Codex)).await.unwrap_err();

        assert!(error.to_string().contains(&Agent::Codex.install_dir()), "{error}");
    }

    #[tokio::test]
    async fn an_installed_agent_is_not_installed_again() {
        let root = tempfile::tempdir().unwrap();
        let tools = Tools::new(root.path());
        let program =
            fake_install(&root.path().join(Agent::Opencode.install_dir()), Agent::Opencode);

        assert_eq!(tools.ensure(Agent::Opencode).await.unwrap(), program);
    }

    #[test]
    fn the_tail_of_long_output_is_kept() {
        assert_eq!(tail("  short\n"), "short");
        let long = format!("{}end", "x".repeat(5000));
        let kept = tail(&long);
        assert!(kept.starts_with('…') && kept.ends_with("end"), "{kept}");
        assert_eq!(kept.chars().count(), STDERR_TAIL + 1);
    }
}
