//! Users: the fixed users of the automatic sign-in modes, GitHub accounts, and what each
//! user keeps about their workspace.

use chrono::Utc;
use entity::{credential, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::github::GithubUser;
use crate::seal::Secret;
use crate::{Error, Result, Services};

/// The users that exist without a GitHub sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedUser {
    /// The developer of a dev-mode server that has a personal access token: an
    /// administrator with a quota of 100, whose GitHub calls use that token.
    Dev,
    /// The one user of an embedded default server with no GitHub set up.
    Local,
}

impl FixedUser {
    fn login(self) -> &'static str {
        match self {
            FixedUser::Dev => "dev",
            FixedUser::Local => "local",
        }
    }
}

/// Creates the fixed user if needed, brings its token up to date, and returns it.
pub async fn ensure_fixed(
    services: &Services,
    which: FixedUser,
    token: Option<&Secret>,
) -> Result<user::Model> {
    let sealed = token.map(|t| services.sealer.seal(t.expose()));
    let existing = by_login(&services.db, which.login()).await?;
    let txn = crate::db::begin(&services.db).await?;
    let model = match existing {
        Some(found) => {
            let mut active: user::ActiveModel = found.into();
            active.github_token = Set(sealed);
            if which == FixedUser::Dev {
                active.is_admin = Set(true);
                active.sandbox_quota = Set(Some(100));
            }
            active.update(&txn).await?
        }
        None => {
            let (name, quota) = match which {
                FixedUser::Dev => ("Developer", Some(100)),
                FixedUser::Local => ("Local user", None),
            };
            let active = new_user(which.login(), Some(name.into()), None, None, sealed);
            let model =
                user::ActiveModel { is_admin: Set(true), sandbox_quota: Set(quota), ..active }
                    .insert(&txn)
                    .await?;
            insert_credentials(&txn, model.id).await?;
            model
        }
    };
    txn.commit().await?;
    Ok(model)
}

/// Records a GitHub account after it signed in, keeping its token sealed.
pub async fn upsert_from_github(
    services: &Services,
    account: &GithubUser,
    token: &Secret,
) -> Result<user::Model> {
    let sealed = services.sealer.seal(token.expose());
    let existing = user::Entity::find()
        .filter(user::Column::GithubId.eq(account.id))
        .one(&services.db)
        .await?;
    let txn = crate::db::begin(&services.db).await?;
    let model = match existing {
        Some(found) => {
            let mut active: user::ActiveModel = found.into();
            active.login = Set(account.login.clone());
            active.name = Set(account.name.clone());
            active.avatar_url = Set(account.avatar_url.clone());
            active.github_token = Set(Some(sealed));
            active.update(&txn).await?
        }
        None => {
            let mut active = new_user(
                &account.login,
                account.name.clone(),
                account.avatar_url.clone(),
                Some(account.id),
                Some(sealed),
            );
            active.is_admin = Set(false);
            let model = active.insert(&txn).await?;
            insert_credentials(&txn, model.id).await?;
            model
        }
    };
    txn.commit().await?;
    Ok(model)
}

/// The user with this id, if there is one.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// The user's GitHub token in the clear, when they have one.
pub async fn github_token(services: &Services, user_id: i64) -> Result<Option<Secret>> {
    let user = find(&services.db, user_id).await?.ok_or(Error::NotFound("user"))?;
    match user.github_token {
        None => Ok(None),
        Some(sealed) => services.sealer.open(&sealed).map(Some).map_err(|e| {
            tracing::error!(user_id, error = %e, "stored github token does not open");
            Error::Internal("the stored GitHub token cannot be read".into())
        }),
    }
}

/// The user's GitHub token, or an error that says how to connect GitHub.
pub async fn require_github_token(services: &Services, user_id: i64) -> Result<Secret> {
    github_token(services, user_id).await?.ok_or_else(|| {
        Error::NotConfigured(
            "GitHub is not connected: sign in with GitHub, or start the server with GITHUB_PAT"
                .into(),
        )
    })
}

async fn by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find().filter(user::Column::Login.eq(login)).one(db).await?)
}

fn new_user(
    login: &str,
    name: Option<String>,
    avatar_url: Option<String>,
    github_id: Option<i64>,
    sealed_token: Option<String>,
) -> user::ActiveModel {
    user::ActiveModel {
        github_id: Set(github_id),
        login: Set(login.to_owned()),
        name: Set(name),
        avatar_url: Set(avatar_url),
        is_admin: Set(false),
        sandbox_quota: Set(None),
        repository_order: Set(serde_json::json!([])),
        github_token: Set(sealed_token),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
}

async fn insert_credentials(db: &impl ConnectionTrait, user_id: i64) -> Result<()> {
    credential::ActiveModel {
        user_id: Set(user_id),
        auto_stop_minutes: Set(10),
        loop_max_iterations: Set(10),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Sets how long the user's sandboxes may idle before they stop (5–20 minutes), and tells
/// the provider of each of their sandboxes.
pub async fn set_auto_stop_minutes(services: &Services, user_id: i64, minutes: i32) -> Result<()> {
    if !(5..=20).contains(&minutes) {
        return Err(Error::invalid("auto_stop_minutes", "choose between 5 and 20 minutes"));
    }
    let row = credential::Entity::find()
        .filter(credential::Column::UserId.eq(user_id))
        .one(&services.db)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let mut active: credential::ActiveModel = row.into();
    active.auto_stop_minutes = Set(minutes);
    active.updated_at = Set(Utc::now());
    active.update(&services.db).await?;
    let sandboxes = entity::sandbox::Entity::find()
        .filter(entity::sandbox::Column::UserId.eq(user_id))
        .filter(entity::sandbox::Column::Provider.eq(services.sandboxes.kind()))
        .all(&services.db)
        .await?;
    for sandbox in sandboxes {
        if let Err(e) = services.sandboxes.set_auto_stop(&sandbox.provider_id, minutes as u32).await
        {
            tracing::warn!(sandbox = %sandbox.provider_id, error = %e, "could not change a sandbox's auto-stop");
        }
    }
    Ok(())
}
