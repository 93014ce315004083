//! The life of a branch's sandbox: preparing it step by step, starting and stopping it,
//! running commands in it, keeping within the user's quota, stopping it when idle, and
//! keeping the database true to what the provider has.
//!
//! The database row is the sandbox as the workspace knows it; the provider is asked
//! whenever that could be stale. A sandbox the provider lost is recreated on its next use
//! from the remote, which holds everything pushed.

use std::collections::BTreeMap;
use std::time::Duration;

use entity::{
    branch, credential, repository, sandbox, user, Provider as RepoProvider, SandboxStatus,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ModelTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::sandbox::{Command, Execution, Exit, Spec, State};
use crate::seal::Secret;
use crate::{branches, repositories, users, Error, Result, Services};

/// How long a command from the branch view may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// A sandbox still `creating` after this long was abandoned by a server that stopped.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(20);
/// The auto-stop interval of a user who never chose one.
pub const DEFAULT_AUTO_STOP_MINUTES: i32 = 10;

/// One named step of preparing a sandbox, and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub state: StepState,
    /// What it printed when it failed, or a short note when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

/// The steps a sandbox row records.
pub fn steps_of(sandbox: &sandbox::Model) -> Vec<Step> {
    serde_json::from_value(sandbox.steps.clone()).unwrap_or_default()
}

/// Tells listeners in this server which branch's sandbox just changed. Other server
/// instances see the change when they next read the database.
#[derive(Clone)]
pub struct Changes(broadcast::Sender<i64>);

impl Default for Changes {
    fn default() -> Self {
        Changes(broadcast::channel(256).0)
    }
}

impl Changes {
    pub fn notify(&self, branch_id: i64) {
        let _ = self.0.send(branch_id);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.0.subscribe()
    }
}

/// The branch's sandbox, if it has one.
pub async fn for_branch(
    services: &Services,
    user_id: i64,
    branch_id: i64,
) -> Result<Option<sandbox::Model>> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    row_of(services, branch.id).await
}

async fn row_of(services: &Services, branch_id: i64) -> Result<Option<sandbox::Model>> {
    Ok(sandbox::Entity::find()
        .filter(sandbox::Column::BranchId.eq(branch_id))
        .one(&services.db)
        .await?)
}

/// Makes sure the branch has a sandbox that is running or being prepared, and returns it
/// at once: preparation goes on in the background, its steps recorded as they happen.
pub async fn start(services: &Services, user_id: i64, branch_id: i64) -> Result<sandbox::Model> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let Some(existing) = row_of(services, branch.id).await? else {
        return begin_creation(services, user_id, &branch, None).await;
    };
    match existing.status {
        SandboxStatus::Creating => Ok(existing),
        SandboxStatus::Error => begin_creation(services, user_id, &branch, Some(existing)).await,
        SandboxStatus::Running | SandboxStatus::Stopped => {
            let provider = &services.sandboxes;
            match provider.state(&existing.provider_id).await? {
                State::Missing | State::Failed(_) => {
                    tracing::info!(
                        sandbox = %existing.provider_id,
                        branch_id,
                        "sandbox gone at its provider; preparing a new one"
                    );
                    let _ = provider.delete(&existing.provider_id).await;
                    begin_creation(services, user_id, &branch, Some(existing)).await
                }
                State::Creating => Ok(existing),
                State::Running if existing.status == SandboxStatus::Running => {
                    touch(services, &existing).await
                }
                State::Running | State::Stopped => {
                    provider.start(&existing.provider_id).await?;
                    let mut active: sandbox::ActiveModel = existing.into();
                    active.status = Set(SandboxStatus::Running);
                    active.last_active_at = Set(services.clock.now());
                    let model = active.update(&services.db).await?;
                    services.changes.notify(branch.id);
                    Ok(model)
                }
            }
        }
    }
}

/// Starts the branch's sandbox if needed and waits until it can run commands.
pub async fn ready(services: &Services, user_id: i64, branch_id: i64) -> Result<sandbox::Model> {
    let mut changes = services.changes.subscribe();
    let mut sandbox = start(services, user_id, branch_id).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20 * 60);
    while sandbox.status == SandboxStatus::Creating {
        // A change in this server wakes us at once; a change made by another server
        // instance is seen at the next poll.
        let _ = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_secs(1)),
            async {
                while let Ok(changed) = changes.recv().await {
                    if changed == branch_id {
                        break;
                    }
                }
            },
        )
        .await;
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Upstream("the sandbox took too long to prepare".into()));
        }
        sandbox = row_of(services, branch_id).await?.ok_or(Error::NotFound("sandbox"))?;
    }
    match sandbox.status {
        SandboxStatus::Error => Err(Error::Upstream(
            sandbox.error.unwrap_or_else(|| "the sandbox could not be prepared".into()),
        )),
        _ => Ok(sandbox),
    }
}

