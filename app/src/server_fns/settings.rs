//! The user's settings and a repository's settings.
//!
//! The changing functions take form-encoded input: the settings pages post plain HTML forms
//! to them, and the server sends the browser back to the page (with the error in its
//! query when there is one), so these pages need no WASM.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{RepositorySettings, UserSettings};

#[server(prefix = "/api", endpoint = "get_user_settings", input = leptos::server_fn::codec::Json)]
pub async fn get_user_settings() -> Result<UserSettings, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    crate::convert::user_settings(&services, user.id).await.map_err(fail)
}

/// Sets how long sandboxes may idle before they stop, for new and existing ones.
#[server(prefix = "/api", endpoint = "set_auto_stop")]
pub async fn set_auto_stop(minutes: String) -> Result<UserSettings, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let minutes = minutes.trim().parse::<i32>().map_err(|_| {
        fail(domain::Error::invalid("auto_stop_minutes", "enter a number of minutes"))
    })?;
    domain::users::set_auto_stop_minutes(&services, user.id, minutes).await.map_err(fail)?;
    crate::convert::user_settings(&services, user.id).await.map_err(fail)
}

/// Sets how many continuations loop mode may send (1–25).
#[server(prefix = "/api", endpoint = "set_loop_max")]
pub async fn set_loop_max(iterations: String) -> Result<UserSettings, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let iterations = iterations.trim().parse::<i32>().map_err(|_| {
        fail(domain::Error::invalid("loop_max_iterations", "enter a number of iterations"))
    })?;
    domain::credentials::set_loop_max(&services, user.id, iterations).await.map_err(fail)?;
    crate::convert::user_settings(&services, user.id).await.map_err(fail)
}

/// Stores one of the agents' keys, sealed (`kind`: `anthropic`, `openai` or `opencode`);
/// an empty value removes it. The key is never sent back, only its last characters.
#[server(prefix = "/api", endpoint = "set_agent_key")]
pub async fn set_agent_key(kind: String, value: String) -> Result<UserSettings, AppError> {
    use super::ssr::{fail, signed_in};
    use agents::KeyKind;

    let (user, services) = signed_in().await?;
    let kind = match kind.as_str() {
        "anthropic" => KeyKind::Anthropic,
        "openai" => KeyKind::OpenAi,
        "opencode" => KeyKind::Opencode,
        _ => return Err(fail(domain::Error::invalid("kind", "choose which key to set"))),
    };
    domain::credentials::set(&services, user.id, kind, &value).await.map_err(fail)?;
    crate::convert::user_settings(&services, user.id).await.map_err(fail)
}

/// A repository's settings, by its sidebar path.
#[server(prefix = "/api", endpoint = "get_repository_settings", input = leptos::server_fn::codec::Json)]
pub async fn get_repository_settings(
    owner: String,
    repo: String,
) -> Result<RepositorySettings, AppError> {
    use super::ssr::{fail, signed_in};

    let (user, services) = signed_in().await?;
    let repository = domain::repositories::find_by_name(&services.db, user.id, &owner, &repo)
        .await
        .map_err(fail)?;
    let env_names =
        domain::repositories::env_names(&services, user.id, repository.id).await.map_err(fail)?;
    Ok(RepositorySettings {
        repository: crate::convert::new_repository_view(repository),
        env_names,
    })
}

/// Sets (or, with no value, removes) one of a repository's sandbox environment variables.
/// Returns the names it now holds.
#[server(prefix = "/api", endpoint = "set_repository_env")]
pub async fn set_repository_env(
    repository_id: i64,
    name: String,
    value: Option<String>,
) -> Result<Vec<String>, AppError> {
    use super::ssr::{fail, signed_in};
    use domain::repositories::EnvChange;

    let (user, services) = signed_in().await?;
    let change = match value {
        Some(value) => EnvChange::Set { name, value },
        None => EnvChange::Remove { name },
    };
    domain::repositories::change_env(&services, user.id, repository_id, vec![change])
        .await
        .map_err(fail)
}
