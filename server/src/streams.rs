//! Server-sent event streams: what a page of the workspace follows (branch statuses, a
//! branch's run events and its sandbox's state, all on one connection), a branch's run
//! events alone, and a command's output as it comes.

use std::convert::Infallible;
use std::time::Duration;

use app::convert::{command_line, sandbox_view};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::auth::AuthSession;
use domain::runs::{self, Live};
use domain::{sandboxes, Services};
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::AppState;

/// How often a stream that heard nothing rereads the database, to see changes made by
/// another server instance whose notice it missed (this instance's arrive at once).
const REREAD: Duration = Duration::from_secs(2);

/// The branch's sandbox now (`first`), then each time it changes, as `sandbox` events.
fn sandbox_states(
    services: Services,
    user_id: i64,
    branch_id: i64,
    first: String,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    // Changes made by this instance arrive at once; another instance's are found by the
    // periodic read.
    let changes = services.changes.subscribe();
    struct Watch {
        services: Services,
        changes: tokio::sync::broadcast::Receiver<i64>,
        user_id: i64,
        branch_id: i64,
        last: Option<String>,
        pending: Option<String>,
    }
    let watch = Watch { services, changes, user_id, branch_id, last: None, pending: Some(first) };
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
    events
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
    sse(events.flatten())
}

/// How many stored events one database read sends.
const PAGE: u64 = 500;

/// `GET /streams/branches/{id}/events`: the branch's run events alone (see
/// [`branch_events`]), for clients other than the app's pages.
pub async fn events(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(branch_id): Path<i64>,
    Query(query): Query<AfterQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = auth.user else { return StatusCode::UNAUTHORIZED.into_response() };
    let services = state.services.clone();
    if let Err(e) = domain::branches::find_owned(&services.db, user.id, branch_id).await {
        return refusal(e);
    }
    sse(branch_events(services, branch_id, after(&headers, query.after)))
}

/// `GET /streams/page?branch=&after=`: everything a page of the workspace follows, on one
/// connection (over HTTP/1.1 a browser opens at most six to a server, and a user often has
/// several pages open): each time one of the user's branches changes, its status line
/// (unnamed events, see [`status_lines`]); and with `branch`, that branch's run events
/// ([`branch_events`]) and its sandbox's state ([`sandbox_states`]).
pub async fn page(
    State(state): State<AppState>,
    auth: AuthSession,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = auth.user else { return StatusCode::UNAUTHORIZED.into_response() };
    let services = state.services.clone();
    let statuses = status_lines(services.clone(), user.id).boxed();
    let Some(branch_id) = query.branch else { return sse(statuses) };
    let first = match current(&services, user.id, branch_id).await {
        Ok(json) => json,
        Err(e) => return refusal(e),
    };
    let events = branch_events(services.clone(), branch_id, after(&headers, query.after)).boxed();
    let sandbox = sandbox_states(services, user.id, branch_id, first).boxed();
    sse(stream::select_all([statuses, events, sandbox]))
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    branch: Option<i64>,
    after: Option<i64>,
}

fn refusal(error: domain::Error) -> Response {
    match error {
        domain::Error::NotFound(what) => {
            (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
        }
        e => {
            tracing::error!(error = %e, "a stream failed to start");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Where a branch's events resume: after the `Last-Event-ID` a reconnecting browser sends,
/// else after `after`, else from the start.
fn after(headers: &HeaderMap, after: Option<i64>) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(after)
        .unwrap_or(0)
}

/// The branch's run events after `after`, then each new one as it is stored, as `run`
/// events. Each carries its id, so a client that reconnects misses none and sees none
/// twice. `changed` events (no id) say that the branch's queue, loop or status changed.
fn branch_events(
    services: Services,
    branch_id: i64,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    // Follow first, then read: whatever is stored meanwhile arrives one way or the other,
    // and the id check drops the second copy.
    let live = services.runs.hub.follow(branch_id);
    struct Follow {
        services: Services,
        live: tokio::sync::broadcast::Receiver<Live>,
        branch_id: i64,
        last: i64,
        /// Read the database before waiting for live events.
        catch_up: bool,
    }
    let follow = Follow { services, live, branch_id, last: after, catch_up: true };
    let events =
        stream::unfold(follow, |mut f| async move {
            loop {
                if f.catch_up {
                    let stored =
                        match runs::events_of_branch_after(&f.services, f.branch_id, f.last, PAGE)
                            .await
                        {
                            Ok(stored) => stored,
                            Err(_) => return None,
                        };
                    f.catch_up = stored.len() as u64 == PAGE;
                    if !stored.is_empty() {
                        f.last = stored.last().map_or(f.last, |e| e.id);
                        let batch: Vec<_> = stored.iter().map(run_event).collect();
                        return Some((stream::iter(batch), f));
                    }
                }
                // Events stored by another server instance are found by the periodic read.
                let first = match tokio::time::timeout(REREAD, f.live.recv()).await {
                    Ok(Ok(live)) => live,
                    Ok(Err(RecvError::Closed)) => return None,
                    Ok(Err(RecvError::Lagged(_))) | Err(_) => {
                        f.catch_up = true;
                        continue;
                    }
                };
                // Whatever else is already waiting goes out with it, in one write.
                let mut batch = Vec::new();
                let mut next = Some(first);
                while let Some(live) = next {
                    match live {
                        Live::Event(event) if event.id > f.last => {
                            f.last = event.id;
                            batch.push(run_event(&event));
                        }
                        Live::Event(_) => {}
                        Live::Changed => batch.push(changed()),
                        Live::Stored => {
                            f.catch_up = true;
                            break;
                        }
                    }
                    next = match f.live.try_recv() {
                        Ok(live) => Some(live),
                        Err(TryRecvError::Lagged(_)) => {
                            f.catch_up = true;
                            None
                        }
                        Err(_) => None,
                    };
                }
                if !batch.is_empty() {
                    return Some((stream::iter(batch), f));
                }
            }
        });
    events.flatten()
}

/// Each time one of the user's branches changes (a run starts or ends, it is read), one
/// line `branch_id status unread`, e.g. `12 running 0`, as an unnamed event. Plain text
/// rather than JSON keeps the sidebar's listener small.
fn status_lines(
    services: Services,
    user_id: i64,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let changes = services.runs.hub.follow_all();
    stream::unfold((services, changes), move |(services, mut changes)| async move {
        loop {
            let branch_id = match changes.recv().await {
                Ok((owner, branch_id)) if owner == user_id => branch_id,
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            };
            let Ok(branch) = domain::branches::find_owned(&services.db, user_id, branch_id).await
            else {
                continue;
            };
            let status = app::convert::branch_view(branch);
            let line =
                format!("{} {} {}", status.id, status.status.label(), u8::from(status.unread));
            let event = Ok::<_, Infallible>(Event::default().data(line));
            return Some((event, (services, changes)));
        }
    })
}

#[derive(serde::Deserialize)]
pub struct AfterQuery {
    after: Option<i64>,
}

/// Says that the branch's queue, loop or status changed; the page reads it again.
fn changed() -> Result<Event, Infallible> {
    Ok(Event::default().event("changed").data("{}"))
}

fn run_event(event: &runs::StoredEvent) -> Result<Event, Infallible> {
    let json = serde_json::to_string(event).expect("an event serializes");
    Ok(Event::default().event("run").id(event.id.to_string()).data(json))
}

fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // Proxies must pass events through as they come.
    response.headers_mut().insert("x-accel-buffering", "no".parse().expect("a header value"));
    response
}