/// Stops the branch's sandbox; its files stay for the next start.
pub async fn stop(services: &Services, user_id: i64, branch_id: i64) -> Result<sandbox::Model> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let existing = row_of(services, branch.id).await?.ok_or(Error::NotFound("sandbox"))?;
    match existing.status {
        SandboxStatus::Creating => Err(Error::Conflict(
            "the sandbox is still being prepared; stop it when it is ready".into(),
        )),
        SandboxStatus::Stopped | SandboxStatus::Error => Ok(existing),
        SandboxStatus::Running => stop_row(services, existing).await,
    }
}

async fn stop_row(services: &Services, sandbox: sandbox::Model) -> Result<sandbox::Model> {
    match services.sandboxes.stop(&sandbox.provider_id).await {
        Ok(()) => {}
        // Nothing left to stop; the next start prepares a new one.
        Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let branch_id = sandbox.branch_id;
    let mut active: sandbox::ActiveModel = sandbox.into();
    active.status = Set(SandboxStatus::Stopped);
    let model = active.update(&services.db).await?;
    services.changes.notify(branch_id);
    Ok(model)
}

/// Deletes the branch's sandbox and everything in it that was not pushed.
pub async fn delete(services: &Services, user_id: i64, branch_id: i64) -> Result<()> {
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let existing = row_of(services, branch.id).await?.ok_or(Error::NotFound("sandbox"))?;
    if existing.status == SandboxStatus::Creating {
        return Err(Error::Conflict("the sandbox is still being prepared".into()));
    }
    services.sandboxes.delete(&existing.provider_id).await?;
    existing.delete(&services.db).await?;
    services.changes.notify(branch_id);
    Ok(())
}

/// Deletes the sandboxes of branches about to be deleted. A provider that fails is logged
/// and passed over, so that deleting a branch never gets stuck on its sandbox.
pub async fn discard(services: &Services, branch_ids: &[i64]) -> Result<()> {
    let rows = sandbox::Entity::find()
        .filter(sandbox::Column::BranchId.is_in(branch_ids.iter().copied()))
        .all(&services.db)
        .await?;
    for row in rows {
        if let Err(e) = services.sandboxes.delete(&row.provider_id).await {
            tracing::error!(sandbox = %row.provider_id, error = %e, "could not delete a sandbox");
        }
        row.delete(&services.db).await?;
    }
    Ok(())
}

/// Runs one shell command in the branch's sandbox, starting or recreating the sandbox
/// first when needed. The sandbox counts as active while the command runs.
pub async fn run_command(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    script: &str,
) -> Result<Execution> {
    if script.trim().is_empty() {
        return Err(Error::invalid("command", "type a command to run"));
    }
    let sandbox = ready(services, user_id, branch_id).await?;
    let branch = branches::find_owned(&services.db, user_id, branch_id).await?;
    let repository = repositories::find_owned(&services.db, user_id, branch.repository_id).await?;
    let mut command = Command::new(script).timeout(COMMAND_TIMEOUT);
    command.env = repositories::env_vars(services, &repository)?;
    if repository.provider == RepoProvider::Github {
        // The clone left git's credential helper reading the token from here, so that a
        // push or fetch the user types signs in as them. This is the user's own shell;
        // agents are not given the token, and push only through the platform.
        let token = users::require_github_token(services, user_id).await?;
        command = command.env("GIT_TOKEN", token.expose());
    }
    exec_in(services, &sandbox, command).await
}

/// Runs `command` in a ready sandbox, which counts as active while the command runs.
pub async fn exec_in(
    services: &Services,
    sandbox: &sandbox::Model,
    command: Command,
) -> Result<Execution> {
    let inner = services.sandboxes.exec(&sandbox.provider_id, command).await?;
    let sandbox = touch(services, sandbox).await?;
    Ok(keep_active_while_running(services.clone(), sandbox, inner))
}

/// Passes a command's output through, marking its sandbox active every minute it runs so
/// that auto-stop leaves it alone.
fn keep_active_while_running(
    services: Services,
    sandbox: sandbox::Model,
    inner: Execution,
) -> Execution {
    let Execution { output: mut from, kill } = inner;
    let (to, output) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(Duration::from_secs(60));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                chunk = from.recv() => match chunk {
                    Some(chunk) => {
                        if to.send(chunk).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = heartbeat.tick() => {
                    let _ = touch(&services, &sandbox).await;
                }
            }
        }
    });
    Execution { output, kill }
}

