//! Adding, listing, ordering and removing repositories.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{GithubRepoView, RemoteBranchesView, RepositoryView};

/// The GitHub repositories the user's token can see whose name contains `query`.
#[server(prefix = "/api", endpoint = "list_github_repositories", input = leptos::server_fn::codec::Json)]
pub async fn list_github_repositories(query: String) -> Result<Vec<GithubRepoView>, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let token = domain::users::require_github_token(&services, user.id).await.map_err(fail)?;
    let listed = services.github.repositories(&token).await.map_err(fail)?;
    let added: Vec<String> = domain::repositories::list(&services.db, user.id)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|r| format!("{}/{}", r.repository.owner, r.repository.name).to_lowercase())
        .collect();
    let query = query.trim().to_lowercase();
    Ok(listed
        .into_iter()
        .filter(|r| r.full_name.to_lowercase().contains(&query))
        .map(|r| GithubRepoView {
            added: added.contains(&r.full_name.to_lowercase()),
            full_name: r.full_name,
            description: r.description,
            private: r.private,
        })
        .collect())
}

/// Adds a GitHub repository by `owner/name`.
#[server(prefix = "/api", endpoint = "add_github_repository", input = leptos::server_fn::codec::Json)]
pub async fn add_github_repository(full_name: String) -> Result<RepositoryView, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let added =
        domain::repositories::add_github(&services, user.id, &full_name).await.map_err(fail)?;
    Ok(crate::convert::new_repository_view(added))
}

/// Adds a plain git repository by clone URL or local path.
#[server(prefix = "/api", endpoint = "add_git_repository", input = leptos::server_fn::codec::Json)]
pub async fn add_git_repository(url: String) -> Result<RepositoryView, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let added = domain::repositories::add_git(&services, user.id, &url).await.map_err(fail)?;
    Ok(crate::convert::new_repository_view(added))
}

/// Removes a repository and all its branches.
#[server(prefix = "/api", endpoint = "remove_repository", input = leptos::server_fn::codec::Json)]
pub async fn remove_repository(repository_id: i64) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::repositories::remove(&services, user.id, repository_id).await.map_err(fail)
}

/// Stores the order of the sidebar's repositories.
#[server(prefix = "/api", endpoint = "reorder_repositories", input = leptos::server_fn::codec::Json)]
pub async fn reorder_repositories(order: Vec<i64>) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::repositories::reorder(&services, user.id, &order).await.map_err(fail)
}

/// The branches of a repository's remote, for choosing a base branch.
#[server(prefix = "/api", endpoint = "list_remote_branches", input = leptos::server_fn::codec::Json)]
pub async fn list_remote_branches(repository_id: i64) -> Result<RemoteBranchesView, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let remote = domain::repositories::remote_branches(&services, user.id, repository_id)
        .await
        .map_err(fail)?;
    Ok(RemoteBranchesView { default_branch: remote.default_branch, branches: remote.branches })
}
