//! Agent runs: a prompt carried out by a coding agent in a branch's sandbox.
//!
//! A run belongs to the server, not to a request or a browser. Sending a prompt queues a
//! run; the branch's queue is worked off one run at a time by a background task that
//! prepares the sandbox, installs the agent if needed, starts it detached from this
//! process (its raw output also goes to a log in the sandbox), turns its output into
//! events, stores them in order and then tells live followers. When the agent ends, the
//! reply is saved as a message, and in loop mode the continuation prompt is queued.
//!
//! The events stored so far and the byte offset of the log they came from are written in
//! one transaction. A server that stops mid-run therefore loses nothing: when a server
//! starts (or, with several instances, when a run's lease runs out) the run is taken up
//! again, the log read on from the stored offset while the agent lives, and the run ended
//! from the rest of the log when it does not.

mod engine;
pub mod hub;
mod recorder;
pub mod relay;
pub mod reply;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agents::Agent;
use chrono::Utc;
use entity::{branch, message, run, run_event, MessageRole, RunStatus};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{branches, credentials, Error, Result, Services};
pub use hub::{Hub, Live};

/// What loop mode sends when an iteration ends without saying it has finished.
pub const CONTINUE_PROMPT: &str = "If you have finished all tasks, respond with just the phrase \
                                   FINISHED. Otherwise, continue working on the remaining tasks.";
/// The longest prompt accepted.
const MAX_PROMPT: usize = 100 * 1024;

/// Where the agents' model APIs are, when not at their vendors (a proxy, a gateway, or a
/// scripted server in tests).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub anthropic: Option<String>,
    pub openai: Option<String>,
    pub opencode: Option<String>,
}

impl Endpoints {
    fn for_agent(&self, agent: Agent) -> Option<&str> {
        match agent.key_kind() {
            agents::KeyKind::Anthropic => self.anthropic.as_deref(),
            agents::KeyKind::OpenAi => self.openai.as_deref(),
            agents::KeyKind::Opencode => self.opencode.as_deref(),
        }
    }
}

/// How runs are carried out.
#[derive(Clone, Debug)]
pub struct Settings {
    pub endpoints: Endpoints,
    /// The longest an agent may run before it is stopped.
    pub timeout: Duration,
    /// How long a claim on a run lasts unless renewed; another instance takes over a run
    /// whose claim ran out.
    pub lease: Duration,
    /// Only this instance uses the database (SQLite): every run left running at start-up
    /// is this instance's to take up at once.
    pub single_instance: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            endpoints: Endpoints::default(),
            timeout: Duration::from_secs(60 * 60),
            lease: Duration::from_secs(30),
            single_instance: true,
        }
    }
}

/// The run engine of this server instance: its settings, the runs it carries out now, and
/// the hub through which their events reach live followers.
#[derive(Clone)]
pub struct Runs {
    pub settings: Arc<Settings>,
    pub hub: Hub,
    /// This instance's name in run leases.
    pub instance: Arc<str>,
    /// What this instance has stored, for operators and the benchmark.
    pub stats: Arc<Stats>,
    recorder: recorder::Recorder,
    /// Set once the task renewing this instance's leases runs.
    leases_kept: Arc<std::sync::OnceLock<()>>,
    active: Arc<Mutex<HashMap<i64, CancellationToken>>>,
}

/// Counters of the events this instance stored.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events stored.
    pub events: std::sync::atomic::AtomicU64,
    /// Transactions that stored them (with the log offset): each is one database write.
    pub batches: std::sync::atomic::AtomicU64,
}

impl Runs {
    pub fn new(settings: Settings) -> Self {
        Runs {
            settings: Arc::new(settings),
            hub: Hub::default(),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
            stats: Default::default(),
            recorder: Default::default(),
            leases_kept: Default::default(),
            active: Default::default(),
        }
    }

    /// Whether this instance is carrying out `run_id` now.
    pub fn is_active(&self, run_id: i64) -> bool {
        self.active.lock().expect("runs lock").contains_key(&run_id)
    }

    /// How many runs this instance is carrying out now.
    pub fn active_count(&self) -> usize {
        self.active.lock().expect("runs lock").len()
    }
}

