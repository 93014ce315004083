//! Background work the server does on its own, outside any request.

use std::time::Duration;

use domain::auth::DbSessionStore;
use domain::{runs, sandboxes, Services};
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

/// How often running sandboxes are checked for idleness.
const IDLE_SWEEP: Duration = Duration::from_secs(30);
/// How often the database is compared with what the sandbox provider has.
const RECONCILE: Duration = Duration::from_secs(5 * 60);

/// Keeps sandbox records true: reconciles with the provider at start-up and every few
/// minutes, and stops sandboxes idle past their owner's interval. Failures are logged and
/// retried at the next tick.
pub fn look_after_sandboxes(services: Services) {
    tokio::spawn(async move {
        let mut idle = tokio::time::interval(IDLE_SWEEP);
        let mut reconcile = tokio::time::interval(RECONCILE);
        loop {
            tokio::select! {
                _ = reconcile.tick() => {
                    if let Err(err) = sandboxes::reconcile(&services).await {
                        tracing::warn!(error = %err, "reconciling sandboxes failed");
                    }
                }
                _ = idle.tick() => {
                    if let Err(err) = sandboxes::stop_idle(&services).await {
                        tracing::warn!(error = %err, "stopping idle sandboxes failed");
                    }
                }
            }
        }
    });
}

/// Passes other server instances' run events to this instance's followers (PostgreSQL).
pub fn relay_run_events(services: Services) {
    tokio::spawn(runs::relay::relay(services));
}

/// Takes up the runs left behind by a server that stopped: at once at start-up, then
/// twice per lease period for runs whose instance's lease ran out.
pub fn look_after_runs(services: Services) {
    tokio::spawn(async move {
        match runs::recover(&services, true).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("took up {n} runs left running by the last start"),
            Err(err) => tracing::error!(error = %err, "taking up unfinished runs failed"),
        }
        let mut sweep = tokio::time::interval(services.runs.settings.lease / 2);
        sweep.tick().await;
        loop {
            sweep.tick().await;
            if let Err(err) = runs::recover(&services, false).await {
                tracing::warn!(error = %err, "looking for abandoned runs failed");
            }
        }
    });
}
