use sea_orm::entity::prelude::*;

/// One row per user: the agents' keys (sealed) and the user's automation settings.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub user_id: i64,
    pub anthropic_api_key: Option<String>,
    pub anthropic_auth_token: Option<String>,
    pub openai_api_key: Option<String>,
    pub opencode_api_key: Option<String>,
    pub daytona_api_key: Option<String>,
    /// Minutes of inactivity before a sandbox stops (5–20).
    pub auto_stop_minutes: i32,
    /// Most loop iterations a branch may run (1–25).
    pub loop_max_iterations: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
