//! Mapping domain rows to the view types the browser receives.

use domain::auth::SessionUser;
use domain::repositories::RepositoryWithBranches;
use entity::{branch, repository};

use crate::model::{Agent, BranchStatus, BranchView, Provider, RepositoryView, UserView};

pub fn user_view(user: &SessionUser) -> UserView {
    UserView {
        login: user.login.clone(),
        name: user.name.clone(),
        avatar_url: user.avatar_url.clone(),
        is_admin: user.is_admin,
    }
}

pub fn repository_view(listed: RepositoryWithBranches) -> RepositoryView {
    let branches = listed.branches.into_iter().map(branch_view).collect();
    RepositoryView { branches, ..new_repository_view(listed.repository) }
}

/// A repository without its branches (just added, or shown beside one branch).
pub fn new_repository_view(repository: repository::Model) -> RepositoryView {
    RepositoryView {
        id: repository.id,
        provider: match repository.provider {
            entity::Provider::Github => Provider::Github,
            entity::Provider::Git => Provider::Git,
        },
        owner: repository.owner,
        name: repository.name,
        default_branch: repository.default_branch,
        avatar_url: repository.avatar_url,
        branches: Vec::new(),
    }
}

pub fn branch_view(branch: branch::Model) -> BranchView {
    BranchView {
        id: branch.id,
        repository_id: branch.repository_id,
        name: branch.name,
        base_branch: branch.base_branch,
        status: match branch.status {
            entity::BranchStatus::Idle => BranchStatus::Idle,
            entity::BranchStatus::Creating => BranchStatus::Creating,
            entity::BranchStatus::Running => BranchStatus::Running,
            entity::BranchStatus::Stopped => BranchStatus::Stopped,
            entity::BranchStatus::Error => BranchStatus::Error,
        },
        agent: match branch.agent {
            entity::Agent::ClaudeCode => Agent::ClaudeCode,
            entity::Agent::Codex => Agent::Codex,
            entity::Agent::Opencode => Agent::Opencode,
        },
        model: branch.model,
        pr_url: branch.pr_url,
        unread: branch.unread,
    }
}

pub fn agent_entity(agent: Agent) -> entity::Agent {
    match agent {
        Agent::ClaudeCode => entity::Agent::ClaudeCode,
        Agent::Codex => entity::Agent::Codex,
        Agent::Opencode => entity::Agent::Opencode,
    }
}

/// The branch's sandbox (or its absence) with the user's quota use.
pub async fn sandbox_view(
    services: &domain::Services,
    user_id: i64,
    branch_id: i64,
    sandbox: Option<entity::sandbox::Model>,
) -> Result<crate::model::SandboxView, domain::Error> {
    use crate::model::{SandboxState, SandboxView, StepState, StepView};
    use domain::sandboxes::{self, StepState as DomainStep};
    use entity::SandboxStatus;

    let (held, quota) = sandboxes::usage(services, user_id).await?;
    let warning = services.sandboxes.isolation_warning();
    let Some(sandbox) = sandbox else {
        return Ok(SandboxView {
            branch_id,
            state: SandboxState::None,
            steps: Vec::new(),
            error: None,
            warning,
            held,
            quota,
        });
    };
    let steps = sandboxes::steps_of(&sandbox)
        .into_iter()
        .map(|step| StepView {
            name: step.name,
            state: match step.state {
                DomainStep::Pending => StepState::Pending,
                DomainStep::Running => StepState::Running,
                DomainStep::Done => StepState::Done,
                DomainStep::Failed => StepState::Failed,
            },
            detail: step.detail,
        })
        .collect();
    Ok(SandboxView {
        branch_id,
        state: match sandbox.status {
            SandboxStatus::Creating => SandboxState::Creating,
            SandboxStatus::Running => SandboxState::Running,
            SandboxStatus::Stopped => SandboxState::Stopped,
            SandboxStatus::Error => SandboxState::Error,
        },
        steps,
        error: sandbox.error,
        warning,
        held,
        quota,
    })
}

/// One line of a command's output for the browser.
pub fn command_line(line: domain::commands::Line) -> crate::model::CommandLine {
    use crate::model::CommandLine;
    use domain::commands::Line;
    use domain::sandbox::Exit;

    match line {
        Line::Stdout(text) => CommandLine::Stdout(text),
        Line::Stderr(text) => CommandLine::Stderr(text),
        Line::Failed(reason) => CommandLine::Failed(reason),
        Line::Exit(Exit::Code(code)) => CommandLine::Exit(format!("exit {code}")),
        Line::Exit(Exit::Killed) => CommandLine::Exit("killed".into()),
        Line::Exit(Exit::TimedOut) => CommandLine::Exit("timed out".into()),
    }
}

pub fn agent_of(agent: Agent) -> agents::Agent {
    match agent {
        Agent::ClaudeCode => agents::Agent::ClaudeCode,
        Agent::Codex => agents::Agent::Codex,
        Agent::Opencode => agents::Agent::Opencode,
    }
}

fn agent_from_entity(agent: entity::Agent) -> Agent {
    match agent {
        entity::Agent::ClaudeCode => Agent::ClaudeCode,
        entity::Agent::Codex => Agent::Codex,
        entity::Agent::Opencode => Agent::Opencode,
    }
}

