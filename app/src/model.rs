//! The view types shared by the browser and the server. These cross the wire; database
//! rows never do.

use serde::{Deserialize, Serialize};

/// The signed-in user as the header shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub is_admin: bool,
}

/// Everything the sidebar needs, loaded once per page and refreshed after each change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub user: UserView,
    pub repositories: Vec<RepositoryView>,
    /// Whether the user has a GitHub token, so GitHub repositories can be listed.
    pub github_connected: bool,
    /// Whether signing out means anything here (not when everyone is signed in
    /// automatically).
    pub can_sign_out: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Git,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepositoryView {
    pub id: i64,
    pub provider: Provider,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub avatar_url: Option<String>,
    pub branches: Vec<BranchView>,
}

impl RepositoryView {
    /// `owner/name`, as people write it.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchView {
    pub id: i64,
    pub repository_id: i64,
    pub name: String,
    pub base_branch: String,
    pub status: BranchStatus,
    pub agent: Agent,
    pub model: String,
    pub pr_url: Option<String>,
    /// A run ended since the user last opened the branch.
    pub unread: bool,
}

/// A branch with the repository it belongs to, for the branch page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchDetail {
    pub repository: RepositoryView,
    pub branch: BranchView,
    pub sandbox: SandboxView,
    pub conversation: Conversation,
}

/// What a branch is doing, as its badge shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BranchStatus {
    Idle,
    Creating,
    Running,
    Stopped,
    Error,
}

impl BranchStatus {
    pub const ALL: [BranchStatus; 5] = [
        BranchStatus::Idle,
        BranchStatus::Creating,
        BranchStatus::Running,
        BranchStatus::Stopped,
        BranchStatus::Error,
    ];

    pub fn from_label(label: &str) -> Option<BranchStatus> {
        BranchStatus::ALL.into_iter().find(|s| s.label() == label)
    }

    pub fn label(self) -> &'static str {
        match self {
            BranchStatus::Idle => "idle",
            BranchStatus::Creating => "creating",
            BranchStatus::Running => "running",
            BranchStatus::Stopped => "stopped",
            BranchStatus::Error => "error",
        }
    }
}

/// The coding agents a branch can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    ClaudeCode,
    Codex,
    Opencode,
}

impl Agent {
    pub const ALL: [Agent; 3] = [Agent::ClaudeCode, Agent::Codex, Agent::Opencode];

    /// The name used in URLs, forms and the database.
    pub fn id(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Opencode => "opencode",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
            Agent::Opencode => "OpenCode",
        }
    }

    pub fn from_id(id: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.id() == id)
    }

    /// Models offered for this agent; the first is the default. Any other model name
    /// the agent accepts may be typed in.
    pub fn models(self) -> &'static [&'static str] {
        match self {
            Agent::ClaudeCode => &["sonnet", "opus", "haiku"],
            Agent::Codex => &["gpt-5.4", "gpt-5.4-mini", "o4-mini"],
            Agent::Opencode => {
                &["opencode/big-pickle", "anthropic/claude-sonnet-4-5", "openai/gpt-5.4"]
            }
        }
    }
}

/// A repository the user's GitHub token can see, for the "add repository" list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GithubRepoView {
    pub full_name: String,
    pub description: Option<String>,
    pub private: bool,
    /// Already in the workspace, so it cannot be added twice.
    pub added: bool,
}

/// A remote's branches, for choosing the base of a new branch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteBranchesView {
    pub default_branch: String,
    pub branches: Vec<String>,
}

/// How people sign in to this server, for the sign-in page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SignInMethod {
    /// The GitHub OAuth web flow is configured.
    GithubOAuth,
    /// Users are signed in automatically (dev mode or the local user).
    Automatic,
    /// Nothing is configured and the server is reachable beyond this machine.
    Unavailable,
}

