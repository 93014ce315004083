//! The server-side domain of Upstream Agents.
//!
//! Everything here is plain Rust over SeaORM, git and reqwest: who the users are, which
//! repositories and branches they hold, how secrets are sealed, how GitHub and git are
//! reached. It knows nothing of Leptos or of HTTP routing; the web layer calls it with a
//! user id it has already checked, and every finder here filters by that id, so another
//! user's row is simply "not found".

pub mod auth;
pub mod branches;
pub mod clock;
pub mod commands;
pub mod credentials;
pub mod db;
pub mod error;
pub mod git;
pub mod gitflow;
pub mod github;
pub mod refname;
pub mod repositories;
pub mod runs;
pub mod sandbox;
pub mod sandboxes;
pub mod seal;
pub mod users;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use error::{Error, Result};

/// The shared handles every domain operation needs, cloned cheaply into each request.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub sealer: Arc<seal::Sealer>,
    pub github: github::GitHub,
    /// Sandboxes a user may hold at once unless an administrator set their own quota.
    pub default_quota: i32,
    /// Where branches' sandboxes live.
    pub sandboxes: Arc<dyn sandbox::Provider>,
    pub clock: Arc<dyn clock::Clock>,
    /// Which branch's sandbox changed, for live views in this server.
    pub changes: sandboxes::Changes,
    /// Shell commands run from the branch view, with their output.
    pub commands: commands::Commands,
    /// The agent runs this instance carries out, and their live followers.
    pub runs: runs::Runs,
}
