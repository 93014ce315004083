use sea_orm::entity::prelude::*;

use crate::{SandboxProvider, SandboxStatus};

/// The isolated place where one branch's checkout lives.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandboxes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub branch_id: i64,
    pub user_id: i64,
    pub provider: SandboxProvider,
    /// The provider's own name for it (a directory or a Daytona id).
    pub provider_id: String,
    /// Each agent's resumable session id, keyed by agent.
    pub agent_sessions: Json,
    pub preview_url_pattern: Option<String>,
    pub status: SandboxStatus,
    /// The preparation's named steps and how each went, as a JSON list.
    pub steps: Json,
    /// Why the sandbox is in error, when it is.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub last_active_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::branch::Entity",
        from = "Column::BranchId",
        to = "super::branch::Column::Id",
        on_delete = "Cascade"
    )]
    Branch,
}

impl Related<super::branch::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Branch.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
