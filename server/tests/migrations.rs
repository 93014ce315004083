//! The schema migrates up, down and up again on a fresh database.

mod support;

use migration::{Migrator, MigratorTrait};
use sea_orm::Database;
use support::TestDb;

#[tokio::test]
async fn migrations_apply_revert_and_apply_again() {
    let test_db = TestDb::new().await;
    let db = Database::connect(&test_db.url).await.unwrap();
    let all = Migrator::migrations().len();
    assert!(all >= 2);
    Migrator::up(&db, None).await.expect("up");
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
    Migrator::down(&db, None).await.expect("down");
    assert_eq!(Migrator::get_pending_migrations(&db).await.unwrap().len(), all, "all reverted");
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(Migrator::get_applied_migrations(&db).await.unwrap().len(), all);
}