/// A branch's sandbox as the branch view shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxView {
    pub branch_id: i64,
    pub state: SandboxState,
    /// The preparation's steps, in order.
    pub steps: Vec<StepView>,
    /// Why it is in error.
    pub error: Option<String>,
    /// Set when this server runs sandboxes without isolation, or cannot run them at all.
    pub warning: Option<String>,
    /// Sandboxes the user holds against their quota, and the quota.
    pub held: u64,
    pub quota: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxState {
    /// The branch has no sandbox yet (or it was deleted).
    None,
    Creating,
    Running,
    Stopped,
    Error,
}

impl SandboxState {
    pub fn label(self) -> &'static str {
        match self {
            SandboxState::None => "No sandbox",
            SandboxState::Creating => "Preparing",
            SandboxState::Running => "Running",
            SandboxState::Stopped => "Stopped",
            SandboxState::Error => "Failed",
        }
    }
}

/// What the branch view can do to a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxAction {
    Start,
    Stop,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub state: StepState,
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

/// One piece of a command's output as the browser receives it over its event stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "lowercase")]
pub enum CommandLine {
    Stdout(String),
    Stderr(String),
    /// The command could not run; the reason.
    Failed(String),
    /// How it ended: `exit 0`, `killed`, `timed out`.
    Exit(String),
}

/// A repository's settings page: its sandbox environment's names, never its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepositorySettings {
    pub repository: RepositoryView,
    pub env_names: Vec<String>,
}

/// The user's own settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSettings {
    /// Minutes a sandbox may idle before it stops by itself (5–20).
    pub auto_stop_minutes: i32,
    /// Most continuations loop mode sends (1–25).
    pub loop_max_iterations: i32,
    pub keys: KeyHints,
}

/// A branch's conversation as the branch page opens it: a page of messages, the runs not
/// yet ended, the events of the running one so far, and the prompt box's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub branch_id: i64,
    /// Oldest first.
    pub messages: Vec<MessageView>,
    /// Older messages exist before the first one here.
    pub has_older: bool,
    /// The running run (first, when there is one) and the queued ones, in order.
    pub runs: Vec<RunView>,
    /// The running run's events so far.
    pub live: Vec<LiveEvent>,
    /// The newest event id the page has seen; its event stream resumes after it.
    pub last_event_id: i64,
    pub composer: Composer,
}

/// The prompt box: agent and model, the draft, and loop mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Composer {
    pub agent: Agent,
    pub model: String,
    pub draft: String,
    pub loop_enabled: bool,
    /// The user's limit of continuations.
    pub loop_max: i32,
    /// Continuations sent so far in the loop under way.
    pub loop_count: i32,
}

/// One entry of the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: i64,
    pub role: MessageRole,
    /// The words, as written (for a user's prompt or a notice).
    pub text: String,
    /// An agent's reply: its text (as HTML rendered from markdown) and tool calls, in order.
    pub blocks: Vec<BlockView>,
    pub usage: Option<UsageView>,
    /// How the run ended, for a reply: `completed`, `error`, `cancelled`, `interrupted`.
    pub status: Option<String>,
    pub error: Option<String>,
    pub agent: Option<Agent>,
    pub model: Option<String>,
    /// 0 for a prompt the user sent; 1, 2, … for loop mode's continuations.
    pub loop_iteration: i32,
    pub run_id: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
    Notice,
}

/// A piece of an agent's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockView {
    /// Markdown rendered to HTML by the server, raw HTML in it escaped.
    Text {
        html: String,
    },
    Tool {
        name: String,
        summary: String,
        /// The input, pretty-printed.
        input: String,
        output: Option<String>,
        /// `completed`, `failed`, or `None` while it runs.
        status: Option<String>,
    },
    Output {
        text: String,
    },
    Error {
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageView {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// A run that has not ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub id: i64,
    /// `queued` or `running`.
    pub status: String,
    pub prompt: String,
    pub agent: Agent,
    pub loop_iteration: i32,
}

/// One stored event of a run, as the event stream and the page deliver it. `event` is
/// the agent's or the run's event as JSON, told apart by its `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub run_id: i64,
    pub seq: i64,
    pub event: serde_json::Value,
}

/// Which agent keys the user has set, as their last characters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyHints {
    pub anthropic: Option<String>,
    pub openai: Option<String>,
    pub opencode: Option<String>,
}
