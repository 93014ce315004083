//! The first schema: users and their credentials, repositories, branches, sandboxes, the
//! conversation (messages), runs with their append-only events, and browser sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so that foreign keys never dangle.
        for name in [
            Sessions::Table.into_iden(),
            RunEvents::Table.into_iden(),
            Runs::Table.into_iden(),
            Messages::Table.into_iden(),
            Sandboxes::Table.into_iden(),
            Branches::Table.into_iden(),
            Repositories::Table.into_iden(),
            Credentials::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(name).to_owned()).await?;
        }
        Ok(())
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        users(),
        credentials(),
        repositories(),
        branches(),
        sandboxes(),
        messages(),
        runs(),
        run_events(),
        sessions(),
    ]
}

fn users() -> TableCreateStatement {
    Table::create()
        .table(Users::Table)
        .col(id_column(Users::Id))
        .col(big_integer_null(Users::GithubId).unique_key())
        .col(string(Users::Login).unique_key())
        .col(string_null(Users::Name))
        .col(string_null(Users::AvatarUrl))
        .col(boolean(Users::IsAdmin).default(false))
        .col(integer_null(Users::SandboxQuota))
        .col(json(Users::RepositoryOrder))
        .col(text_null(Users::GithubToken))
        .col(timestamp_with_time_zone(Users::CreatedAt))
        .to_owned()
}

fn credentials() -> TableCreateStatement {
    Table::create()
        .table(Credentials::Table)
        .col(id_column(Credentials::Id))
        .col(big_integer(Credentials::UserId).unique_key())
        .col(text_null(Credentials::AnthropicApiKey))
        .col(text_null(Credentials::AnthropicAuthToken))
        .col(text_null(Credentials::OpenaiApiKey))
        .col(text_null(Credentials::OpencodeApiKey))
        .col(text_null(Credentials::DaytonaApiKey))
        .col(integer(Credentials::AutoStopMinutes).default(10))
        .col(integer(Credentials::LoopMaxIterations).default(10))
        .col(timestamp_with_time_zone(Credentials::UpdatedAt))
        .foreign_key(&mut cascade(Credentials::Table, Credentials::UserId, Users::Table, Users::Id))
        .to_owned()
}

