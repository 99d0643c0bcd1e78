//! Persistence: the connection, migrations, and the queries the domain needs. No HTTP here.

pub mod accounts;
pub mod audit;
pub mod devices;
pub mod entities;
pub mod findings;
pub mod people;
pub mod plan_history;
pub mod record_columns;
pub mod reviews;
pub mod rule_settings;
pub mod scope;
pub mod statements;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use taccuino_migrations::{Migrator, MigratorTrait};

use crate::config::Config;

/// Opens the database named by the configuration and applies pending migrations.
///
/// SQLite gets a single connection: SQLite has one writer, and a deferred transaction that
/// upgrades to a write while another connection writes fails with SQLITE_BUSY instead of
/// waiting. One connection serializes writes in the pool's queue instead.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    if config.is_sqlite() {
        ensure_sqlite_directory(&config.database_url)?;
    }
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(if config.is_sqlite() {
            1
        } else {
            config.db_max_connections
        })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if config.is_sqlite() {
        // WAL: a commit is one append and one fsync of the log instead of the rollback
        // journal's several; FULL: that fsync happens before COMMIT returns, so what the sync
        // endpoint acknowledges survives a power cut, not just a process kill.
        // Rows buffered between SQLite's worker thread and the caller: 50 by default, which
        // makes a full recheck's million-row read hand over rows 50 at a time.
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .row_buffer_size(4096)
        });
    }
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Whether the database answers; used by `/status`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

fn ensure_sqlite_directory(url: &str) -> Result<(), DbErr> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// One page of a query and the total count of rows matching it.
pub async fn paginate<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E::Model: Sync,
{
    use sea_orm::{PaginatorTrait, QuerySelect};
    let total = select.clone().count(db).await?;
    let items = select.offset(offset).limit(limit).all(db).await?;
    Ok((items, total))
}

/// Pairs per statement of [`insert_pairs`] (two parameters each): a bulk validation's 10,000
/// history rows go in 40 statements.
const PAIRS_PER_INSERT: usize = 250;

/// Inserts one row of `E` per pair: the pair into `pair_columns`, and into each of `shared`'s
/// columns its value, the same for every row (`INSERT .. SELECT column1, column2, <shared>
/// FROM (VALUES (..), ..)`), so a row costs two parameters: a bulk validation's 10,000 history
/// and audit rows in a few dozen small statements.
pub async fn insert_pairs<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    pair_columns: [E::Column; 2],
    shared: &[(E::Column, sea_orm::Value)],
    pairs: &[(uuid::Uuid, uuid::Uuid)],
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, Query};
    for chunk in pairs.chunks(PAIRS_PER_INSERT) {
        let mut select = Query::select();
        select.expr(Expr::col("column1")).expr(Expr::col("column2"));
        for (_, value) in shared {
            select.expr(Expr::val(value.clone()));
        }
        select.from_values(chunk.iter().copied(), "pairs");
        let mut insert = Query::insert();
        insert
            .into_table(E::default())
            .columns(
                pair_columns
                    .into_iter()
                    .chain(shared.iter().map(|(c, _)| *c)),
            )
            .select_from(select)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Why [`update_versioned`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Someone else changed the row since it was read.
    #[error("the row changed since it was read")]
    Stale,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Writes `changes` to the row `id` only if its version is still `expected`, bumping it;
/// [`UpdateError::Stale`] when someone else changed the row first.
pub async fn update_versioned<E, C>(
    db: &impl ConnectionTrait,
    id_column: C,
    version_column: C,
    id: uuid::Uuid,
    expected: i32,
    changes: E::ActiveModel,
) -> Result<(), UpdateError>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ColumnTrait,
{
    use sea_orm::{QueryFilter, sea_query::Expr};
    let result = E::update_many()
        .set(changes)
        .col_expr(version_column, Expr::value(expected + 1))
        .filter(id_column.eq(id))
        .filter(version_column.eq(expected))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(UpdateError::Stale)
    }
}
