//! The one error type of the domain, with a stable code for each kind.

use sea_orm::{DbErr, SqlErr};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in a domain operation.
///
/// The variants map one-to-one onto what a user should see: a missing thing (404), input
/// to correct (400), a clash with what exists (409), a service that is not set up (503),
/// a remote service that refused (502), and our own failure (500, cause logged, not shown).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    Upstream(String),
    #[error("database error: {0}")]
    Database(DbErr),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A short machine-readable name for the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Invalid { .. } => "invalid",
            Error::Conflict(_) => "conflict",
            Error::NotConfigured(_) => "not_configured",
            Error::Upstream(_) => "upstream",
            Error::Database(_) | Error::Internal(_) => "internal",
        }
    }

    /// An input error about one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field, message: message.into() }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Error::Conflict("that already exists".into())
            }
            _ => Error::Database(err),
        }
    }
}
