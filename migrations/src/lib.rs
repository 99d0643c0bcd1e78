//! Taccuino's database schema as one sea-orm migration set.
//!
//! Every migration uses only the portable schema builder, so the same set runs on SQLite (the
//! embedded default) and PostgreSQL (the scale path). The server applies pending migrations at
//! start-up.

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261123_000001_foundation;
mod m20261123_000002_sync;

/// The ordered list of migrations; append, never edit one that has shipped.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_sync::Migration),
        ]
    }
}
