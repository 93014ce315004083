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

/// What one instance tells the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    /// Events of the branch were stored.
    Stored,
    /// The branch's queue, loop or status changed.
    Changed,
}

/// Tells the other instances, when the transaction `db` commits, that `branch_id` (of
/// `user_id`) has news.
async fn notify(
    services: &Services,
    db: &impl ConnectionTrait,
    word: Word,
    user_id: i64,
    branch_id: i64,
) -> Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let word = match word {
        Word::Stored => "stored",
        Word::Changed => "changed",
    };
    let payload = format!("{} {word} {user_id} {branch_id}", services.runs.instance);
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// Within the transaction storing a branch's events: the others hear of them at commit.
pub(super) async fn stored(
    services: &Services,
    txn: &impl ConnectionTrait,
    user_id: i64,
    branch_id: i64,
) -> Result<()> {
    notify(services, txn, Word::Stored, user_id, branch_id).await
}

/// Tells this instance's followers and the other instances that the branch changed.
pub(crate) async fn changed(services: &Services, user_id: i64, branch_id: i64) {
    services.runs.hub.changed(user_id, branch_id);
    if let Err(e) = notify(services, &services.db, Word::Changed, user_id, branch_id).await {
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
        let (Some(from), Some(word), Some(user), Some(branch)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if from == &*services.runs.instance {
            continue;
        }
        let (Ok(user_id), Ok(branch_id)) = (user.parse::<i64>(), branch.parse::<i64>()) else {
            continue;
        };
        match word {
            "stored" => services.runs.hub.publish(branch_id, Live::Stored),
            "changed" => services.runs.hub.changed(user_id, branch_id),
            _ => {}
        }
    }
}
