use sea_orm::entity::prelude::*;

use crate::RunStatus;

/// One prompt carried out by an agent in a sandbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub branch_id: i64,
    pub user_id: i64,
    pub status: RunStatus,
    pub is_loop_iteration: bool,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// Tokens and cost as the agent reported them.
    pub usage: Option<Json>,
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
