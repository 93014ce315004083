//! Browser sessions kept in the database: saved, loaded, and swept once expired.

use std::collections::HashMap;

use domain::auth::DbSessionStore;
use sea_orm::{EntityTrait, PaginatorTrait};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

fn record(id: i128, expires_in: time::Duration) -> Record {
    let mut data = HashMap::new();
    data.insert("user".to_owned(), serde_json::json!(42));
    Record { id: Id(id), data, expiry_date: time::OffsetDateTime::now_utc() + expires_in }
}

#[tokio::test]
async fn sessions_load_until_they_expire_and_expired_ones_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let db = domain::db::connect(&url).await.unwrap();
    let store = DbSessionStore::new(db.clone());

    let live = record(1, time::Duration::hours(1));
    let stale = record(2, time::Duration::hours(-1));
    store.save(&live).await.unwrap();
    store.save(&stale).await.unwrap();

    let loaded = store.load(&live.id).await.unwrap().expect("a live session loads");
    assert_eq!(loaded.data["user"], 42);
    assert!(store.load(&stale.id).await.unwrap().is_none(), "an expired session never loads");

    store.delete_expired().await.unwrap();
    let left = entity::session::Entity::find().count(&db).await.unwrap();
    assert_eq!(left, 1, "only the expired session is swept");
}

#[tokio::test]
async fn a_new_session_whose_id_is_taken_gets_another_id() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = DbSessionStore::new(domain::db::connect(&url).await.unwrap());

    let first = record(7, time::Duration::hours(1));
    store.save(&first).await.unwrap();
    let mut second = record(7, time::Duration::hours(1));
    store.create(&mut second).await.unwrap();

    assert_ne!(second.id, first.id, "the clashing id is replaced");
    assert!(store.load(&first.id).await.unwrap().is_some(), "the first session is untouched");
    assert!(store.load(&second.id).await.unwrap().is_some(), "the second is stored too");
}
