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
