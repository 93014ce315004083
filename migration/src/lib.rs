//! Schema migrations, applied in order when the server starts.
//!
//! Each migration has a `down` that undoes it exactly, and the test suite runs both
//! directions on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261203_000001_initial;
mod m20261203_000002_sandbox_steps;
mod m20261204_000003_agent_runs;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_initial::Migration),
            Box::new(m20261203_000002_sandbox_steps::Migration),
            Box::new(m20261204_000003_agent_runs::Migration),
        ]
    }
}