async fn touch(services: &Services, sandbox: &sandbox::Model) -> Result<sandbox::Model> {
    let mut active: sandbox::ActiveModel = sandbox.clone().into();
    active.last_active_at = Set(services.clock.now());
    Ok(active.update(&services.db).await?)
}

/// Stops every running sandbox whose owner's auto-stop interval has passed since its last
/// use. Returns the branch ids whose sandboxes stopped.
pub async fn stop_idle(services: &Services) -> Result<Vec<i64>> {
    let now = services.clock.now();
    let running = sandbox::Entity::find()
        .filter(sandbox::Column::Status.eq(SandboxStatus::Running))
        .filter(sandbox::Column::Provider.eq(services.sandboxes.kind()))
        .all(&services.db)
        .await?;
    let mut stopped = Vec::new();
    for row in running {
        let minutes = auto_stop_minutes(services, row.user_id).await?;
        if row.last_active_at + chrono::Duration::minutes(minutes.into()) > now {
            continue;
        }
        let branch_id = row.branch_id;
        match stop_row(services, row).await {
            Ok(_) => stopped.push(branch_id),
            Err(e) => tracing::warn!(branch_id, error = %e, "could not stop an idle sandbox"),
        }
    }
    if !stopped.is_empty() {
        tracing::info!(count = stopped.len(), "stopped idle sandboxes");
    }
    Ok(stopped)
}

/// The user's auto-stop interval in minutes.
pub async fn auto_stop_minutes(services: &Services, user_id: i64) -> Result<i32> {
    Ok(credential::Entity::find()
        .filter(credential::Column::UserId.eq(user_id))
        .one(&services.db)
        .await?
        .map_or(DEFAULT_AUTO_STOP_MINUTES, |c| c.auto_stop_minutes))
}

/// Brings the database in line with the provider: sandboxes stopped or lost behind our
/// back, and preparations abandoned by a server that went away.
pub async fn reconcile(services: &Services) -> Result<()> {
    let now = services.clock.now();
    let rows = sandbox::Entity::find()
        .filter(sandbox::Column::Provider.eq(services.sandboxes.kind()))
        .all(&services.db)
        .await?;
    for row in rows {
        let branch_id = row.branch_id;
        let changed = match row.status {
            SandboxStatus::Error => continue,
            SandboxStatus::Creating if now - row.last_active_at > ABANDONED_AFTER => {
                let _ = services.sandboxes.delete(&row.provider_id).await;
                let mut active: sandbox::ActiveModel = row.into();
                active.status = Set(SandboxStatus::Error);
                active.error = Set(Some(
                    "Preparation was interrupted when the server stopped; start the sandbox again."
                        .into(),
                ));
                active.update(&services.db).await?;
                true
            }
            SandboxStatus::Creating => continue,
            SandboxStatus::Running | SandboxStatus::Stopped => {
                let state = match services.sandboxes.state(&row.provider_id).await {
                    Ok(state) => state,
                    Err(e) => {
                        tracing::warn!(sandbox = %row.provider_id, error = %e, "cannot reach the sandbox's provider");
                        continue;
                    }
                };
                let status = match state {
                    State::Running => SandboxStatus::Running,
                    State::Stopped => SandboxStatus::Stopped,
                    State::Creating => continue,
                    State::Missing => {
                        // Recreated on its next use; meanwhile it holds no slot.
                        row.delete(&services.db).await?;
                        services.changes.notify(branch_id);
                        continue;
                    }
                    State::Failed(reason) => {
                        let mut active: sandbox::ActiveModel = row.into();
                        active.status = Set(SandboxStatus::Error);
                        active.error = Set(Some(reason));
                        active.update(&services.db).await?;
                        services.changes.notify(branch_id);
                        continue;
                    }
                };
                if status == row.status {
                    continue;
                }
                let mut active: sandbox::ActiveModel = row.into();
                active.status = Set(status);
                active.update(&services.db).await?;
                true
            }
        };
        if changed {
            services.changes.notify(branch_id);
        }
    }
    Ok(())
}

