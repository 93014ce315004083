//! Shell commands a user runs in a branch's sandbox from the branch view.
//!
//! A command is started here and runs on its own, whether or not anyone is watching; its
//! output is kept in memory so that a browser connecting late (or reconnecting) replays
//! it from the start and then follows it live. Finished commands are forgotten after a
//! while.
//!
//! Limitation: the output lives in the memory of the server instance that started the
//! command, so with several instances a browser must reach that instance to follow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::sandbox::{Chunk, Exit};
use crate::{branches, sandboxes, Error, Result, Services};

/// How long a finished command's output stays available.
const KEEP_FINISHED: Duration = Duration::from_secs(10 * 60);

/// One thing a command produced, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Stdout(String),
    Stderr(String),
    /// The command could not be run at all (the sandbox could not be prepared, say).
    Failed(String),
    /// The last line of every command.
    Exit(Exit),
}

struct Log {
    user_id: i64,
    lines: Mutex<Vec<Line>>,
    /// The number of lines so far, for followers to wait on.
    length: watch::Sender<usize>,
    kill: CancellationToken,
    finished: Mutex<Option<Instant>>,
}

impl Log {
    fn push(&self, line: Line) {
        let mut lines = self.lines.lock().expect("log lock");
        lines.push(line);
        self.length.send_replace(lines.len());
    }
}

/// The commands this server instance is running or ran recently.
#[derive(Clone, Default)]
pub struct Commands(Arc<Mutex<HashMap<String, Arc<Log>>>>);

impl Commands {
    /// Starts `script` in the branch's sandbox (preparing or starting the sandbox first if
    /// needed) and returns the command's id at once.
    pub async fn start(
        &self,
        services: &Services,
        user_id: i64,
        branch_id: i64,
        script: &str,
    ) -> Result<String> {
        if script.trim().is_empty() {
            return Err(Error::invalid("command", "type a command to run"));
        }
        if script.len() > 16 * 1024 {
            return Err(Error::invalid("command", "a command may be at most 16 KB"));
        }
        branches::find_owned(&services.db, user_id, branch_id).await?;
        self.forget_old();

        let id = uuid::Uuid::new_v4().simple().to_string();
        let log = Arc::new(Log {
            user_id,
            lines: Mutex::new(Vec::new()),
            length: watch::channel(0).0,
            kill: CancellationToken::new(),
            finished: Mutex::new(None),
        });
        self.0.lock().expect("commands lock").insert(id.clone(), log.clone());

        let services = services.clone();
        let script = script.to_owned();
        tokio::spawn(async move {
            tracing::info!(user_id, branch_id, "running a command in a sandbox");
            match sandboxes::run_command(&services, user_id, branch_id, &script).await {
                Err(e) => {
                    log.push(Line::Failed(e.to_string()));
                    log.push(Line::Exit(Exit::Killed));
                }
                Ok(mut execution) => loop {
                    tokio::select! {
                        chunk = execution.output.recv() => match chunk {
                            Some(Chunk::Stdout(text)) => log.push(Line::Stdout(text)),
                            Some(Chunk::Stderr(text)) => log.push(Line::Stderr(text)),
                            Some(Chunk::Exit(exit)) => {
                                log.push(Line::Exit(exit));
                                break;
                            }
                            None => {
                                log.push(Line::Exit(Exit::Killed));
                                break;
                            }
                        },
                        _ = log.kill.cancelled(), if !execution.kill.is_cancelled() => {
                            execution.kill.cancel();
                        }
                    }
                },
            }
            *log.finished.lock().expect("log lock") = Some(Instant::now());
        });
        Ok(id)
    }

    /// Follows a command: every line so far, then each new one, ending after its exit.
    pub fn follow(&self, user_id: i64, id: &str) -> Result<Follower> {
        let log = self.find(user_id, id)?;
        let length = log.length.subscribe();
        Ok(Follower { log, length, next: 0 })
    }

    /// Kills a running command and everything it started.
    pub fn kill(&self, user_id: i64, id: &str) -> Result<()> {
        self.find(user_id, id)?.kill.cancel();
        Ok(())
    }

    fn find(&self, user_id: i64, id: &str) -> Result<Arc<Log>> {
        let commands = self.0.lock().expect("commands lock");
        commands
            .get(id)
            .filter(|log| log.user_id == user_id)
            .cloned()
            .ok_or(Error::NotFound("command"))
    }

    fn forget_old(&self) {
        let now = Instant::now();
        self.0.lock().expect("commands lock").retain(|_, log| {
            log.finished.lock().expect("log lock").is_none_or(|at| now - at < KEEP_FINISHED)
        });
    }
}

/// A reader of one command's lines.
pub struct Follower {
    log: Arc<Log>,
    length: watch::Receiver<usize>,
    next: usize,
}

impl Follower {
    /// The lines not yet read, waiting for at least one; `None` after the exit was read.
    pub async fn next_lines(&mut self) -> Option<Vec<Line>> {
        loop {
            {
                let lines = self.log.lines.lock().expect("log lock");
                if self.next > 0 && matches!(lines.get(self.next - 1), Some(Line::Exit(_))) {
                    return None;
                }
                if lines.len() > self.next {
                    let new = lines[self.next..].to_vec();
                    self.next = lines.len();
                    return Some(new);
                }
            }
            if self.length.changed().await.is_err() {
                return None;
            }
        }
    }
}
