//! The task that carries out one run, from the queue to the saved reply, and the taking
//! up of runs that lost their server.
//!
//! The agent runs in the sandbox under a small shell wrapper:
//!
//! ```text
//! timeout -k 10 <secs> <agent …> </dev/null 2>>RUN.err >>RUN.log; echo $? >RUN.exit
//! ```
//!
//! and this task follows the log as it grows: woken by the kernel on a local sandbox, or,
//! where the provider cannot say when a file grows (Daytona), through the command's output
//! (`| tee -p RUN.log` in place of `>>RUN.log`). Either way the log, error and exit files
//! hold everything for a server that takes the run up later. The files live under the
//! checkout's `.git/`, which git never commits and agents leave alone.

use std::sync::Arc;
use std::time::Duration;

use agents::{Agent, Tools};
use chrono::Utc;
use entity::{branch, message, run, BranchStatus, MessageRole, RunStatus};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tokio_util::sync::CancellationToken;

use super::recorder::Batch;
use super::reply::{says_finished, Reply};
use super::{from_entity, queue, Live, RunEvent, RunNote, CONTINUE_PROMPT};
use crate::sandbox::{AgentTools, Chunk, Command, Execution, Exit, Tail};
use crate::{credentials, repositories, sandboxes, Error, Result, Services};

/// Where a run's files live, relative to the checkout.
const RUN_DIR: &str = ".git/upstream-runs";
/// The variable that marks every process of a run, to find them after a restart.
const TAG: &str = "UPSTREAM_RUN";
/// Exit status of `timeout` when it had to stop the agent.
const TIMED_OUT: [i32; 2] = [124, 137];
/// The most of the log read at once when taking a run up again.
const READ_CHUNK: usize = 1 << 20;

/// The value of [`TAG`] for a run in a sandbox. The sandbox's id makes it unique beyond
/// one database, where processes of several sandboxes share one process table.
fn tag_value(run_id: i64, sandbox_id: &str) -> String {
    format!("{run_id}@{sandbox_id}")
}

fn tag(run_id: i64, sandbox_id: &str) -> String {
    format!("{TAG}={}", tag_value(run_id, sandbox_id))
}

/// Starts the branch's oldest queued run unless a run is already under way there.
///
/// The claim is one statement, so that two instances (or two tasks) dispatching the same
/// branch at once start it only once, and SQLite never has to upgrade a read to a write.
pub(super) async fn dispatch(services: &Services, branch_id: i64) -> Result<()> {
    let Some(next) = run::Entity::find()
        .filter(run::Column::BranchId.eq(branch_id))
        .filter(run::Column::Status.eq(RunStatus::Queued))
        .order_by_asc(run::Column::Id)
        .one(&services.db)
        .await?
    else {
        return Ok(());
    };
    let running = Query::select()
        .expr(Expr::val(1))
        .from(run::Entity)
        .and_where(run::Column::BranchId.eq(branch_id))
        .and_where(run::Column::Status.eq(RunStatus::Running))
        .to_owned();
    let claimed = run::Entity::update_many()
        .col_expr(run::Column::Status, Expr::value(RunStatus::Running))
        .col_expr(run::Column::StartedAt, Expr::value(Some(Utc::now())))
        .col_expr(run::Column::LeaseOwner, Expr::value(Some(services.runs.instance.to_string())))
        .col_expr(run::Column::LeaseExpiresAt, Expr::value(Some(lease_end(services))))
        .filter(run::Column::Id.eq(next.id))
        .filter(run::Column::Status.eq(RunStatus::Queued))
        .filter(Expr::exists(running).not())
        .exec(&services.db)
        .await?;
    if claimed.rows_affected == 1 {
        let run = run::Entity::find_by_id(next.id)
            .one(&services.db)
            .await?
            .ok_or(Error::NotFound("run"))?;
        spawn(services.clone(), run, Start::Fresh);
    }
    Ok(())
}

fn lease_end(services: &Services) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(services.runs.settings.lease).unwrap_or_default()
}

/// How a run's task begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// The run was just claimed from the queue.
    Fresh,
    /// The run was under way on a server that is gone; take it up from its stored offset.
    TakeUp,
}

