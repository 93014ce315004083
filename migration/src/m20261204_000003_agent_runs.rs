//! Runs become the work of a background engine: a run is queued with its prompt, agent and
//! model, claimed by one server instance through a lease, resumes the agent's own session,
//! and remembers how far into the agent's output log its events were stored, so that a
//! restarted server reads on from there. Events carry their branch, so that a branch's
//! live view replays them in one indexed range. Branches learn whether a finished run is
//! still unread.
//!
//! No run was ever stored in the first schema's shape, so its two tables are replaced
//! rather than altered column by column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261203_000001_initial as initial;
use initial::{cascade, id_column, index, Branches, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_runs(manager).await?;
        manager.create_table(runs()).await?;
        manager.create_table(run_events()).await?;
        for statement in [
            index("idx_runs_branch_status", Runs::Table, false)
                .col(Runs::BranchId)
                .col(Runs::Status)
                .to_owned(),
            index("idx_runs_status_lease", Runs::Table, false)
                .col(Runs::Status)
                .col(Runs::LeaseExpiresAt)
                .to_owned(),
            index("idx_runs_user_created", Runs::Table, false)
                .col(Runs::UserId)
                .col(Runs::CreatedAt)
                .to_owned(),
            index("idx_run_events_run_seq", RunEvents::Table, true)
                .col(RunEvents::RunId)
                .col(RunEvents::Seq)
                .to_owned(),
            index("idx_run_events_branch_id", RunEvents::Table, false)
                .col(RunEvents::BranchId)
                .col(RunEvents::Id)
                .to_owned(),
        ] {
            manager.create_index(statement).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Branches::Table)
                    .add_column(boolean(Alias::new("unread")).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Branches::Table).drop_column(Alias::new("unread")).to_owned(),
            )
            .await?;
        drop_runs(manager).await?;
        manager.create_table(initial::runs()).await?;
        manager.create_table(initial::run_events()).await?;
        for statement in [
            index("idx_runs_branch_status", initial::Runs::Table, false)
                .col(initial::Runs::BranchId)
                .col(initial::Runs::Status)
                .to_owned(),
            index("idx_runs_user_started", initial::Runs::Table, false)
                .col(initial::Runs::UserId)
                .col(initial::Runs::StartedAt)
                .to_owned(),
            index("idx_run_events_run_seq", initial::RunEvents::Table, true)
                .col(initial::RunEvents::RunId)
                .col(initial::RunEvents::Seq)
                .to_owned(),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }
}

async fn drop_runs(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // Events first: they point at runs.
    manager.drop_table(Table::drop().table(RunEvents::Table).to_owned()).await?;
    manager.drop_table(Table::drop().table(Runs::Table).to_owned()).await
}

fn runs() -> TableCreateStatement {
    Table::create()
        .table(Runs::Table)
        .col(id_column(Runs::Id))
        .col(big_integer(Runs::BranchId))
        .col(big_integer(Runs::UserId))
        .col(string_len(Runs::Agent, 16))
        .col(string(Runs::Model))
        .col(text(Runs::Prompt))
        .col(string_len(Runs::Status, 16))
        .col(integer(Runs::LoopIteration).default(0))
        .col(string_null(Runs::SessionId))
        .col(big_integer(Runs::LogOffset).default(0))
        .col(string_null(Runs::LeaseOwner))
        .col(timestamp_with_time_zone_null(Runs::LeaseExpiresAt))
        .col(boolean(Runs::CancelRequested).default(false))
        .col(text_null(Runs::Error))
        .col(json_null(Runs::Usage))
        .col(timestamp_with_time_zone(Runs::CreatedAt))
        .col(timestamp_with_time_zone_null(Runs::StartedAt))
        .col(timestamp_with_time_zone_null(Runs::FinishedAt))
        .foreign_key(&mut cascade(Runs::Table, Runs::BranchId, Branches::Table, Branches::Id))
        .foreign_key(&mut cascade(Runs::Table, Runs::UserId, Users::Table, Users::Id))
        .to_owned()
}

fn run_events() -> TableCreateStatement {
    Table::create()
        .table(RunEvents::Table)
        .col(id_column(RunEvents::Id))
        .col(big_integer(RunEvents::RunId))
        .col(big_integer(RunEvents::BranchId))
        .col(big_integer(RunEvents::Seq))
        .col(string_len(RunEvents::Kind, 32))
        .col(json(RunEvents::Payload))
        .col(timestamp_with_time_zone(RunEvents::CreatedAt))
        .foreign_key(&mut cascade(RunEvents::Table, RunEvents::RunId, Runs::Table, Runs::Id))
        .to_owned()
}

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    BranchId,
    UserId,
    Agent,
    Model,
    Prompt,
    Status,
    LoopIteration,
    SessionId,
    LogOffset,
    LeaseOwner,
    LeaseExpiresAt,
    CancelRequested,
    Error,
    Usage,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum RunEvents {
    Table,
    Id,
    RunId,
    BranchId,
    Seq,
    Kind,
    Payload,
    CreatedAt,
}
