//! The GitHub OAuth web flow: send the browser to GitHub with a random state, take the
//! code back, check the state, and sign in the account GitHub vouches for.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::AuthSession;
use rand::RngCore;
use serde::Deserialize;

use crate::AppState;

const STATE_KEY: &str = "oauth_state";

/// Starts sign-in: remembers a fresh state in the session and redirects to GitHub.
pub async fn login(State(state): State<AppState>, auth: AuthSession) -> Response {
    let Some(oauth) = &state.oauth else {
        return (StatusCode::NOT_FOUND, "GitHub sign-in is not configured on this server")
            .into_response();
    };
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    if let Err(err) = auth.session.insert(STATE_KEY, &nonce).await {
        tracing::error!(error = %err, "cannot store oauth state");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let url = state.services.github.authorize_url(&oauth.client_id, &callback_url(&state), &nonce);
    Redirect::to(&url).into_response()
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error_description: Option<String>,
}

/// Finishes sign-in after GitHub sent the browser back.
pub async fn callback(
    State(state): State<AppState>,
    mut auth: AuthSession,
    Query(query): Query<Callback>,
) -> Response {
    let Some(oauth) = state.oauth.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expected: Option<String> = auth.session.remove(STATE_KEY).await.ok().flatten();
    let (Some(code), Some(given)) = (query.code, query.state) else {
        let reason = query.error_description.unwrap_or_else(|| "no code was returned".into());
        return refused(&format!("GitHub did not sign you in: {reason}"));
    };
    if expected.as_deref() != Some(given.as_str()) {
        tracing::warn!("oauth state mismatch");
        return refused("The sign-in link expired or was not started here. Try again.");
    }

    let github = &state.services.github;
    let result = async {
        let token = github
            .exchange_code(&oauth.client_id, &oauth.client_secret, &code, &callback_url(&state))
            .await?;
        let account = github.user(&token).await?;
        domain::users::upsert_from_github(&state.services, &account, &token).await
    }
    .await;
    let user = match result {
        Ok(user) => user,
        Err(err) => {
            tracing::warn!(error = %err, "github sign-in failed");
            return refused(&err.to_string());
        }
    };
    if let Err(err) = auth.login(&user.into()).await {
        tracing::error!(error = %err, "cannot store the session");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    Redirect::to("/").into_response()
}

/// Ends the session.
pub async fn logout(mut auth: AuthSession) -> Response {
    if let Err(err) = auth.logout().await {
        tracing::error!(error = %err, "cannot end the session");
    }
    Redirect::to("/sign-in").into_response()
}

fn callback_url(state: &AppState) -> String {
    state.public_url.join("/auth/github/callback").expect("a fixed path joins").into()
}

fn refused(message: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("{message}\n\nGo back to /sign-in to try again."))
        .into_response()
}
