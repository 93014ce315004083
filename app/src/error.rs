//! The error every server function returns: a stable code the UI can switch on and a
//! message written for the user.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    NotFound,
    Invalid,
    Conflict,
    NotConfigured,
    Upstream,
    Internal,
    /// The request did not reach the server or its answer could not be read.
    Network,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The form field the message is about, when there is one.
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let code = match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => ErrorCode::Invalid,
            ServerFnErrorErr::ServerError(_) | ServerFnErrorErr::Registration(_) => {
                ErrorCode::Internal
            }
            _ => ErrorCode::Network,
        };
        Self::new(code, value.to_string())
    }
}
