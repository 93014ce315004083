//! The workspace as a whole: who is signed in and what their sidebar holds.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SignInMethod, Workspace};

/// The signed-in user's workspace: their repositories in order, each with its branches.
#[server(prefix = "/api", endpoint = "get_workspace", input = leptos::server_fn::codec::Json)]
pub async fn get_workspace() -> Result<Workspace, AppError> {
    use super::ssr::{fail, sign_in_method, signed_in};
    use crate::convert::{repository_view, user_view};

    let can_sign_out = sign_in_method() == SignInMethod::GithubOAuth;
    let (user, services) = signed_in().await?;
    let repositories = domain::repositories::list(&services.db, user.id).await.map_err(fail)?;
    let github_connected =
        domain::users::github_token(&services, user.id).await.map_err(fail)?.is_some();
    Ok(Workspace {
        user: user_view(&user),
        repositories: repositories.into_iter().map(repository_view).collect(),
        github_connected,
        can_sign_out,
    })
}

/// How this server signs people in. Needs no sign-in itself.
#[server(prefix = "/api", endpoint = "get_sign_in_method", input = leptos::server_fn::codec::Json)]
pub async fn get_sign_in_method() -> Result<SignInMethod, AppError> {
    Ok(super::ssr::sign_in_method())
}
