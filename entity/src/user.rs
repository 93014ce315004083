use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Absent for the local user of the embedded default.
    #[sea_orm(unique)]
    pub github_id: Option<i64>,
    #[sea_orm(unique)]
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub is_admin: bool,
    /// Overrides the server's default sandbox quota when set.
    pub sandbox_quota: Option<i32>,
    /// Repository ids in the order the user arranged the sidebar.
    pub repository_order: Json,
    /// The user's GitHub OAuth token, sealed.
    pub github_token: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::credential::Entity")]
    Credential,
    #[sea_orm(has_many = "super::repository::Entity")]
    Repository,
}

impl Related<super::credential::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Credential.def()
    }
}

impl Related<super::repository::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Repository.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
