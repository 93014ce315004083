//! Opening the database and bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

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
    let db = Database::connect(options).await?;
    if is_sqlite {
        // Readers then do not block the writer. The mode is kept in the file itself.
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}