pub async fn user_settings(
    services: &domain::Services,
    user_id: i64,
) -> domain::Result<crate::model::UserSettings> {
    let hints = domain::credentials::hints(services, user_id).await?;
    Ok(crate::model::UserSettings {
        auto_stop_minutes: domain::sandboxes::auto_stop_minutes(services, user_id).await?,
        loop_max_iterations: domain::credentials::loop_max(services, user_id).await?,
        keys: crate::model::KeyHints {
            anthropic: hints.anthropic,
            openai: hints.openai,
            opencode: hints.opencode,
        },
    })
}

pub fn run_view(run: entity::run::Model) -> crate::model::RunView {
    let prompt: String = run.prompt.chars().take(300).collect();
    crate::model::RunView {
        id: run.id,
        status: format!("{:?}", run.status).to_lowercase(),
        prompt,
        agent: agent_from_entity(run.agent),
        loop_iteration: run.loop_iteration,
    }
}

pub fn live_event(event: domain::runs::StoredEvent) -> crate::model::LiveEvent {
    crate::model::LiveEvent {
        id: event.id,
        run_id: event.run_id,
        seq: event.seq,
        event: serde_json::to_value(&event.event).unwrap_or_default(),
    }
}

/// The branch's conversation for its page.
pub async fn conversation(
    services: &domain::Services,
    user_id: i64,
    branch_id: i64,
    before: Option<i64>,
) -> domain::Result<crate::model::Conversation> {
    use crate::server_fns::runs::PAGE;

    let snapshot = domain::runs::snapshot(services, user_id, branch_id, before, PAGE).await?;
    let branch = snapshot.branch;
    Ok(crate::model::Conversation {
        branch_id: branch.id,
        messages: snapshot.messages.into_iter().map(message_view).collect(),
        has_older: snapshot.has_older,
        runs: snapshot.pending.into_iter().map(run_view).collect(),
        live: snapshot.live.into_iter().map(live_event).collect(),
        last_event_id: snapshot.last_event_id,
        composer: crate::model::Composer {
            agent: agent_from_entity(branch.agent),
            model: branch.model,
            draft: branch.draft_prompt,
            loop_enabled: branch.loop_enabled,
            loop_max: domain::credentials::loop_max(services, user_id).await?,
            loop_count: branch.loop_count,
        },
    })
}

pub fn message_view(row: entity::message::Model) -> crate::model::MessageView {
    use crate::model::{BlockView, MessageRole, MessageView, UsageView};
    use domain::runs::reply::Block;

    let role = match row.role {
        entity::MessageRole::User => MessageRole::User,
        entity::MessageRole::Assistant => MessageRole::Assistant,
        entity::MessageRole::Notice => MessageRole::Notice,
    };
    let saved = &row.blocks;
    let text_of = |key: &str| saved.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let blocks: Vec<Block> = saved
        .get("blocks")
        .and_then(|b| serde_json::from_value(b.clone()).ok())
        .unwrap_or_default();
    let blocks = blocks
        .into_iter()
        .map(|block| match block {
            Block::Text { text } => BlockView::Text { html: markdown(&text) },
            Block::Tool { name, summary, input, output, status, .. } => BlockView::Tool {
                name,
                summary,
                input: serde_json::to_string_pretty(&input).unwrap_or_default(),
                output,
                status: status.map(|s| format!("{s:?}").to_lowercase()),
            },
            Block::Output { text } => BlockView::Output { text },
            Block::Error { message } => BlockView::Error { message },
        })
        .collect();
    let usage =
        saved.get("usage").and_then(|u| serde_json::from_value::<agents::Usage>(u.clone()).ok());
    MessageView {
        id: row.id,
        role,
        text: row.content,
        blocks,
        usage: usage.map(|u| UsageView {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cache_write_tokens: u.cache_write_tokens,
            cost_usd: u.cost_usd,
        }),
        status: text_of("status"),
        error: text_of("error"),
        agent: text_of("agent").and_then(|a| Agent::from_id(&a)),
        model: text_of("model"),
        loop_iteration: saved.get("loop_iteration").and_then(|v| v.as_i64()).unwrap_or(0) as i32,
        run_id: row.run_id,
    }
}

/// Markdown to HTML. Raw HTML in the text is shown as text, never passed through, and
/// links go only to web and mail addresses: the text comes from an agent, which may
/// repeat whatever a file or web page said.
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};
    let safe = |url: CowStr<'static>| -> CowStr<'static> {
        let lower = url.trim().to_ascii_lowercase();
        let has_scheme = lower.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if !has_scheme || ["http:", "https:", "mailto:"].iter().any(|s| lower.starts_with(s)) {
            url
        } else {
            CowStr::Borrowed("#")
        }
    };
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe(dest_url.into_static()), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe(dest_url.into_static()),
            title,
            id,
        }),
        other => other,
    });
    // Each code block gets a Copy button just before it, which the page wires up.
    let events = events.flat_map(|event| {
        let (before, after) = match &event {
            Event::Start(Tag::CodeBlock(_)) => (
                Some(Event::Html(CowStr::Borrowed(
                    "<div class=\"code-block\"><button type=\"button\" data-copy>Copy</button>",
                ))),
                None,
            ),
            Event::End(TagEnd::CodeBlock) => (None, Some(Event::Html(CowStr::Borrowed("</div>")))),
            _ => (None, None),
        };
        before.into_iter().chain(std::iter::once(event)).chain(after)
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}
