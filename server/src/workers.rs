//! Background work the server does on its own, outside any request.

use std::time::Duration;

use domain::auth::DbSessionStore;
use tower_sessions::session_store::ExpiredDeletion;

/// How often expired sessions are swept from the database.
const SESSION_SWEEP: Duration = Duration::from_secs(60 * 60);

/// Deletes expired browser sessions once an hour, for as long as the server runs. A failed
/// sweep is logged and tried again at the next hour.
pub fn sweep_expired_sessions(store: DbSessionStore) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(SESSION_SWEEP);
        loop {
            interval.tick().await;
            if let Err(err) = store.delete_expired().await {
                tracing::warn!(error = %err, "sweeping expired sessions failed");
            }
        }
    });
}
