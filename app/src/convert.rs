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
