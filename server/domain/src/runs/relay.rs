//! Live events across server instances that share a PostgreSQL database.
//!
//! Each instance tells the others, through PostgreSQL's `NOTIFY`, that it stored events
//! for a branch or that a branch's state changed; each listens and passes the word to its
//! own followers, who then read the database. The notice travels with the transaction
//! that stored the events, so nobody hears of events before they can be read. On SQLite
//! (one instance) there is nobody to tell.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::Live;
use crate::{Result, Services};

const CHANNEL: &str = "upstream_runs";

/// A notice's payload stays well under PostgreSQL's limit of 8000 bytes.
const MAX_PAYLOAD: usize = 7000;

/// Tells the other instances, when the transaction `db` commits, that the branches
/// (as `(user_id, branch_id)`) have news: `stored` events, or `changed` state.
///
/// A notice reads `<instance> <word> <user> <branch> [<user> <branch> …]`.
async fn notify(
    services: &Services,
    db: &impl ConnectionTrait,
    word: &str,
    branches: &[(i64, i64)],
) -> Result<()> {
    if db.get_database_backend() != DbBackend::Postgres || branches.is_empty() {
        return Ok(());
    }
    let head = format!("{} {word}", services.runs.instance);
    let mut payload = head.clone();
    for (i, (user_id, branch_id)) in branches.iter().enumerate() {
        payload.push_str(&format!(" {user_id} {branch_id}"));
        if payload.len() > MAX_PAYLOAD || i + 1 == branches.len() {
            db.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), std::mem::replace(&mut payload, head.clone()).into()],
            ))
            .await?;
        }
    }
    Ok(())
}

/// Within the transaction storing events of the branches: the others hear of them at
/// commit.
pub(super) async fn stored(
    services: &Services,
    txn: &impl ConnectionTrait,
    branches: &[(i64, i64)],
) -> Result<()> {
    notify(services, txn, "stored", branches).await
}

/// Tells this instance's followers and the other instances that the branch changed.
pub(crate) async fn changed(services: &Services, user_id: i64, branch_id: i64) {
    services.runs.hub.changed(user_id, branch_id);
    if let Err(e) = notify(services, &services.db, "changed", &[(user_id, branch_id)]).await {
        tracing::warn!(branch_id, error = %e, "could not tell the other instances of a change");
    }
}

/// Listens for the other instances' notices for as long as the server runs, passing
/// them to this instance's followers. Returns at once on SQLite.
pub async fn relay(services: Services) {
    if services.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    loop {
        if let Err(e) = listen(&services).await {
            tracing::warn!(error = %e, "lost the notices of other instances; listening again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(services: &Services) -> std::result::Result<(), sea_orm::sqlx::Error> {
    let pool = services.db.get_postgres_connection_pool();
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notice = listener.recv().await?;
        let mut parts = notice.payload().split(' ');
        let (Some(from), Some(word)) = (parts.next(), parts.next()) else { continue };
        if from == &*services.runs.instance {
            continue;
        }
        let numbers: Vec<i64> = parts.filter_map(|n| n.parse().ok()).collect();
        for pair in numbers.chunks_exact(2) {
            let (user_id, branch_id) = (pair[0], pair[1]);
            match word {
                "stored" => services.runs.hub.publish(branch_id, Live::Stored),
                "changed" => services.runs.hub.changed(user_id, branch_id),
                _ => {}
            }
        }
    }
}
