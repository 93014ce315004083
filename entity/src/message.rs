use sea_orm::entity::prelude::*;

use crate::MessageRole;

/// One entry in a branch's conversation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub branch_id: i64,
    pub role: MessageRole,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// Text and tool calls in the order the agent produced them.
    pub blocks: Json,
    pub commit_hash: Option<String>,
    pub commit_message: Option<String>,
    pub run_id: Option<i64>,
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