/// How many sandboxes the user holds against their quota, and the quota.
pub async fn usage(services: &Services, user_id: i64) -> Result<(u64, i32)> {
    let user = users::find(&services.db, user_id).await?.ok_or(Error::NotFound("user"))?;
    Ok((held(&services.db, user_id).await?, quota_of(services, &user)))
}

/// The sandboxes that count against a user's quota: all but those in error.
async fn held(db: &impl ConnectionTrait, user_id: i64) -> Result<u64> {
    Ok(sandbox::Entity::find()
        .filter(sandbox::Column::UserId.eq(user_id))
        .filter(sandbox::Column::Status.is_in([
            SandboxStatus::Creating,
            SandboxStatus::Running,
            SandboxStatus::Stopped,
        ]))
        .count(db)
        .await?)
}

fn quota_of(services: &Services, user: &user::Model) -> i32 {
    user.sandbox_quota.unwrap_or(services.default_quota)
}

/// Checks the quota, records the new sandbox as `creating`, and prepares it in the
/// background.
async fn begin_creation(
    services: &Services,
    user_id: i64,
    branch: &branch::Model,
    replaces: Option<sandbox::Model>,
) -> Result<sandbox::Model> {
    let repository = repositories::find_owned(&services.db, user_id, branch.repository_id).await?;
    // The plan reads the user's token and settings through the pool, so it is made before
    // the transaction: on SQLite that holds the only write lock, and a read waiting for a
    // pool connection while it does could wait on the very writers queued behind it.
    let planned_for = user::Entity::find_by_id(user_id)
        .one(&services.db)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let plan = Plan::new(services, &planned_for, &repository, branch).await?;
    let txn = crate::db::begin(&services.db).await?;
    let mut users_query = user::Entity::find_by_id(user_id);
    if txn.get_database_backend() == DbBackend::Postgres {
        // Holds other creations by this user until this one is counted.
        users_query = users_query.lock_exclusive();
    }
    let user = users_query.one(&txn).await?.ok_or(Error::NotFound("user"))?;
    if let Some(old) = replaces {
        old.delete(&txn).await?;
    }
    let held = held(&txn, user_id).await?;
    let quota = quota_of(services, &user);
    if held >= quota.max(0) as u64 {
        return Err(Error::Conflict(format!(
            "You already hold {held} sandboxes, your limit of {quota}. Delete a sandbox (or a \
             branch) you no longer need to free a slot; stopped sandboxes count too."
        )));
    }

    let now = services.clock.now();
    let row = sandbox::ActiveModel {
        branch_id: Set(branch.id),
        user_id: Set(user_id),
        provider: Set(services.sandboxes.kind()),
        provider_id: Set(plan.spec.name.clone()),
        agent_sessions: Set(serde_json::json!({})),
        preview_url_pattern: Set(None),
        status: Set(SandboxStatus::Creating),
        steps: Set(serde_json::to_value(plan.steps()).expect("steps serialize")),
        error: Set(None),
        last_active_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict(_) => {
            Error::Conflict("this branch's sandbox is already being prepared".into())
        }
        other => other,
    })?;
    txn.commit().await?;
    services.changes.notify(branch.id);
    tracing::info!(sandbox = %row.provider_id, branch_id = branch.id, user_id, "preparing a sandbox");

    let background = services.clone();
    let id = row.id;
    tokio::spawn(async move { prepare(background, id, plan).await });
    Ok(row)
}

/// Everything preparing one sandbox needs, gathered before the work starts.
struct Plan {
    spec: Spec,
    repository: String,
    clone_url: String,
    /// Reaches git only through the environment of the clone, never its arguments.
    token: Option<Secret>,
    branch: String,
    base: String,
    start_commit: Option<String>,
    git_name: String,
    git_email: String,
}

const STEP_CREATE: &str = "Create the sandbox";

