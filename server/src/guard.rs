//! Request guards: the automatic sign-in of dev and local servers, and the Origin check
//! that keeps other sites from making changes with a user's cookie.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::auth::AuthSession;

use crate::AppState;

/// Signs the fixed user in when this server signs people in automatically.
pub async fn sign_in_automatically(
    State(state): State<AppState>,
    mut auth: AuthSession,
    mut request: Request,
    next: Next,
) -> Response {
    let trusted = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_none_or(|host| is_trusted_host(host, &state));
    if let (None, Some(user_id), true) = (&auth.user, state.automatic_user, trusted) {
        match auth.authenticate(user_id).await {
            Ok(Some(user)) => {
                match auth.login(&user).await {
                    // Handlers further in read the session from the request, so it must
                    // hold the signed-in copy.
                    Ok(()) => {
                        request.extensions_mut().insert(auth);
                    }
                    Err(err) => tracing::error!(error = %err, "automatic sign-in failed"),
                }
            }
            Ok(None) => tracing::error!(user_id, "automatic user is missing"),
            Err(err) => tracing::error!(error = %err, "automatic sign-in failed"),
        }
    }
    next.run(request).await
}

/// Refuses a state-changing request whose Origin is another site.
///
/// Browsers send `Origin` on every cross-site POST; a request without one (a test client,
/// curl) is not a browser acting on someone's behalf and is let through.
pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
            if !same_origin(origin, &state, &request) {
                tracing::warn!(origin, "refused a request from another origin");
                return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
            }
        }
    }
    next.run(request).await
}

fn same_origin(origin: &str, state: &AppState, request: &Request) -> bool {
    let public = state.public_url.origin().ascii_serialization();
    if origin == public {
        return true;
    }
    // The address the browser used, for a server reached under more than one name
    // (127.0.0.1 and localhost).
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|host| {
        is_trusted_host(host, state)
            && origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))
                == Some(host)
    })
}

/// The public URL's host, or a loopback name. Any other Host header may be a DNS-rebinding
/// page that resolves to this machine, which must neither be signed in nor trusted.
fn is_trusted_host(host: &str, state: &AppState) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    state.public_url.host_str() == Some(name)
        || name == "localhost"
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
