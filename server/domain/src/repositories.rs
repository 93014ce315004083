//! Repositories a user added, in the order they arranged them, each with its branches.

use std::collections::HashMap;

use chrono::Utc;
use entity::{branch, repository, user, Provider};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::git::{self, parse_clone_source};
use crate::{users, Error, Result, Services};

/// A repository with its branches, as the sidebar lists it.
#[derive(Debug, Clone)]
pub struct RepositoryWithBranches {
    pub repository: repository::Model,
    pub branches: Vec<branch::Model>,
}

/// A remote's branches, for choosing the base of a new branch.
#[derive(Debug, Clone)]
pub struct RemoteBranches {
    pub default_branch: String,
    pub branches: Vec<String>,
}

/// The user's repositories in their chosen order, each with its branches sorted by name.
pub async fn list(db: &impl ConnectionTrait, user_id: i64) -> Result<Vec<RepositoryWithBranches>> {
    let user = users::find(db, user_id).await?.ok_or(Error::NotFound("user"))?;
    let repositories = repository::Entity::find()
        .filter(repository::Column::UserId.eq(user_id))
        .order_by_asc(repository::Column::CreatedAt)
        .order_by_asc(repository::Column::Id)
        .all(db)
        .await?;
    let mut branches_by_repository: HashMap<i64, Vec<branch::Model>> = HashMap::new();
    let branches = branch::Entity::find()
        .filter(branch::Column::UserId.eq(user_id))
        .order_by_asc(branch::Column::Name)
        .all(db)
        .await?;
    for branch in branches {
        branches_by_repository.entry(branch.repository_id).or_default().push(branch);
    }

    let position = positions(&user);
    let mut listed: Vec<_> = repositories
        .into_iter()
        .map(|repository| RepositoryWithBranches {
            branches: branches_by_repository.remove(&repository.id).unwrap_or_default(),
            repository,
        })
        .collect();
    // Repositories the user never moved keep their creation order, after the ones they did.
    listed.sort_by_key(|r| position.get(&r.repository.id).copied().unwrap_or(usize::MAX));
    Ok(listed)
}

/// One of the user's repositories, or [`Error::NotFound`] (also when it is someone else's).
pub async fn find_owned(
    db: &impl ConnectionTrait,
    user_id: i64,
    repository_id: i64,
) -> Result<repository::Model> {
    repository::Entity::find_by_id(repository_id)
        .filter(repository::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("repository"))
}

/// Adds a GitHub repository the user's token can see, by `owner/name`.
pub async fn add_github(
    services: &Services,
    user_id: i64,
    full_name: &str,
) -> Result<repository::Model> {
    let (owner, name) = full_name
        .trim()
        .split_once('/')
        .ok_or_else(|| Error::invalid("repository", "give the repository as owner/name"))?;
    let token = users::require_github_token(services, user_id).await?;
    let found = services.github.repository(&token, owner, name).await?;
    insert(
        services,
        user_id,
        repository::ActiveModel {
            provider: Set(Provider::Github),
            owner: Set(found.owner.login),
            name: Set(found.name),
            clone_url: Set(found.clone_url),
            default_branch: Set(found.default_branch),
            avatar_url: Set(found.owner.avatar_url),
            ..Default::default()
        },
    )
    .await
}

/// Adds a plain git repository by clone URL or local path, after checking that git can
/// read it.
pub async fn add_git(services: &Services, user_id: i64, url: &str) -> Result<repository::Model> {
    let source = parse_clone_source(url)?;
    let heads = git::remote_heads(&source.url).await?;
    let default_branch =
        heads.default_branch.or_else(|| heads.branches.first().cloned()).ok_or_else(|| {
            Error::invalid("url", "the repository has no branches yet: push a first commit")
        })?;
    insert(
        services,
        user_id,
        repository::ActiveModel {
            provider: Set(Provider::Git),
            owner: Set(source.owner),
            name: Set(source.name),
            clone_url: Set(source.url),
            default_branch: Set(default_branch),
            avatar_url: Set(None),
            ..Default::default()
        },
    )
    .await
}

async fn insert(
    services: &Services,
    user_id: i64,
    mut active: repository::ActiveModel,
) -> Result<repository::Model> {
    let label = format!("{}/{}", active.owner.as_ref(), active.name.as_ref());
    active.user_id = Set(user_id);
    active.env_vars = Set(None);
    active.created_at = Set(Utc::now());
    let txn = crate::db::begin(&services.db).await?;
    let model = active.insert(&txn).await.map_err(|e| match Error::from(e) {
        Error::Conflict(_) => Error::Conflict(format!("{label} is already in your workspace")),
        other => other,
    })?;
    let user = users::find(&txn, user_id).await?.ok_or(Error::NotFound("user"))?;
    let mut order = order_of(&user);
    order.push(model.id);
    save_order(&txn, user, order).await?;
    txn.commit().await?;
    Ok(model)
}

/// One of the user's repositories by the `owner/name` its links use.
pub async fn find_by_name(
    db: &impl ConnectionTrait,
    user_id: i64,
    owner: &str,
    name: &str,
) -> Result<repository::Model> {
    repository::Entity::find()
        .filter(repository::Column::UserId.eq(user_id))
        .filter(repository::Column::Owner.eq(owner))
        .filter(repository::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or(Error::NotFound("repository"))
}

/// Removes a repository with all its branches and their sandboxes.
pub async fn remove(services: &Services, user_id: i64, repository_id: i64) -> Result<()> {
    let repository = find_owned(&services.db, user_id, repository_id).await?;
    let branch_ids: Vec<i64> = branch::Entity::find()
        .filter(branch::Column::RepositoryId.eq(repository.id))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|b| b.id)
        .collect();
    crate::sandboxes::discard(services, &branch_ids).await?;
    let txn = crate::db::begin(&services.db).await?;
    let repository = find_owned(&txn, user_id, repository_id).await?;
    repository.delete(&txn).await?;
    let user = users::find(&txn, user_id).await?.ok_or(Error::NotFound("user"))?;
    let order = order_of(&user).into_iter().filter(|id| *id != repository_id).collect();
    save_order(&txn, user, order).await?;
    txn.commit().await?;
    Ok(())
}

