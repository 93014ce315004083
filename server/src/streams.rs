//! Server-sent event streams: a branch's sandbox as it changes, and a command's output as
//! it comes. Each event's data is one of the app's view types as JSON.

use std::convert::Infallible;
use std::time::Duration;

use app::convert::{command_line, sandbox_view};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::auth::AuthSession;
use domain::{sandboxes, Services};
use futures::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;

/// How often a sandbox stream rereads the database, to see changes made by another server
/// instance (changes made by this one arrive at once).
const REREAD: Duration = Duration::from_secs(2);

/// `GET /streams/branches/{id}/sandbox`: the sandbox now, then each time it changes.
pub async fn sandbox(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(branch_id): Path<i64>,
) -> Response {
    let Some(user) = auth.user else { return StatusCode::UNAUTHORIZED.into_response() };
    let services = state.services.clone();
    let changes = services.changes.subscribe();
    let first = match current(&services, user.id, branch_id).await {
        Ok(json) => json,
        Err(domain::Error::NotFound(what)) => {
            return (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, branch_id, "sandbox stream failed to start");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    struct Watch {
        services: Services,
        changes: tokio::sync::broadcast::Receiver<i64>,
        user_id: i64,
        branch_id: i64,
        last: Option<String>,
        pending: Option<String>,
    }
    let watch =
        Watch { services, changes, user_id: user.id, branch_id, last: None, pending: Some(first) };
    let events = stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(json) = w.pending.take() {
                if w.last.as_deref() != Some(json.as_str()) {
                    w.last = Some(json.clone());
                    let event = Event::default().event("sandbox").data(json);
                    return Some((Ok::<_, Infallible>(event), w));
                }
            }
            let wake = tokio::time::timeout(REREAD, async {
                loop {
                    match w.changes.recv().await {
                        Ok(id) if id == w.branch_id => return true,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => return true,
                        Err(RecvError::Closed) => return false,
                    }
                }
            });
            if let Ok(false) = wake.await {
                return None;
            }
            match current(&w.services, w.user_id, w.branch_id).await {
                Ok(json) => w.pending = Some(json),
                // The branch was deleted, or the database is away: end the stream and
                // let the browser reconnect.
                Err(_) => return None,
            }
        }
    });
    sse(events)
}

async fn current(services: &Services, user_id: i64, branch_id: i64) -> domain::Result<String> {
    let sandbox = sandboxes::for_branch(services, user_id, branch_id).await?;
    let view = sandbox_view(services, user_id, branch_id, sandbox).await?;
    Ok(serde_json::to_string(&view).expect("a view serializes"))
}

/// `GET /streams/commands/{id}`: a command's output from its start, then live, ending
/// with its exit.
pub async fn command(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(command_id): Path<String>,
) -> Response {
    let Some(user) = auth.user else { return StatusCode::UNAUTHORIZED.into_response() };
    let follower = match state.services.commands.follow(user.id, &command_id) {
        Ok(follower) => follower,
        Err(_) => return (StatusCode::NOT_FOUND, "command not found").into_response(),
    };
    let events = stream::unfold(follower, |mut follower| async move {
        let lines = follower.next_lines().await?;
        let events: Vec<Result<Event, Infallible>> = lines
            .into_iter()
            .map(|line| {
                let json = serde_json::to_string(&command_line(line)).expect("a line serializes");
                Ok(Event::default().event("line").data(json))
            })
            .collect();
        Some((stream::iter(events), follower))
    });
    sse(futures::StreamExt::flatten(events))
}

fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // Proxies must pass events through as they come.
    response.headers_mut().insert("x-accel-buffering", "no".parse().expect("a header value"));
    response
}
