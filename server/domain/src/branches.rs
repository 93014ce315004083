//! Branches: each one a conversation in a repository, named by git's rules.

use chrono::Utc;
use entity::{branch, credential, repository, Agent, BranchStatus};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, Set,
};

use crate::refname::check_branch_name;
use crate::repositories::find_owned as find_owned_repository;
use crate::{Error, Result, Services};

/// What a user fills in to start a branch.
#[derive(Debug, Clone)]
pub struct NewBranch {
    pub repository_id: i64,
    pub name: String,
    pub base_branch: String,
    pub agent: Agent,
    pub model: String,
}

/// Creates a branch in one of the user's repositories.
///
/// Fails with [`Error::Invalid`] for a name git would refuse, and with [`Error::Conflict`]
/// when the repository already has a branch of that name.
pub async fn create(services: &Services, user_id: i64, new: NewBranch) -> Result<branch::Model> {
    let db = &services.db;
    let repository = find_owned_repository(db, user_id, new.repository_id).await?;
    let name = new.name.trim().to_owned();
    check_branch_name(&name).map_err(|m| Error::invalid("name", m))?;
    let base = new.base_branch.trim().to_owned();
    check_branch_name(&base).map_err(|m| Error::invalid("base_branch", m))?;
    if base == name {
        return Err(Error::invalid("base_branch", "a branch cannot be its own base"));
    }
    let model = check_model(&new.model)?;
    let loop_max = credential::Entity::find()
        .filter(credential::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map_or(10, |c| c.loop_max_iterations);

    let now = Utc::now();
    branch::ActiveModel {
        repository_id: Set(repository.id),
        user_id: Set(user_id),
        name: Set(name.clone()),
        base_branch: Set(base),
        start_commit: Set(None),
        status: Set(BranchStatus::Idle),
        agent: Set(new.agent),
        model: Set(model),
        draft_prompt: Set(String::new()),
        pr_url: Set(None),
        loop_enabled: Set(false),
        loop_count: Set(0),
        loop_max: Set(loop_max),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| already_exists(e, &repository, &name))
}

/// Renames a branch in the workspace.
pub async fn rename(
    services: &Services,
    user_id: i64,
    branch_id: i64,
    new_name: &str,
) -> Result<branch::Model> {
    let db = &services.db;
    let found = find_owned(db, user_id, branch_id).await?;
    let name = new_name.trim().to_owned();
    check_branch_name(&name).map_err(|m| Error::invalid("name", m))?;
    if name == found.name {
        return Ok(found);
    }
    let repository = find_owned_repository(db, user_id, found.repository_id).await?;
    let mut active: branch::ActiveModel = found.into();
    active.name = Set(name.clone());
    active.updated_at = Set(Utc::now());
    active.update(db).await.map_err(|e| already_exists(e, &repository, &name))
}

/// Deletes a branch, its conversation and its sandbox.
pub async fn delete(services: &Services, user_id: i64, branch_id: i64) -> Result<()> {
    let found = find_owned(&services.db, user_id, branch_id).await?;
    crate::sandboxes::discard(services, &[found.id]).await?;
    found.delete(&services.db).await?;
    Ok(())
}

/// One of the user's branches, or [`Error::NotFound`] (also when it is someone else's).
pub async fn find_owned(
    db: &impl ConnectionTrait,
    user_id: i64,
    branch_id: i64,
) -> Result<branch::Model> {
    branch::Entity::find_by_id(branch_id)
        .filter(branch::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("branch"))
}

/// The branch a deep link `/r/{owner}/{repo}/{branch}` names, with its repository.
pub async fn find_by_path(
    db: &impl ConnectionTrait,
    user_id: i64,
    owner: &str,
    name: &str,
    branch_name: &str,
) -> Result<(repository::Model, branch::Model)> {
    let repository = crate::repositories::find_by_name(db, user_id, owner, name).await?;
    let branch = branch::Entity::find()
        .filter(branch::Column::RepositoryId.eq(repository.id))
        .filter(branch::Column::Name.eq(branch_name))
        .one(db)
        .await?
        .ok_or(Error::NotFound("branch"))?;
    Ok((repository, branch))
}

fn check_model(model: &str) -> Result<String> {
    let model = model.trim();
    let ok = !model.is_empty()
        && model.len() <= 100
        && !model.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| model.to_owned())
        .ok_or_else(|| Error::invalid("model", "a model is one word of at most 100 characters"))
}

fn already_exists(err: sea_orm::DbErr, repository: &repository::Model, name: &str) -> Error {
    match Error::from(err) {
        Error::Conflict(_) => Error::Conflict(format!(
            "{}/{} already has a branch named {name}",
            repository.owner, repository.name
        )),
        other => other,
    }
}