/// Stores the sidebar order. Every id must be one of the user's repositories.
pub async fn reorder(services: &Services, user_id: i64, order: &[i64]) -> Result<()> {
    let txn = crate::db::begin(&services.db).await?;
    let owned = repository::Entity::find()
        .filter(repository::Column::UserId.eq(user_id))
        .filter(repository::Column::Id.is_in(order.iter().copied()))
        .all(&txn)
        .await?;
    let mut unique = order.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if owned.len() != unique.len() || unique.len() != order.len() {
        return Err(Error::NotFound("repository"));
    }
    let user = users::find(&txn, user_id).await?.ok_or(Error::NotFound("user"))?;
    save_order(&txn, user, order.to_vec()).await?;
    txn.commit().await?;
    Ok(())
}

/// The branches of the repository's remote, for choosing a base branch.
pub async fn remote_branches(
    services: &Services,
    user_id: i64,
    repository_id: i64,
) -> Result<RemoteBranches> {
    let repository = find_owned(&services.db, user_id, repository_id).await?;
    let branches = match repository.provider {
        Provider::Github => {
            let token = users::require_github_token(services, user_id).await?;
            services.github.branches(&token, &repository.owner, &repository.name).await?
        }
        Provider::Git => git::remote_heads(&repository.clone_url).await?.branches,
    };
    Ok(RemoteBranches { default_branch: repository.default_branch, branches })
}

fn order_of(user: &user::Model) -> Vec<i64> {
    serde_json::from_value(user.repository_order.clone()).unwrap_or_default()
}

fn positions(user: &user::Model) -> HashMap<i64, usize> {
    order_of(user).into_iter().enumerate().map(|(i, id)| (id, i)).collect()
}

async fn save_order(db: &impl ConnectionTrait, user: user::Model, order: Vec<i64>) -> Result<()> {
    let mut active: user::ActiveModel = user.into();
    active.repository_order = Set(serde_json::json!(order));
    active.update(db).await?;
    Ok(())
}

/// Names the platform sets in every sandbox, which a repository may not override.
const RESERVED_ENV: &[&str] =
    &["PATH", "HOME", "UPSTREAM_SANDBOX", "GIT_TOKEN", "CREDENTIAL_HELPER", "CLONE_URL"];

/// A change to a repository's sandbox environment. Values only ever travel this way:
/// they are sealed at once and never read back out to a browser.
#[derive(Debug, Clone)]
pub enum EnvChange {
    Set { name: String, value: String },
    Remove { name: String },
}

/// The repository's sandbox environment in the clear, for a sandbox about to use it.
pub fn env_vars(
    services: &Services,
    repository: &repository::Model,
) -> Result<std::collections::BTreeMap<String, String>> {
    let Some(sealed) = &repository.env_vars else { return Ok(Default::default()) };
    let plain = services.sealer.open(sealed).map_err(|e| {
        tracing::error!(repository_id = repository.id, error = %e, "sealed environment does not open");
        Error::Internal("the repository's environment variables cannot be read".into())
    })?;
    serde_json::from_str(plain.expose())
        .map_err(|_| Error::Internal("the repository's environment variables are damaged".into()))
}

/// The names of the repository's sandbox environment variables, sorted; never the values.
pub async fn env_names(
    services: &Services,
    user_id: i64,
    repository_id: i64,
) -> Result<Vec<String>> {
    let repository = find_owned(&services.db, user_id, repository_id).await?;
    Ok(env_vars(services, &repository)?.into_keys().collect())
}

/// Applies changes to the repository's sandbox environment and returns the names it now
/// holds. New sandboxes get it at creation; every command receives it.
pub async fn change_env(
    services: &Services,
    user_id: i64,
    repository_id: i64,
    changes: Vec<EnvChange>,
) -> Result<Vec<String>> {
    let repository = find_owned(&services.db, user_id, repository_id).await?;
    let mut vars = env_vars(services, &repository)?;
    for change in changes {
        match change {
            EnvChange::Set { name, value } => {
                let name = check_env_name(&name)?;
                if value.len() > 32 * 1024 {
                    return Err(Error::invalid("value", "a value may be at most 32 KB"));
                }
                if value.contains('\0') {
                    return Err(Error::invalid("value", "a value cannot contain a NUL character"));
                }
                vars.insert(name, value);
            }
            EnvChange::Remove { name } => {
                vars.remove(name.trim());
            }
        }
    }
    if vars.len() > 100 {
        return Err(Error::invalid("name", "a repository may have at most 100 variables"));
    }
    let names = vars.keys().cloned().collect();
    let sealed = match vars.is_empty() {
        true => None,
        false => {
            Some(services.sealer.seal(&serde_json::to_string(&vars).expect("a map serializes")))
        }
    };
    let mut active: repository::ActiveModel = repository.into();
    active.env_vars = Set(sealed);
    active.update(&services.db).await?;
    Ok(names)
}

fn check_env_name(name: &str) -> Result<String> {
    let name = name.trim();
    let valid = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::invalid(
            "name",
            "use letters, digits and underscores, not starting with a digit (like API_URL)",
        ));
    }
    if RESERVED_ENV.contains(&name) {
        return Err(Error::invalid("name", format!("{name} is set by the platform")));
    }
    Ok(name.to_owned())
}