fn spawn(services: Services, run: run::Model, start: Start) {
    let token = CancellationToken::new();
    {
        let mut active = services.runs.active.lock().expect("runs lock");
        if active.contains_key(&run.id) {
            return;
        }
        active.insert(run.id, token.clone());
    }
    tokio::spawn(async move {
        let (run_id, branch_id) = (run.id, run.branch_id);
        keep_leases(&services);
        let mut driver = Driver::new(&services, run, token);
        if let Err(e) = driver.carry_out(start).await {
            tracing::error!(run_id, error = %e, "a run failed inside the engine");
            let _ = driver.finish(RunStatus::Error, Some(e.to_string())).await;
        }
        services.runs.active.lock().expect("runs lock").remove(&run_id);
        if let Err(e) = dispatch(&services, branch_id).await {
            tracing::error!(branch_id, error = %e, "could not start the next queued run");
        }
    });
}

/// Renews the leases of every run this instance carries out, and cancels those the user
/// asked (through any instance) to stop. One task and two statements per period for the
/// whole instance, however many runs it carries out. Started with the first run.
fn keep_leases(services: &Services) {
    let runs = &services.runs;
    runs.leases_kept.get_or_init(|| {
        tokio::spawn(renew_leases(services.clone()));
    });
}

async fn renew_leases(services: Services) {
    let period = services.runs.settings.lease / 3;
    let me = services.runs.instance.to_string();
    loop {
        tokio::time::sleep(period).await;
        if services.runs.active_count() == 0 {
            continue;
        }
        let renewed = run::Entity::update_many()
            .col_expr(run::Column::LeaseExpiresAt, Expr::value(Some(lease_end(&services))))
            .filter(run::Column::LeaseOwner.eq(me.clone()))
            .filter(run::Column::Status.eq(RunStatus::Running))
            .exec(&services.db)
            .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "could not renew the leases of this instance's runs");
            continue;
        }
        let held: std::result::Result<Vec<(i64, bool)>, _> = run::Entity::find()
            .select_only()
            .columns([run::Column::Id, run::Column::CancelRequested])
            .filter(run::Column::LeaseOwner.eq(me.clone()))
            .filter(run::Column::Status.eq(RunStatus::Running))
            .into_tuple()
            .all(&services.db)
            .await;
        let held = match held {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "could not read this instance's runs");
                continue;
            }
        };
        let active = services.runs.active.lock().expect("runs lock").clone();
        for (run_id, token) in active {
            match held.iter().find(|(id, _)| *id == run_id) {
                Some((_, true)) => token.cancel(),
                Some(_) => {}
                None => tracing::warn!(run_id, "lost the lease on a run"),
            }
        }
    }
}

/// Asks for the run to stop, wherever it is carried out.
pub(super) async fn stop(services: &Services, run: run::Model) -> Result<()> {
    run::Entity::update_many()
        .col_expr(run::Column::CancelRequested, Expr::value(true))
        .filter(run::Column::Id.eq(run.id))
        .exec(&services.db)
        .await?;
    let local = services.runs.active.lock().expect("runs lock").get(&run.id).cloned();
    match local {
        Some(token) => token.cancel(),
        // Another instance holds it and sees the request at its next renewal, or nobody
        // does and it is taken up (and stopped) at the next recovery sweep.
        None => {
            recover(services, false).await?;
        }
    }
    Ok(())
}

