//! Creating, opening, renaming and deleting branches.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{Agent, BranchDetail, BranchView};

/// Creates a branch in one of the user's repositories.
#[server(prefix = "/api", endpoint = "create_branch", input = leptos::server_fn::codec::Json)]
pub async fn create_branch(
    repository_id: i64,
    name: String,
    base_branch: String,
    agent: Agent,
    model: String,
) -> Result<BranchView, AppError> {
    use super::ssr::{fail, signed_in};
    use crate::convert::{agent_entity, branch_view};

    let (user, services) = signed_in().await?;
    let new = domain::branches::NewBranch {
        repository_id,
        name,
        base_branch,
        agent: agent_entity(agent),
        model,
    };
    let created = domain::branches::create(&services, user.id, new).await.map_err(fail)?;
    Ok(branch_view(created))
}

/// The branch a deep link names, with its repository.
#[server(prefix = "/api", endpoint = "get_branch", input = leptos::server_fn::codec::Json)]
pub async fn get_branch(
    owner: String,
    repo: String,
    branch: String,
) -> Result<BranchDetail, AppError> {
    use super::ssr::{fail, signed_in};
    use crate::convert::{branch_view, new_repository_view};

    let (user, services) = signed_in().await?;
    let (repository, branch) =
        domain::branches::find_by_path(&services.db, user.id, &owner, &repo, &branch)
            .await
            .map_err(fail)?;
    let sandbox =
        domain::sandboxes::for_branch(&services, user.id, branch.id).await.map_err(fail)?;
    let sandbox =
        crate::convert::sandbox_view(&services, user.id, branch.id, sandbox).await.map_err(fail)?;
    let conversation =
        crate::convert::conversation(&services, user.id, branch.id, None).await.map_err(fail)?;
    domain::runs::mark_read(&services, user.id, branch.id).await.map_err(fail)?;
    Ok(BranchDetail {
        repository: new_repository_view(repository),
        branch: branch_view(branch),
        sandbox,
        conversation,
    })
}

/// Renames a branch.
#[server(prefix = "/api", endpoint = "rename_branch", input = leptos::server_fn::codec::Json)]
pub async fn rename_branch(branch_id: i64, name: String) -> Result<BranchView, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let renamed =
        domain::branches::rename(&services, user.id, branch_id, &name).await.map_err(fail)?;
    Ok(crate::convert::branch_view(renamed))
}

/// Deletes a branch and its conversation.
#[server(prefix = "/api", endpoint = "delete_branch", input = leptos::server_fn::codec::Json)]
pub async fn delete_branch(branch_id: i64) -> Result<(), AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    domain::branches::delete(&services, user.id, branch_id).await.map_err(fail)
}