/// One stored event, as followers receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Orders a branch's events across its runs; a follower resumes after the last it saw.
    pub id: i64,
    pub run_id: i64,
    pub seq: i64,
    pub event: RunEvent,
}

/// What a run's event log holds: the agent's own events, framed by the run's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunEvent {
    Run(RunNote),
    Agent(agents::Event),
}

/// The run's own events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunNote {
    RunStarted {
        agent: Agent,
        model: String,
        loop_iteration: i32,
        resumed: bool,
    },
    /// Progress before the agent starts: preparing the sandbox, installing the agent.
    RunProgress {
        text: String,
    },
    RunFinished {
        status: RunStatus,
        error: Option<String>,
    },
}

impl RunEvent {
    /// The name it is stored and sent under: the `kind` field of its JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            RunEvent::Agent(event) => event.kind(),
            RunEvent::Run(RunNote::RunStarted { .. }) => "run_started",
            RunEvent::Run(RunNote::RunProgress { .. }) => "run_progress",
            RunEvent::Run(RunNote::RunFinished { .. }) => "run_finished",
        }
    }
}

impl StoredEvent {
    fn from_row(row: run_event::Model) -> Option<Self> {
        let event = serde_json::from_value(row.payload).ok()?;
        Some(StoredEvent { id: row.id, run_id: row.run_id, seq: row.seq, event })
    }
}

/// A prompt to send.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub text: String,
    pub agent: Agent,
    pub model: String,
}