/// Takes up runs left running without a live task: all of them at start-up on a single
/// instance, else those whose lease ran out. Also starts queued runs nobody started.
pub(super) async fn recover(services: &Services, at_start: bool) -> Result<usize> {
    let now = Utc::now();
    let mut query = run::Entity::find().filter(run::Column::Status.eq(RunStatus::Running));
    if !(at_start && services.runs.settings.single_instance) {
        query = query.filter(
            sea_orm::Condition::any()
                .add(run::Column::LeaseExpiresAt.lt(now))
                .add(run::Column::LeaseExpiresAt.is_null()),
        );
    }
    let mut taken = 0;
    for run in query.all(&services.db).await? {
        if services.runs.is_active(run.id) {
            continue;
        }
        // Claimed only if nobody claimed it since we looked.
        let mut claim = run::Entity::update_many()
            .col_expr(
                run::Column::LeaseOwner,
                Expr::value(Some(services.runs.instance.to_string())),
            )
            .col_expr(run::Column::LeaseExpiresAt, Expr::value(Some(lease_end(services))))
            .filter(run::Column::Id.eq(run.id))
            .filter(run::Column::Status.eq(RunStatus::Running));
        claim = match (&run.lease_owner, run.lease_expires_at) {
            (Some(owner), Some(at)) => claim
                .filter(run::Column::LeaseOwner.eq(owner.clone()))
                .filter(run::Column::LeaseExpiresAt.eq(at)),
            _ => claim.filter(run::Column::LeaseOwner.is_null()),
        };
        if claim.exec(&services.db).await?.rows_affected == 1 {
            tracing::info!(run_id = run.id, "taking up a run whose server is gone");
            spawn(services.clone(), run, Start::TakeUp);
            taken += 1;
        }
    }
    let waiting: Vec<i64> = run::Entity::find()
        .filter(run::Column::Status.eq(RunStatus::Queued))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|run| run.branch_id)
        .collect();
    for branch_id in waiting {
        dispatch(services, branch_id).await?;
    }
    Ok(taken)
}

/// One run's task and what it has gathered so far.
struct Driver<'a> {
    services: &'a Services,
    run: run::Model,
    token: CancellationToken,
    agent: Agent,
    /// Behind a lock only so that the driver may be shared across awaits; one task uses it.
    parser: std::sync::Mutex<Box<dyn agents::Parser>>,
    reply: Reply,
    /// The next event's number in the run.
    seq: i64,
    /// Bytes of the log whose lines have been parsed.
    offset: i64,
    /// The stored offset, to know when it must be written again.
    stored_offset: i64,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
    pending: Vec<RunEvent>,
    session_stored: Option<String>,
    cancelled: bool,
}

impl<'a> Driver<'a> {
    fn new(services: &'a Services, run: run::Model, token: CancellationToken) -> Self {
        let agent = from_entity(run.agent);
        Driver {
            services,
            agent,
            parser: std::sync::Mutex::new(agents::parser(agent)),
            reply: Reply::default(),
            seq: 0,
            offset: run.log_offset,
            stored_offset: run.log_offset,
            session_stored: run.session_id.clone(),
            run,
            token,
            partial: Vec::new(),
            pending: Vec::new(),
            cancelled: false,
        }
    }

    fn log_path(&self) -> String {
        format!("{RUN_DIR}/{}.log", self.run.id)
    }

    fn emit(&mut self, event: RunEvent) {
        if let RunEvent::Agent(agent_event) = &event {
            self.reply.push(agent_event);
        }
        self.pending.push(event);
    }

    async fn progress(&mut self, text: impl Into<String>) -> Result<()> {
        self.emit(RunEvent::Run(RunNote::RunProgress { text: text.into() }));
        self.flush().await
    }

    fn parse(&self, line: &str) -> Vec<agents::Event> {
        self.parser.lock().expect("parser lock").line(line.trim_end_matches('\r'))
    }