fn repositories() -> TableCreateStatement {
    Table::create()
        .table(Repositories::Table)
        .col(id_column(Repositories::Id))
        .col(big_integer(Repositories::UserId))
        .col(string_len(Repositories::Provider, 16))
        .col(string(Repositories::Owner))
        .col(string(Repositories::Name))
        .col(text(Repositories::CloneUrl))
        .col(string(Repositories::DefaultBranch))
        .col(string_null(Repositories::AvatarUrl))
        .col(text_null(Repositories::EnvVars))
        .col(timestamp_with_time_zone(Repositories::CreatedAt))
        .foreign_key(&mut cascade(
            Repositories::Table,
            Repositories::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned()
}

fn branches() -> TableCreateStatement {
    Table::create()
        .table(Branches::Table)
        .col(id_column(Branches::Id))
        .col(big_integer(Branches::RepositoryId))
        .col(big_integer(Branches::UserId))
        .col(string(Branches::Name))
        .col(string(Branches::BaseBranch))
        .col(string_null(Branches::StartCommit))
        .col(string_len(Branches::Status, 16))
        .col(string_len(Branches::Agent, 16))
        .col(string(Branches::Model))
        .col(text(Branches::DraftPrompt).default(""))
        .col(text_null(Branches::PrUrl))
        .col(boolean(Branches::LoopEnabled).default(false))
        .col(integer(Branches::LoopCount).default(0))
        .col(integer(Branches::LoopMax).default(10))
        .col(timestamp_with_time_zone(Branches::CreatedAt))
        .col(timestamp_with_time_zone(Branches::UpdatedAt))
        .foreign_key(&mut cascade(
            Branches::Table,
            Branches::RepositoryId,
            Repositories::Table,
            Repositories::Id,
        ))
        .foreign_key(&mut cascade(Branches::Table, Branches::UserId, Users::Table, Users::Id))
        .to_owned()
}

fn sandboxes() -> TableCreateStatement {
    Table::create()
        .table(Sandboxes::Table)
        .col(id_column(Sandboxes::Id))
        .col(big_integer(Sandboxes::BranchId).unique_key())
        .col(big_integer(Sandboxes::UserId))
        .col(string_len(Sandboxes::Provider, 16))
        .col(string(Sandboxes::ProviderId))
        .col(json(Sandboxes::AgentSessions))
        .col(text_null(Sandboxes::PreviewUrlPattern))
        .col(string_len(Sandboxes::Status, 16))
        .col(timestamp_with_time_zone(Sandboxes::LastActiveAt))
        .col(timestamp_with_time_zone(Sandboxes::CreatedAt))
        .foreign_key(&mut cascade(
            Sandboxes::Table,
            Sandboxes::BranchId,
            Branches::Table,
            Branches::Id,
        ))
        .foreign_key(&mut cascade(Sandboxes::Table, Sandboxes::UserId, Users::Table, Users::Id))
        .to_owned()
}

fn messages() -> TableCreateStatement {
    Table::create()
        .table(Messages::Table)
        .col(id_column(Messages::Id))
        .col(big_integer(Messages::BranchId))
        .col(string_len(Messages::Role, 16))
        .col(text(Messages::Content))
        .col(json(Messages::Blocks))
        .col(string_null(Messages::CommitHash))
        .col(text_null(Messages::CommitMessage))
        .col(big_integer_null(Messages::RunId))
        .col(timestamp_with_time_zone(Messages::CreatedAt))
        .foreign_key(&mut cascade(
            Messages::Table,
            Messages::BranchId,
            Branches::Table,
            Branches::Id,
        ))
        .to_owned()
}

pub(crate) fn runs() -> TableCreateStatement {
    Table::create()
        .table(Runs::Table)
        .col(id_column(Runs::Id))
        .col(big_integer(Runs::BranchId))
        .col(big_integer(Runs::UserId))
        .col(string_len(Runs::Status, 16))
        .col(boolean(Runs::IsLoopIteration).default(false))
        .col(timestamp_with_time_zone(Runs::StartedAt))
        .col(timestamp_with_time_zone_null(Runs::FinishedAt))
        .col(json_null(Runs::Usage))
        .foreign_key(&mut cascade(Runs::Table, Runs::BranchId, Branches::Table, Branches::Id))
        .foreign_key(&mut cascade(Runs::Table, Runs::UserId, Users::Table, Users::Id))
        .to_owned()
}

pub(crate) fn run_events() -> TableCreateStatement {
    Table::create()
        .table(RunEvents::Table)
        .col(id_column(RunEvents::Id))
        .col(big_integer(RunEvents::RunId))
        .col(big_integer(RunEvents::Seq))
        .col(string_len(RunEvents::Kind, 32))
        .col(json(RunEvents::Payload))
        .col(timestamp_with_time_zone(RunEvents::CreatedAt))
        .foreign_key(&mut cascade(RunEvents::Table, RunEvents::RunId, Runs::Table, Runs::Id))
        .to_owned()
}

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Sessions::Table)
        .col(string(Sessions::Id).primary_key())
        .col(text(Sessions::Data))
        .col(timestamp_with_time_zone(Sessions::ExpiresAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("idx_repositories_user_owner_name", Repositories::Table, true)
            .col(Repositories::UserId)
            .col(Repositories::Owner)
            .col(Repositories::Name)
            .to_owned(),
        index("idx_branches_repository_name", Branches::Table, true)
            .col(Branches::RepositoryId)
            .col(Branches::Name)
            .to_owned(),
        index("idx_branches_user", Branches::Table, false).col(Branches::UserId).to_owned(),
        index("idx_sandboxes_user_status", Sandboxes::Table, false)
            .col(Sandboxes::UserId)
            .col(Sandboxes::Status)
            .to_owned(),
        index("idx_messages_branch_created", Messages::Table, false)
            .col(Messages::BranchId)
            .col(Messages::CreatedAt)
            .to_owned(),
        index("idx_runs_branch_status", Runs::Table, false)
            .col(Runs::BranchId)
            .col(Runs::Status)
            .to_owned(),
        index("idx_runs_user_started", Runs::Table, false)
            .col(Runs::UserId)
            .col(Runs::StartedAt)
            .to_owned(),
        index("idx_run_events_run_seq", RunEvents::Table, true)
            .col(RunEvents::RunId)
            .col(RunEvents::Seq)
            .to_owned(),
        index("idx_sessions_expires", Sessions::Table, false).col(Sessions::ExpiresAt).to_owned(),
    ]
}

/// A 64-bit auto-incrementing primary key (`bigserial` on PostgreSQL, `integer` on SQLite).
pub(crate) fn id_column(name: impl IntoIden) -> ColumnDef {
    let mut column = big_integer(name);
    column.auto_increment().primary_key();
    column
}

pub(crate) fn index(
    name: &str,
    table: impl IntoIden + 'static,
    unique: bool,
) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table);
    if unique {
        statement.unique();
    }
    statement
}

pub(crate) fn cascade(
    from_table: impl IntoIden + 'static,
    from_col: impl IntoIden + 'static,
    to_table: impl IntoIden + 'static,
    to_col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    GithubId,
    Login,
    Name,
    AvatarUrl,
    IsAdmin,
    SandboxQuota,
    RepositoryOrder,
    GithubToken,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    UserId,
    AnthropicApiKey,
    AnthropicAuthToken,
    OpenaiApiKey,
    OpencodeApiKey,
    DaytonaApiKey,
    AutoStopMinutes,
    LoopMaxIterations,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Repositories {
    Table,
    Id,
    UserId,
    Provider,
    Owner,
    Name,
    CloneUrl,
    DefaultBranch,
    AvatarUrl,
    EnvVars,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Branches {
    Table,
    Id,
    RepositoryId,
    UserId,
    Name,
    BaseBranch,
    StartCommit,
    Status,
    Agent,
    Model,
    DraftPrompt,
    PrUrl,
    LoopEnabled,
    LoopCount,
    LoopMax,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sandboxes {
    Table,
    Id,
    BranchId,
    UserId,
    Provider,
    ProviderId,
    AgentSessions,
    PreviewUrlPattern,
    Status,
    LastActiveAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    BranchId,
    Role,
    Content,
    Blocks,
    CommitHash,
    CommitMessage,
    RunId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Runs {
    Table,
    Id,
    BranchId,
    UserId,
    Status,
    IsLoopIteration,
    StartedAt,
    FinishedAt,
    Usage,
}

#[derive(DeriveIden)]
pub(crate) enum RunEvents {
    Table,
    Id,
    RunId,
    Seq,
    Kind,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}
