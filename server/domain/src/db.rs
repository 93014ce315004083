//! Opening the database and bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, IsolationLevel, TransactionTrait,
};

/// Connects to `url` (SQLite or PostgreSQL) and applies any pending migrations.
///
/// A SQLite file is created if it does not exist. Fails when the database cannot be
/// reached or a migration fails; nothing is half-applied, as each migration runs in order.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    let is_sqlite = url.starts_with("sqlite:");
    // One writer at a time is all SQLite allows; a small pool also keeps idle memory low.
    options
        .max_connections(if is_sqlite { 4 } else { 10 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if is_sqlite {
        // Writers queue for the lock instead of failing while another one commits. In WAL
        // mode, `NORMAL` syncs at checkpoints rather than at every commit: a crash of the
        // server loses nothing committed, a power cut at most the last commits.
        options.map_sqlx_sqlite_opts(|o| {
            o.busy_timeout(Duration::from_secs(30))
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    }
    if is_sqlite {
        // Migrations on SQLite run outside a transaction, one statement at a time; on a
        // pool, a statement could land on a connection still reading the schema as it was
        // before the previous one. One connection of their own sees every change in order.
        let mut single = ConnectOptions::new(url.to_owned());
        single.max_connections(1).min_connections(1).sqlx_logging(false);
        let migrating = Database::connect(single).await?;
        // Readers then do not block the writer. The mode is kept in the file itself.
        migrating.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        Migrator::up(&migrating, None).await?;
        migrating.close().await?;
    }
    let db = Database::connect(options).await?;
    if !is_sqlite {
        Migrator::up(&db, None).await?;
    }
    Ok(db)
}

/// Begins a transaction that may write.
///
/// On SQLite a plain `BEGIN` takes the write lock only at the first write; a transaction
/// that read before that fails at once ("database is locked") when another connection
/// wrote meanwhile, instead of waiting its turn. So a SQLite transaction here writes
/// nothing at its very start, which takes the lock then (as `BEGIN IMMEDIATE` would):
/// transactions then wait for each other and always see what they change.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0").await?;
    }
    Ok(txn)
}

/// Begins a transaction that only reads, and sees the database as it was at one moment:
/// what it reads in several queries fits together even while runs are writing.
///
/// SQLite in WAL mode gives a deferred transaction a snapshot from its first read; on
/// PostgreSQL that takes repeatable read, as read committed snapshots each statement.
pub async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                .await
        }
        _ => db.begin().await,
    }
}