    /// Parses the complete lines in `bytes` (and any line begun before).
    fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.partial[start..start + end]).into_owned();
            start += end + 1;
            self.offset += end as i64 + 1;
            let events = self.parse(&line);
            for event in events {
                self.emit(RunEvent::Agent(event));
            }
        }
        self.partial.drain(..start);
    }

    /// The last line, when the output did not end with a line break.
    fn feed_rest(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.offset += rest.len() as i64;
            let line = String::from_utf8_lossy(&rest).into_owned();
            for event in self.parse(&line) {
                self.emit(RunEvent::Agent(event));
            }
        }
    }

    /// Stores the pending events and the log offset in one transaction, then tells live
    /// followers.
    async fn flush(&mut self) -> Result<()> {
        let session = self.reply.session.clone();
        if self.pending.is_empty()
            && self.offset == self.stored_offset
            && session == self.session_stored
        {
            return Ok(());
        }
        let events = std::mem::take(&mut self.pending);
        let count = events.len() as i64;
        let batch = Batch {
            run_id: self.run.id,
            branch_id: self.run.branch_id,
            user_id: self.run.user_id,
            first_seq: self.seq,
            events,
            offset: self.offset,
            session: session.clone(),
        };
        let stored = match self.services.runs.recorder.store(self.services, batch).await {
            Ok(stored) => stored,
            Err(not_stored) => {
                // Kept for the next try (the run's end stores them with its last word).
                self.pending = not_stored.events;
                return Err(not_stored.error);
            }
        };
        for event in stored {
            self.services.runs.hub.publish(self.run.branch_id, Live::Event(Arc::new(event)));
        }
        self.seq += count;
        self.stored_offset = self.offset;
        self.session_stored = session;
        Ok(())
    }

    async fn carry_out(&mut self, start: Start) -> Result<()> {
        match start {
            Start::Fresh => self.begin().await,
            Start::TakeUp => self.take_up().await,
        }
    }

    /// Prepares everything the agent needs, starts it and follows its output.
    async fn begin(&mut self) -> Result<()> {
        let services = self.services;
        let resume = self.resume_session().await?;
        self.emit(RunEvent::Run(RunNote::RunStarted {
            agent: self.agent,
            model: self.run.model.clone(),
            loop_iteration: self.run.loop_iteration,
            resumed: resume.is_some(),
        }));
        self.flush().await?;
        self.set_branch_status(BranchStatus::Running, false).await?;

        let key = match credentials::for_agent(services, self.run.user_id, self.agent).await {
            Ok(key) => key,
            Err(e) => return self.finish(RunStatus::Error, Some(e.to_string())).await,
        };
        self.progress("Preparing the sandbox").await?;
        let sandbox = tokio::select! {
            ready = sandboxes::ready(services, self.run.user_id, self.run.branch_id) => ready,
            _ = self.token.cancelled() => return self.finish(RunStatus::Cancelled, None).await,
        };
        let sandbox = match sandbox {
            Ok(sandbox) => sandbox,
            Err(e) => {
                let why = format!("The sandbox could not be prepared: {e}");
                return self.finish(RunStatus::Error, Some(why)).await;
            }
        };
        let tools_root = match self.install_agent(&sandbox).await {
            Ok(root) => root,
            Err(e) => {
                let why = format!("{} could not be installed: {e}", self.agent.label());
                return self.finish(RunStatus::Error, Some(why)).await;
            }
        };

        let endpoint = services.runs.settings.endpoints.for_agent(self.agent);
        let invocation = agents::invocation(
            self.agent,
            &agents::Request {
                prompt: &self.run.prompt,
                model: &self.run.model,
                resume: resume.as_deref(),
                key: key.expose(),
                endpoint,
                tools_root: &tools_root,
                mcp_config: None,
            },
        );
        let timeout = services.runs.settings.timeout;
        let id = self.run.id;
        // Where the provider can say when a file grows, the agent writes its log itself
        // and the log is followed; else the log is a copy of the output we follow.
        let tail = match services.sandboxes.tail(&sandbox.provider_id, &self.log_path(), 0).await {
            Ok(tail) => tail,
            Err(e) => {
                let why = format!("{} could not be started: {e}", self.agent.label());
                return self.finish(RunStatus::Error, Some(why)).await;
            }
        };
        let output = match tail {
            Some(_) => format!(">>{RUN_DIR}/{id}.log"),
            None => format!("| tee -p {RUN_DIR}/{id}.log"),
        };
        let script = format!(
            "mkdir -p {RUN_DIR} && {{ timeout -k 10 {secs} {command} </dev/null 2>>{RUN_DIR}/{id}.err \
             {output}; echo \"${{PIPESTATUS[0]}}\" >{RUN_DIR}/{id}.exit; }}",
            secs = timeout.as_secs().max(1),
            command = invocation.command_line(),
        );
        let branch = self.branch().await?;
        let repository =
            repositories::find_owned(&services.db, self.run.user_id, branch.repository_id).await?;
        let mut command = Command::new(script).timeout(timeout + Duration::from_secs(30));
        command.env = repositories::env_vars(services, &repository)?;
        command.env.extend(invocation.env);
        command.env.insert(TAG.into(), tag_value(id, &sandbox.provider_id));

        self.progress(format!("Starting {}", self.agent.label())).await?;
        let mut execution = match sandboxes::exec_in(services, &sandbox, command).await {
            Ok(execution) => execution,
            Err(e) => {
                let why = format!("{} could not be started: {e}", self.agent.label());
                return self.finish(RunStatus::Error, Some(why)).await;
            }
        };
        let exit = match tail {
            Some(tail) => self.follow_log(tail, &mut execution, &sandbox.provider_id).await?,
            None => self.follow_output(&mut execution, &sandbox.provider_id).await?,
        };
        // The output stream may stop short of the end: a sandbox lets go of a command's
        // output soon after the command ends, and under load that can be before the last
        // lines came through. The log holds all of it.
        continue_with_rest(self, &sandbox.provider_id).await?;
        let code = match exit {
            Exit::Code(_) => self.exit_code(&sandbox.provider_id).await,
            _ => None,
        };
        self.end(&sandbox.provider_id, exit, code).await
    }

    /// Follows the agent through its log as the log grows, until the agent exits.
    async fn follow_log(
        &mut self,
        mut tail: Box<dyn Tail>,
        execution: &mut Execution,
        sandbox_id: &str,
    ) -> Result<Exit> {
        loop {
            tokio::select! {
                chunk = execution.output.recv() => match chunk {
                    Some(Chunk::Exit(exit)) => return Ok(exit),
                    None => return Ok(Exit::Killed),
                    // The wrapper's own complaints; the agent's output goes to its files.
                    Some(_) => {}
                },
                _ = tail.grown() => {
                    // Everything there by now becomes one batch.
                    loop {
                        let bytes = tail.read(READ_CHUNK).await?;
                        self.feed(&bytes);
                        if bytes.len() < READ_CHUNK {
                            break;
                        }
                    }
                    self.flush().await?;
                }
                _ = self.token.cancelled(), if !self.cancelled => {
                    self.cancelled = true;
                    execution.kill.cancel();
                    self.kill_agent(sandbox_id).await;
                }
            }
        }
    }

    /// Follows the agent through the output of its command, until the agent exits.
    async fn follow_output(&mut self, execution: &mut Execution, sandbox_id: &str) -> Result<Exit> {
        loop {
            tokio::select! {
                chunk = execution.output.recv() => {
                    let mut next = chunk;
                    let mut exit = None;
                    // Take everything already waiting, then store it as one batch.
                    loop {
                        match next {
                            Some(Chunk::Stdout(text)) => self.feed(text.as_bytes()),
                            Some(Chunk::Stderr(_)) => {}
                            Some(Chunk::Exit(e)) => { exit = Some(e); break; }
                            None => { exit = Some(Exit::Killed); break; }
                        }
                        match execution.output.try_recv() {
                            Ok(chunk) => next = Some(chunk),
                            Err(_) => break,
                        }
                    }
                    self.flush().await?;
                    if let Some(exit) = exit {
                        return Ok(exit);
                    }
                }
                _ = self.token.cancelled(), if !self.cancelled => {
                    self.cancelled = true;
                    execution.kill.cancel();
                    self.kill_agent(sandbox_id).await;
                }
            }
        }
    }

    /// Ends the run once the agent has: the last line, the parser's last word, the status.
    async fn end(&mut self, sandbox_id: &str, exit: Exit, code: Option<i32>) -> Result<()> {
        self.feed_rest();
        let last = self.parser.lock().expect("parser lock").end(code);
        for event in last {
            self.emit(RunEvent::Agent(event));
        }
        let minutes = self.services.runs.settings.timeout.as_secs() / 60;
        let (status, error) = if self.cancelled {
            (RunStatus::Cancelled, None)
        } else if exit == Exit::TimedOut || code.is_some_and(|c| TIMED_OUT.contains(&c)) {
            (
                RunStatus::Error,
                Some(format!("The agent ran longer than {minutes} minutes and was stopped.")),
            )
        } else if matches!(self.reply.done, Some((true, _))) || code.is_none_or(|c| c != 0) {
            let why = match self.reply.last_error() {
                Some(why) => why,
                None => match self.reply.done.clone().and_then(|(_, result)| result) {
                    Some(result) if !result.trim().is_empty() => result,
                    _ => self.stderr_tail(sandbox_id).await.unwrap_or_else(|| {
                        format!(
                            "{} stopped with exit code {}.",
                            self.agent.label(),
                            code.map_or("unknown".into(), |c| c.to_string())
                        )
                    }),
                },
            };
            (RunStatus::Error, Some(why))
        } else {
            (RunStatus::Completed, None)
        };
        self.finish(status, error).await
    }

    /// The agent's exit code from its exit file.
    async fn exit_code(&self, sandbox_id: &str) -> Option<i32> {
        let path = format!("{RUN_DIR}/{}.exit", self.run.id);
        let bytes = self.services.sandboxes.read_file(sandbox_id, &path).await.ok()?;
        String::from_utf8_lossy(&bytes).trim().parse().ok()
    }

    /// The end of what the agent wrote to its standard error, to explain a failure.
    async fn stderr_tail(&self, sandbox_id: &str) -> Option<String> {
        let path = format!("{RUN_DIR}/{}.err", self.run.id);
        let bytes = self.services.sandboxes.read_file(sandbox_id, &path).await.ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let start = text.char_indices().rev().nth(1500).map_or(0, |(i, _)| i);
        Some(text[start..].to_owned())
    }

    async fn kill_agent(&self, sandbox_id: &str) {
        if let Err(e) =
            self.services.sandboxes.kill_tagged(sandbox_id, &tag(self.run.id, sandbox_id)).await
        {
            tracing::warn!(run_id = self.run.id, error = %e, "could not kill a run's processes");
        }
    }

    /// Makes sure the agent's CLI is installed where the sandbox finds it; returns that
    /// place as the sandbox sees it.
    async fn install_agent(&mut self, sandbox: &entity::sandbox::Model) -> Result<String> {
        let agent = self.agent;
        let announce =
            format!("Installing {} {} (on its first use only)", agent.label(), agent.version());
        match self.services.sandboxes.agent_tools() {
            AgentTools::Shared { host_dir, seen_as } => {
                let tools = Tools::new(host_dir);
                if !tools.is_installed(agent) {
                    self.progress(announce).await?;
                    tools.ensure(agent).await.map_err(|e| Error::Upstream(e.to_string()))?;
                }
                Ok(seen_as)
            }
            AgentTools::InSandbox { dir } => {
                let program = agent.program(&dir);
                let check = Command::new(format!("test -x {}", agents::shell_quote(&program)));
                let (_, exit) =
                    sandboxes::exec_in(self.services, sandbox, check).await?.collect().await;
                if exit != Exit::Code(0) {
                    self.progress(announce).await?;
                    let install = Command::new(agents::install_script(agent, &dir))
                        .timeout(Duration::from_secs(10 * 60));
                    let (out, exit) =
                        sandboxes::exec_in(self.services, sandbox, install).await?.collect().await;
                    if exit != Exit::Code(0) {
                        let tail: String = out
                            .chars()
                            .rev()
                            .take(1500)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        return Err(Error::Upstream(tail));
                    }
                }
                Ok(dir)
            }
        }
    }

    /// The agent session to continue: the latest one on the branch, if the latest run
    /// that had one used the same agent.
    async fn resume_session(&self) -> Result<Option<String>> {
        let previous = run::Entity::find()
            .filter(run::Column::BranchId.eq(self.run.branch_id))
            .filter(run::Column::Id.lt(self.run.id))
            .filter(run::Column::SessionId.is_not_null())
            .order_by_desc(run::Column::Id)
            .one(&self.services.db)
            .await?;
        Ok(previous.filter(|p| p.agent == self.run.agent).and_then(|p| p.session_id))
    }

    async fn branch(&self) -> Result<branch::Model> {
        branch::Entity::find_by_id(self.run.branch_id)
            .one(&self.services.db)
            .await?
            .ok_or(Error::NotFound("branch"))
    }

    async fn set_branch_status(&self, status: BranchStatus, unread: bool) -> Result<()> {
        branch::Entity::update_many()
            .col_expr(branch::Column::Status, Expr::value(status))
            .col_expr(branch::Column::Unread, Expr::value(unread))
            .filter(branch::Column::Id.eq(self.run.branch_id))
            .exec(&self.services.db)
            .await?;
        super::relay::changed(self.services, self.run.user_id, self.run.branch_id).await;
        Ok(())
    }

    /// Takes the run up after its server went away: rebuilds what was gathered from the
    /// stored events and the log up to the stored offset, then reads on.
    async fn take_up(&mut self) -> Result<()> {
        let services = self.services;
        let stored = super::events_of_run(&services.db, self.run.id).await?;
        self.seq = stored.last().map_or(0, |e| e.seq + 1);
        for event in &stored {
            if let RunEvent::Agent(event) = &event.event {
                self.reply.push(event);
            }
        }
        let sandbox =
            match sandboxes::for_branch(services, self.run.user_id, self.run.branch_id).await? {
                Some(sandbox) => sandbox,
                None => {
                    let why = "The sandbox was deleted while the server was away.".to_owned();
                    return self.finish(RunStatus::Interrupted, Some(why)).await;
                }
            };
        let sandbox_id = sandbox.provider_id.clone();
        // The parser learns again what it knew at the stored offset (tool names by id, the
        // session), without emitting those events twice.
        let mut replayed = 0u64;
        let mut line = Vec::new();
        while replayed < self.offset as u64 {
            let want = READ_CHUNK.min((self.offset as u64 - replayed) as usize);
            let path = self.log_path();
            let bytes =
                match services.sandboxes.read_file_from(&sandbox_id, &path, replayed, want).await {
                    Ok(bytes) if !bytes.is_empty() => bytes,
                    _ => break,
                };
            replayed += bytes.len() as u64;
            for byte in bytes {
                if byte == b'\n' {
                    let _ = self.parse(&String::from_utf8_lossy(&line));
                    line.clear();
                } else {
                    line.push(byte);
                }
            }
        }
        self.progress("The server restarted; following the agent again").await?;

        // Woken when the log grows where the provider can tell; the timer still runs, as
        // an agent may die without writing another line.
        let mut tail =
            services.sandboxes.tail(&sandbox_id, &self.log_path(), 0).await.ok().flatten();
        let mut idle = Duration::from_millis(50);
        loop {
            if self.token.is_cancelled() && !self.cancelled {
                self.cancelled = true;
                self.kill_agent(&sandbox_id).await;
            }
            let exit = self.exit_code(&sandbox_id).await;
            let read_from = self.offset as u64 + self.partial.len() as u64;
            let bytes = services
                .sandboxes
                .read_file_from(&sandbox_id, &self.log_path(), read_from, READ_CHUNK)
                .await
                .unwrap_or_default();
            let got = bytes.len();
            self.feed(&bytes);
            self.flush().await?;
            if got == READ_CHUNK {
                continue;
            }
            if let Some(code) = exit {
                return self.end(&sandbox_id, Exit::Code(code), Some(code)).await;
            }
            let alive = services
                .sandboxes
                .tagged_alive(&sandbox_id, &tag(self.run.id, &sandbox_id))
                .await
                .unwrap_or(false);
            if !alive {
                // It may have finished between the two looks.
                if let Some(code) = self.exit_code(&sandbox_id).await {
                    continue_with_rest(self, &sandbox_id).await?;
                    return self.end(&sandbox_id, Exit::Code(code), Some(code)).await;
                }
                continue_with_rest(self, &sandbox_id).await?;
                if self.cancelled {
                    return self.end(&sandbox_id, Exit::Killed, None).await;
                }
                self.feed_rest();
                let why = format!(
                    "{} stopped while the server was away; everything it reported until then is kept.",
                    self.agent.label()
                );
                return self.finish(RunStatus::Interrupted, Some(why)).await;
            }
            idle = if got > 0 {
                Duration::from_millis(50)
            } else {
                (idle * 2).min(Duration::from_secs(1))
            };
            let grown = async {
                match tail.as_mut() {
                    Some(tail) => tail.grown().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = grown => {}
                _ = self.token.cancelled(), if !self.cancelled => {}
            }
        }
    }

    /// Ends the run: its last events, its row, the reply as a message, the branch's status,
    /// and in loop mode the next iteration.
    async fn finish(&mut self, status: RunStatus, error: Option<String>) -> Result<()> {
        self.reply.close_open_tools();
        self.emit(RunEvent::Run(RunNote::RunFinished { status, error: error.clone() }));
        self.flush().await?;
        let services = self.services;
        let loop_max = credentials::loop_max(services, self.run.user_id).await.unwrap_or(10);
        let now = Utc::now();
        let txn = crate::db::begin(&services.db).await?;
        let usage = self.reply.usage.as_ref().and_then(|u| serde_json::to_value(u).ok());
        run::Entity::update_many()
            .col_expr(run::Column::Status, Expr::value(status))
            .col_expr(run::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(run::Column::Error, Expr::value(error.clone()))
            .col_expr(run::Column::Usage, Expr::value(usage.clone()))
            .col_expr(run::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                run::Column::LeaseExpiresAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(run::Column::Id.eq(self.run.id))
            .exec(&txn)
            .await?;
        let blocks = serde_json::json!({
            "blocks": self.reply.blocks,
            "usage": usage,
            "status": status,
            "error": error,
            "agent": self.agent,
            "model": self.run.model,
            "loop_iteration": self.run.loop_iteration,
        });
        message::ActiveModel {
            branch_id: Set(self.run.branch_id),
            role: Set(MessageRole::Assistant),
            content: Set(self.reply.text()),
            blocks: Set(blocks),
            run_id: Set(Some(self.run.id)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let branch_status = match status {
            RunStatus::Error | RunStatus::Interrupted => BranchStatus::Error,
            _ => BranchStatus::Idle,
        };
        branch::Entity::update_many()
            .col_expr(branch::Column::Status, Expr::value(branch_status))
            .col_expr(branch::Column::Unread, Expr::value(true))
            .col_expr(branch::Column::UpdatedAt, Expr::value(now))
            .filter(branch::Column::Id.eq(self.run.branch_id))
            .exec(&txn)
            .await?;
        if status == RunStatus::Completed {
            self.next_iteration(&txn, loop_max).await?;
        }
        txn.commit().await?;
        super::relay::changed(services, self.run.user_id, self.run.branch_id).await;
        Ok(())
    }

    /// Loop mode: queues the continuation prompt unless the agent said it has finished,
    /// the limit is reached, the loop was turned off, or the user queued a prompt.
    async fn next_iteration(&self, txn: &impl ConnectionTrait, loop_max: i32) -> Result<()> {
        let branch = branch::Entity::find_by_id(self.run.branch_id)
            .one(txn)
            .await?
            .ok_or(Error::NotFound("branch"))?;
        if !branch.loop_enabled {
            return Ok(());
        }
        let queued = run::Entity::find()
            .filter(run::Column::BranchId.eq(branch.id))
            .filter(run::Column::Status.eq(RunStatus::Queued))
            .count(txn)
            .await?;
        if queued > 0 {
            return Ok(());
        }
        let done = self.run.loop_iteration;
        let notice = if says_finished(&self.reply.text()) {
            Some(format!(
                "Loop mode: the agent said it has finished, after {} continuation{}.",
                done,
                if done == 1 { "" } else { "s" }
            ))
        } else if done >= loop_max {
            Some(format!("Loop mode stopped at its limit of {loop_max} continuations."))
        } else {
            None
        };
        let mut active: branch::ActiveModel = branch.clone().into();
        match notice {
            Some(text) => {
                message::ActiveModel {
                    branch_id: Set(branch.id),
                    role: Set(MessageRole::Notice),
                    content: Set(text),
                    blocks: Set(serde_json::json!([])),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                active.loop_count = Set(0);
            }
            None => {
                queue(txn, &branch, self.agent, &self.run.model, CONTINUE_PROMPT, done + 1).await?;
                active.loop_count = Set(done + 1);
            }
        }
        active.update(txn).await?;
        Ok(())
    }
}

/// Reads whatever the log holds past the offset, to the end.
async fn continue_with_rest(driver: &mut Driver<'_>, sandbox_id: &str) -> Result<()> {
    loop {
        let read_from = driver.offset as u64 + driver.partial.len() as u64;
        let bytes = driver
            .services
            .sandboxes
            .read_file_from(sandbox_id, &driver.log_path(), read_from, READ_CHUNK)
            .await
            .unwrap_or_default();
        if bytes.is_empty() {
            return driver.flush().await;
        }
        driver.feed(&bytes);
        driver.flush().await?;
    }
}
