use sea_orm::entity::prelude::*;

use crate::{Agent, RunStatus};

/// One prompt carried out by an agent in a branch's sandbox, from the queue to its end.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub branch_id: i64,
    pub user_id: i64,
    pub agent: Agent,
    pub model: String,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    pub status: RunStatus,
    /// 0 for a prompt the user sent; 1, 2, … for the continuations loop mode sent.
    pub loop_iteration: i32,
    /// The agent's own session, to resume in the next run with the same agent.
    pub session_id: Option<String>,
    /// Bytes of the agent's output log whose events are stored.
    pub log_offset: i64,
    /// The server instance carrying the run out, while its lease lasts.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    /// The user pressed Stop; whichever instance carries the run out stops it.
    pub cancel_requested: bool,
    /// Why the run failed or was interrupted, in words for the user.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Tokens and cost as the agent reported them.
    pub usage: Option<Json>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
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
    #[sea_orm(has_many = "super::run_event::Entity")]
    RunEvent,
}

impl Related<super::branch::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Branch.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
