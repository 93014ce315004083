//! Sandboxes remember how their preparation went: the named steps with their outcome, and
//! the reason a sandbox is in error.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Sandboxes::Table)
                    .add_column(json(Sandboxes::Steps).default("[]"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sandboxes::Table)
                    .add_column(text_null(Sandboxes::Error))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Sandboxes::Error, Sandboxes::Steps] {
            manager
                .alter_table(Table::alter().table(Sandboxes::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Sandboxes {
    Table,
    Steps,
    Error,
}
