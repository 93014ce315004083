//! Who is signed in: the user as a session sees it, the axum-login backend that loads it,
//! and the session store that keeps sessions in the database so they survive a restart
//! and are shared by every server instance.

use async_trait::async_trait;
use axum_login::{AuthUser, AuthnBackend, UserId};
use chrono::{DateTime, Utc};
use entity::session;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, SqlErr};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::users;

/// The signed-in user, as every request sees it.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub is_admin: bool,
    // A change of login ends the user's other sessions.
    auth_hash: Vec<u8>,
}

impl From<entity::user::Model> for SessionUser {
    fn from(user: entity::user::Model) -> Self {
        Self {
            auth_hash: format!("{}:{}", user.id, user.login).into_bytes(),
            id: user.id,
            login: user.login,
            name: user.name,
            avatar_url: user.avatar_url,
            is_admin: user.is_admin,
        }
    }
}

impl AuthUser for SessionUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

/// Loads users for axum-login.
///
/// Credentials are a user id that the caller has already proven: the OAuth callback after
/// GitHub vouched for the account, or the automatic sign-in of a dev or local server.
#[derive(Clone)]
pub struct Backend {
    db: DatabaseConnection,
}

impl Backend {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl AuthnBackend for Backend {
    type User = SessionUser;
    type Credentials = i64;
    type Error = crate::Error;

    async fn authenticate(&self, user_id: i64) -> Result<Option<SessionUser>, crate::Error> {
        self.get_user(&user_id).await
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<SessionUser>, crate::Error> {
        Ok(users::find(&self.db, *id).await?.map(SessionUser::from))
    }
}

/// The request-side handle on sign-in state.
pub type AuthSession = axum_login::AuthSession<Backend>;

/// Keeps browser sessions in the `sessions` table.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Stores a new session, drawing a fresh id in the unlikely case that one is taken.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            match session::Entity::insert(row(record)?).exec(&self.db).await {
                Ok(_) => return Ok(()),
                Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    record.id = Id::default();
                }
                Err(err) => return Err(backend(err)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        session::Entity::insert(row(record)?)
            .on_conflict(
                OnConflict::column(session::Column::Id)
                    .update_columns([session::Column::Data, session::Column::ExpiresAt])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = session::Entity::find_by_id(id.to_string())
            .filter(session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&row.data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        session::Entity::delete_by_id(id.to_string()).exec(&self.db).await.map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(Utc::now()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

fn row(record: &Record) -> session_store::Result<session::ActiveModel> {
    Ok(session::ActiveModel {
        id: Set(record.id.to_string()),
        data: Set(serde_json::to_string(&record.data).map_err(encode)?),
        expires_at: Set(to_chrono(record.expiry_date)),
    })
}

fn to_chrono(at: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), 0).unwrap_or_else(Utc::now)
}

fn encode(err: serde_json::Error) -> session_store::Error {
    session_store::Error::Encode(err.to_string())
}

fn backend(err: sea_orm::DbErr) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}
