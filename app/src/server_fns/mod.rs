//! Server functions, grouped by resource. Each one is thin: it checks who is asking, calls
//! the domain with that user's id, and maps the result to a view type.

pub mod branches;
pub mod repositories;
pub mod runs;
pub mod sandboxes;
pub mod settings;
pub mod workspace;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use axum::http::StatusCode;
    use domain::auth::{AuthSession, SessionUser};
    use domain::Services;
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    use crate::error::{AppError, ErrorCode};
    use crate::model::SignInMethod;

    // Context is read before the first await: a server function run as a resource during
    // server rendering may resume outside its reactive owner.

    /// How this server signs people in, provided by the server.
    pub fn sign_in_method() -> SignInMethod {
        expect_context::<SignInMethod>()
    }

    /// The signed-in user and the domain's handles, or a 401.
    pub async fn signed_in() -> Result<(SessionUser, Services), AppError> {
        let services = expect_context::<Services>();
        let extracted = leptos_axum::extract::<AuthSession>();
        let auth = extracted.await.map_err(|e| {
            tracing::error!(error = %e, "auth session missing from request");
            reply(StatusCode::INTERNAL_SERVER_ERROR, AppError::new(ErrorCode::Internal, GENERIC))
        })?;
        let user = auth.user.ok_or_else(|| {
            reply(StatusCode::UNAUTHORIZED, AppError::new(ErrorCode::Unauthorized, "sign in first"))
        })?;
        Ok((user, services))
    }

    const GENERIC: &str = "Something went wrong on the server. It has been logged.";

    /// Turns a domain error into what the user sees, with the matching HTTP status.
    /// Our own failures are logged here, once, and their cause is not shown.
    pub fn fail(err: domain::Error) -> AppError {
        use domain::Error as E;
        let (status, code) = match &err {
            E::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            E::Invalid { .. } => (StatusCode::BAD_REQUEST, ErrorCode::Invalid),
            E::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            E::NotConfigured(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::NotConfigured),
            E::Upstream(_) => (StatusCode::BAD_GATEWAY, ErrorCode::Upstream),
            E::Database(_) | E::Internal(_) => {
                tracing::error!(error = %err, "request failed");
                return reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    AppError::new(ErrorCode::Internal, GENERIC),
                );
            }
        };
        let field = match &err {
            E::Invalid { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        reply(status, AppError { code, message: err.to_string(), field })
    }

    fn reply(status: StatusCode, error: AppError) -> AppError {
        // A plain HTML form is answered with a redirect back to its page, carrying the
        // error in the query; a status set here would replace that redirect.
        if from_html_form() {
            return error;
        }
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(status);
        }
        error
    }

    fn from_html_form() -> bool {
        use_context::<axum::http::request::Parts>().is_some_and(|parts| {
            parts.method == axum::http::Method::POST
                && parts.uri.path().starts_with("/api/")
                && parts
                    .headers
                    .get(axum::http::header::ACCEPT)
                    .and_then(|accept| accept.to_str().ok())
                    .is_some_and(|accept| accept.contains("text/html"))
        })
    }
}
