//! Taccuino's database schema as one sea-orm migration set.
//!
//! Every migration uses only the portable schema builder, so the same set runs on SQLite (the
//! embedded default) and PostgreSQL (the scale path). The server applies pending migrations at
//! start-up.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261123_000001_foundation;
mod m20261123_000002_sync;
mod m20261123_000003_findings;
mod m20261123_000004_statements;
mod m20261123_000005_mail_outbox;

/// The ordered list of migrations; append, never edit one that has shipped.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_sync::Migration),
            Box::new(m20261123_000003_findings::Migration),
            Box::new(m20261123_000004_statements::Migration),
            Box::new(m20261123_000005_mail_outbox::Migration),
        ]
    }
}