impl Plan {
    async fn new(
        services: &Services,
        user: &user::Model,
        repository: &repository::Model,
        branch: &branch::Model,
    ) -> Result<Self> {
        let token = match repository.provider {
            RepoProvider::Github => Some(users::require_github_token(services, user.id).await?),
            RepoProvider::Git => None,
        };
        let host_paths = match local_remote(&repository.clone_url) {
            Some(path) => vec![path],
            None => Vec::new(),
        };
        let full_name = format!("{}/{}", repository.owner, repository.name);
        let spec = Spec {
            name: format!("upstream-{}-{}", slug(&user.login), uuid::Uuid::new_v4().simple()),
            labels: BTreeMap::from([
                ("upstream.user".into(), user.login.clone()),
                ("upstream.repository".into(), full_name.clone()),
                ("upstream.branch".into(), branch.name.clone()),
            ]),
            env: repositories::env_vars(services, repository)?,
            auto_stop_minutes: auto_stop_minutes(services, user.id).await?.max(1) as u32,
            host_paths,
        };
        let git_email = match user.github_id {
            Some(id) => format!("{id}+{}@users.noreply.github.com", user.login),
            None => format!("{}@upstream.invalid", user.login),
        };
        Ok(Plan {
            spec,
            repository: full_name,
            clone_url: repository.clone_url.clone(),
            token,
            branch: branch.name.clone(),
            base: branch.base_branch.clone(),
            start_commit: branch.start_commit.clone(),
            git_name: user.name.clone().unwrap_or_else(|| user.login.clone()),
            git_email,
        })
    }

    fn step_names(&self) -> [String; 4] {
        [
            STEP_CREATE.to_owned(),
            format!("Clone {}", self.repository),
            format!("Check out {}", self.branch),
            "Set the git identity".to_owned(),
        ]
    }

    fn steps(&self) -> Vec<Step> {
        self.step_names()
            .into_iter()
            .map(|name| Step { name, state: StepState::Pending, detail: None })
            .collect()
    }
}

/// A remote on this host's disk, which a local sandbox must be allowed to reach.
fn local_remote(clone_url: &str) -> Option<std::path::PathBuf> {
    let path = clone_url.strip_prefix("file://").unwrap_or(clone_url);
    path.starts_with('/').then(|| std::path::PathBuf::from(path))
}