/// Queues `prompt` on the branch and returns its run; it starts at once unless another
/// run is under way on the branch, then it waits its turn.
pub async fn send(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    prompt: Prompt,
) -> Result<run::Model> {
    let text = prompt.text.trim();
    if text.is_empty() {
        return Err(Error::invalid("prompt", "type a prompt for the agent"));
    }
    if text.len() > MAX_PROMPT {
        return Err(Error::invalid("prompt", "a prompt may be at most 100 KB"));
    }
    // Any model the agent accepts may be named, not only those the picker offers; the
    // agent itself says when it does not know one.
    let model = prompt.model.trim();
    let model_ok = !model.is_empty()
        && model.len() <= 100
        && model.chars().all(|c| c.is_ascii_alphanumeric() || "._/:-@[]".contains(c));
    if !model_ok {
        return Err(Error::invalid("model", "choose a model from the list or type its name"));
    }
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    credentials::for_agent(services, user_id, prompt.agent).await?;

    // Read before the transaction: SQLite cannot always turn a reading transaction into
    // a writing one while other runs are writing.
    let previous = latest_agent(&services.db, branch.id).await?;
    let txn = crate::db::begin(&services.db).await?;
    let now = Utc::now();
    if let Some(previous) = previous.filter(|p| *p != prompt.agent) {
        message::ActiveModel {
            branch_id: Set(branch.id),
            role: Set(MessageRole::Notice),
            content: Set(format!(
                "Switched from {} to {}: the conversation goes on in a new {} session, which \
                 does not see what {} did.",
                previous.label(),
                prompt.agent.label(),
                prompt.agent.label(),
                previous.label()
            )),
            blocks: Set(serde_json::json!([])),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    let run = queue(&txn, &branch, prompt.agent, model, text, 0).await?;
    let mut active: branch::ActiveModel = branch.clone().into();
    active.agent = Set(to_entity(prompt.agent));
    active.model = Set(model.to_owned());
    active.draft_prompt = Set(String::new());
    active.loop_count = Set(0);
    active.updated_at = Set(now);
    active.update(&txn).await?;
    txn.commit().await?;

    relay::changed(services, user_id, branch.id).await;
    engine::dispatch(services, branch.id).await?;
    Ok(run)
}

/// Inserts a queued run with the user's message for it.
async fn queue(
    db: &impl sea_orm::ConnectionTrait,
    branch: &branch::Model,
    agent: Agent,
    model: &str,
    prompt: &str,
    loop_iteration: i32,
) -> Result<run::Model> {
    let now = Utc::now();
    let run = run::ActiveModel {
        branch_id: Set(branch.id),
        user_id: Set(branch.user_id),
        agent: Set(to_entity(agent)),
        model: Set(model.to_owned()),
        prompt: Set(prompt.to_owned()),
        status: Set(RunStatus::Queued),
        loop_iteration: Set(loop_iteration),
        log_offset: Set(0),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    message::ActiveModel {
        branch_id: Set(branch.id),
        role: Set(MessageRole::User),
        content: Set(prompt.to_owned()),
        // Which loop continuation sent it, for the conversation to show.
        blocks: Set(serde_json::json!({ "loop_iteration": loop_iteration })),
        run_id: Set(Some(run.id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(run)
}

/// The agent of the branch's latest run, if it had one.
async fn latest_agent(db: &impl sea_orm::ConnectionTrait, branch_id: i64) -> Result<Option<Agent>> {
    let latest = run::Entity::find()
        .filter(run::Column::BranchId.eq(branch_id))
        .order_by_desc(run::Column::Id)
        .one(db)
        .await?;
    Ok(latest.map(|run| from_entity(run.agent)))
}

/// Takes a queued run off the queue, with its message.
pub async fn remove_queued(services: &Services, user_id: i64, run_id: i64) -> Result<()> {
    let run = run::Entity::find_by_id(run_id)
        .filter(run::Column::UserId.eq(user_id))
        .one(&services.db)
        .await?
        .ok_or(Error::NotFound("run"))?;
    let txn = crate::db::begin(&services.db).await?;
    let removed = run::Entity::delete_many()
        .filter(run::Column::Id.eq(run.id))
        .filter(run::Column::Status.eq(RunStatus::Queued))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(Error::Conflict("that prompt is no longer queued: it has started".into()));
    }
    message::Entity::delete_many().filter(message::Column::RunId.eq(run.id)).exec(&txn).await?;
    txn.commit().await?;
    relay::changed(services, user_id, run.branch_id).await;
    Ok(())
}

/// Stops the branch's running run, killing the agent and all it started, and turns loop
/// mode's continuation off for it. Queued prompts stay queued and start next.
pub async fn stop(services: &Services, user_id: i64, branch_id: i64) -> Result<()> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let running = run::Entity::find()
        .filter(run::Column::BranchId.eq(branch.id))
        .filter(run::Column::Status.eq(RunStatus::Running))
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::Conflict("nothing is running on this branch".into()))?;
    engine::stop(services, running).await
}

/// Turns the branch's loop mode on or off; off also ends a loop under way after its
/// current iteration.
pub async fn set_loop(services: &Services, user_id: i64, branch_id: i64, on: bool) -> Result<()> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let mut active: branch::ActiveModel = branch.into();
    active.loop_enabled = Set(on);
    active.updated_at = Set(Utc::now());
    active.update(&services.db).await?;
    relay::changed(services, user_id, branch_id).await;
    Ok(())
}

/// Keeps the branch's unsent prompt, so that it survives a reload.
pub async fn save_draft(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    text: &str,
) -> Result<()> {
    if text.len() > MAX_PROMPT {
        return Err(Error::invalid("prompt", "a prompt may be at most 100 KB"));
    }
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let mut active: branch::ActiveModel = branch.into();
    active.draft_prompt = Set(text.to_owned());
    active.update(&services.db).await?;
    Ok(())
}

/// The branch's events after `after` (an event id; 0 for all), at most `limit`.
pub async fn events_after(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    events_of_branch_after(services, branch.id, after, limit).await
}

/// The branch's events after `after`, for a caller that has already checked the user.
pub async fn events_of_branch_after(
    services: &Services,
    branch_id: i64,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let rows = run_event::Entity::find()
        .filter(run_event::Column::BranchId.eq(branch_id))
        .filter(run_event::Column::Id.gt(after))
        .order_by_asc(run_event::Column::Id)
        .limit(limit)
        .all(&services.db)
        .await?;
    Ok(rows.into_iter().filter_map(StoredEvent::from_row).collect())
}

/// A branch's conversation as it stood at one moment: a page of messages, the runs not
/// yet ended, the running one's events so far, and the newest event id, after which the
/// event stream goes on. Read in one snapshot, so that a run ending meanwhile shows
/// either as running or as its reply, never as neither.
pub struct Snapshot {
    pub branch: branch::Model,
    pub messages: Vec<message::Model>,
    /// More messages come before the page.
    pub has_older: bool,
    pub pending: Vec<run::Model>,
    pub live: Vec<StoredEvent>,
    pub last_event_id: i64,
}

/// The branch's conversation: the `limit` messages before message `before` (the newest
/// when `None`), and what is under way.
pub async fn snapshot(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Snapshot> {
    let txn = crate::db::begin_read(&services.db).await?;
    let branch = branches::find_owned(&txn, user_id, branch_id).await?;
    let last_event_id = run_event::Entity::find()
        .filter(run_event::Column::BranchId.eq(branch.id))
        .order_by_desc(run_event::Column::Id)
        .one(&txn)
        .await?
        .map_or(0, |e| e.id);
    let mut messages = page_of_messages(&txn, branch.id, before, limit + 1).await?;
    let has_older = messages.len() as u64 > limit;
    if has_older {
        messages.remove(0);
    }
    let pending = run::Entity::find()
        .filter(run::Column::BranchId.eq(branch.id))
        .filter(run::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
        .order_by_asc(run::Column::Id)
        .all(&txn)
        .await?;
    let live = match pending.iter().find(|r| r.status == RunStatus::Running) {
        Some(running) => events_of_run(&txn, running.id).await?,
        None => Vec::new(),
    };
    txn.commit().await?;
    Ok(Snapshot { branch, messages, has_older, pending, live, last_event_id })
}

/// The events of one run, in order.
pub async fn events_of_run(db: &impl ConnectionTrait, run_id: i64) -> Result<Vec<StoredEvent>> {
    let rows = run_event::Entity::find()
        .filter(run_event::Column::RunId.eq(run_id))
        .order_by_asc(run_event::Column::Seq)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(StoredEvent::from_row).collect())
}

/// A page of the branch's conversation: the `limit` messages before message `before`
/// (the newest when `None`), oldest first.
pub async fn messages(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<message::Model>> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    page_of_messages(&services.db, branch.id, before, limit).await
}

async fn page_of_messages(
    db: &impl ConnectionTrait,
    branch_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<message::Model>> {
    let mut query = message::Entity::find().filter(message::Column::BranchId.eq(branch_id));
    if let Some(before) = before {
        query = query.filter(message::Column::Id.lt(before));
    }
    let mut page = query.order_by_desc(message::Column::Id).limit(limit).all(db).await?;
    page.reverse();
    Ok(page)
}

/// Marks the branch as read: its last run's end has been seen.
pub async fn mark_read(services: &Services, user_id: i64, branch_id: i64) -> Result<()> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    if branch.unread {
        let mut active: branch::ActiveModel = branch.into();
        active.unread = Set(false);
        active.update(&services.db).await?;
        relay::changed(services, user_id, branch_id).await;
    }
    Ok(())
}

/// Takes up the runs no live instance is carrying out, and starts queued runs nobody
/// started: at start-up (`at_start`), then periodically, for runs whose instance died.
pub async fn recover(services: &Services, at_start: bool) -> Result<usize> {
    engine::recover(services, at_start).await
}

pub(crate) fn to_entity(agent: Agent) -> entity::Agent {
    match agent {
        Agent::ClaudeCode => entity::Agent::ClaudeCode,
        Agent::Codex => entity::Agent::Codex,
        Agent::Opencode => entity::Agent::Opencode,
    }
}

pub(crate) fn from_entity(agent: entity::Agent) -> Agent {
    match agent {
        entity::Agent::ClaudeCode => Agent::ClaudeCode,
        entity::Agent::Codex => Agent::Codex,
        entity::Agent::Opencode => Agent::Opencode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_events_kind_is_the_kind_in_its_json() {
        let events = [
            RunEvent::Run(RunNote::RunStarted {
                agent: Agent::Codex,
                model: "m".into(),
                loop_iteration: 0,
                resumed: false,
            }),
            RunEvent::Run(RunNote::RunProgress { text: "p".into() }),
            RunEvent::Run(RunNote::RunFinished { status: RunStatus::Completed, error: None }),
            RunEvent::Agent(agents::Event::Text { text: "t".into() }),
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["kind"], event.kind(), "{json}");
        }
    }
}
