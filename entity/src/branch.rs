use sea_orm::entity::prelude::*;

use crate::{Agent, BranchStatus};

/// A branch of a repository and the conversation that belongs to it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "branches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository_id: i64,
    /// Copied from the repository so that per-user queries need no join.
    pub user_id: i64,
    pub name: String,
    pub base_branch: String,
    pub start_commit: Option<String>,
    pub status: BranchStatus,
    pub agent: Agent,
    pub model: String,
    #[sea_orm(column_type = "Text")]
    pub draft_prompt: String,
    pub pr_url: Option<String>,
    pub loop_enabled: bool,
    pub loop_count: i32,
    pub loop_max: i32,
    /// A run ended since the user last opened the branch.
    pub unread: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::repository::Entity",
        from = "Column::RepositoryId",
        to = "super::repository::Column::Id",
        on_delete = "Cascade"
    )]
    Repository,
    #[sea_orm(has_one = "super::sandbox::Entity")]
    Sandbox,
    #[sea_orm(has_many = "super::message::Entity")]
    Message,
}

impl Related<super::repository::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Repository.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