/// A login as it may appear in a sandbox name.
fn slug(login: &str) -> String {
    login
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

/// Git's credential helper for GitHub: it answers with the token from the environment, so
/// the token is in no command line and no file.
pub(crate) const CREDENTIAL_HELPER: &str =
    "!f() { test \"$1\" = get && echo username=x-access-token && echo \"password=$GIT_TOKEN\"; }; f";

const CLONE: &str = r#"git clone --quiet --no-checkout -c "credential.helper=$CREDENTIAL_HELPER" -- "$CLONE_URL" ."#;

const CHECKOUT: &str = r#"set -e
if git rev-parse --quiet --verify "refs/remotes/origin/$BRANCH" >/dev/null; then
  git checkout --quiet -B "$BRANCH" "refs/remotes/origin/$BRANCH"
  echo "$BRANCH exists on the remote: checked it out"
elif [ -n "$START_COMMIT" ]; then
  git checkout --quiet -b "$BRANCH" "$START_COMMIT"
  echo "created $BRANCH at $START_COMMIT"
else
  git checkout --quiet -b "$BRANCH" "refs/remotes/origin/$BASE"
  echo "created $BRANCH from $BASE"
fi"#;

const IDENTITY: &str = r#"git config user.name "$GIT_NAME" && git config user.email "$GIT_EMAIL""#;

/// Runs the preparation steps, recording each; on a failure records which step failed and
/// why, and deletes what was made at the provider.
async fn prepare(services: Services, sandbox_id: i64, plan: Plan) {
    let names = plan.step_names();
    let mut steps = plan.steps();
    let mut provider_id = plan.spec.name.clone();
    let mut created = false;

    for (index, name) in names.iter().enumerate() {
        steps[index].state = StepState::Running;
        if record(&services, sandbox_id, &steps, None).await.is_err() {
            // The row is gone: the branch was deleted while we worked.
            if created {
                let _ = services.sandboxes.delete(&provider_id).await;
            }
            return;
        }
        let outcome = match index {
            0 => services.sandboxes.create(&plan.spec).await.map(|id| {
                provider_id = id;
                created = true;
                Some(match plan.spec.env.len() {
                    0 => "no environment variables".to_owned(),
                    1 => "1 environment variable".to_owned(),
                    n => format!("{n} environment variables"),
                })
            }),
            1 => git_step(&services, &provider_id, &plan, CLONE).await,
            2 => git_step(&services, &provider_id, &plan, CHECKOUT).await,
            _ => git_step(&services, &provider_id, &plan, IDENTITY).await,
        };
        match outcome {
            Ok(detail) => {
                steps[index].state = StepState::Done;
                steps[index].detail = detail;
                if index == 0 {
                    let _ = set_provider_id(&services, sandbox_id, &provider_id).await;
                }
            }
            Err(e) => {
                let reason = redact(&e.to_string(), plan.token.as_ref());
                tracing::warn!(sandbox = %provider_id, step = %name, error = %reason, "sandbox preparation failed");
                steps[index].state = StepState::Failed;
                steps[index].detail = Some(reason.clone());
                if created {
                    if let Err(e) = services.sandboxes.delete(&provider_id).await {
                        tracing::error!(sandbox = %provider_id, error = %e, "could not clean up a failed sandbox");
                    }
                }
                let failure = Some(format!("{name} failed: {reason}"));
                let ended = Some((SandboxStatus::Error, failure));
                let _ = record(&services, sandbox_id, &steps, ended).await;
                return;
            }
        }
    }
    tracing::info!(sandbox = %provider_id, "sandbox ready");
    let _ = record(&services, sandbox_id, &steps, Some((SandboxStatus::Running, None))).await;
}

/// Runs one git step in the sandbox; its output becomes the step's detail.
async fn git_step(
    services: &Services,
    provider_id: &str,
    plan: &Plan,
    script: &str,
) -> Result<Option<String>> {
    let mut command = Command::new(script)
        .timeout(Duration::from_secs(15 * 60))
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("CLONE_URL", &plan.clone_url)
        .env("BRANCH", &plan.branch)
        .env("BASE", &plan.base)
        .env("START_COMMIT", plan.start_commit.clone().unwrap_or_default())
        .env("GIT_NAME", &plan.git_name)
        .env("GIT_EMAIL", &plan.git_email);
    command = match &plan.token {
        Some(token) => {
            command.env("GIT_TOKEN", token.expose()).env("CREDENTIAL_HELPER", CREDENTIAL_HELPER)
        }
        None => command.env("CREDENTIAL_HELPER", ""),
    };
    let (output, exit) = services.sandboxes.exec(provider_id, command).await?.collect().await;
    let output = redact(output.trim(), plan.token.as_ref());
    match exit {
        Exit::Code(0) => Ok((!output.is_empty()).then(|| last_lines(&output, 3))),
        Exit::Code(code) => Err(Error::Upstream(match output.is_empty() {
            true => format!("git exited with status {code}"),
            false => last_lines(&output, 8),
        })),
        Exit::TimedOut => Err(Error::Upstream("git took too long".into())),
        Exit::Killed => Err(Error::Upstream("git was stopped".into())),
    }
}

pub(crate) fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Removes a secret from text that is about to be stored or shown.
pub(crate) fn redact(text: &str, secret: Option<&Secret>) -> String {
    match secret {
        Some(secret) if !secret.expose().is_empty() => text.replace(secret.expose(), "[token]"),
        _ => text.to_owned(),
    }
}

async fn set_provider_id(services: &Services, sandbox_id: i64, provider_id: &str) -> Result<()> {
    sandbox::ActiveModel {
        id: Set(sandbox_id),
        provider_id: Set(provider_id.to_owned()),
        ..Default::default()
    }
    .update(&services.db)
    .await?;
    Ok(())
}

/// Saves the steps so far and, when the preparation ended, how: the status and its error.
async fn record(
    services: &Services,
    sandbox_id: i64,
    steps: &[Step],
    ended: Option<(SandboxStatus, Option<String>)>,
) -> Result<()> {
    let row = sandbox::Entity::find_by_id(sandbox_id)
        .one(&services.db)
        .await?
        .ok_or(Error::NotFound("sandbox"))?;
    let branch_id = row.branch_id;
    let mut active: sandbox::ActiveModel = row.into();
    active.steps = Set(serde_json::to_value(steps).expect("steps serialize"));
    active.last_active_at = Set(services.clock.now());
    if let Some((status, error)) = ended {
        active.status = Set(status);
        active.error = Set(error);
    }
    active.update(&services.db).await?;
    services.changes.notify(branch_id);
    Ok(())
}
