//! `findings-bench`: issue 6's benchmark of the automatic findings and the review, in one run.
//!
//! 1. **engine**: 1,000,000 generated records over 10,000 plans, `evaluate(batch,
//!    &Targets::All)` in memory (time, findings, peak RSS during the call).
//! 2. **full**: the same data in a fresh SQLite file (loaded with multi-row `INSERT`s, not
//!    timed), then `findings::recheck_all` in a transaction and its commit; then the same
//!    steps one by one (load the records, load the plans, evaluate, delete and store) to show
//!    where the time goes.
//! 3. **incremental**: on that database, new records one at a time as the REST create stores
//!    them (insert, `findings::after_records_changed`, commit): the recheck and the whole
//!    transaction, p50 and p99.
//! 4. **bulk**: the real server on its own SQLite file in demo mode, 10,000 pending records,
//!    one `POST /api/v1/reviews/bulk-validate` as the social worker, checked in the database.
//!
//! With `--postgres`, steps 2-4 also run on a fresh PostgreSQL database
//! (`taccuino_bench_<random>` on 127.0.0.1:5432, user postgres; dropped afterwards).
//! Every step runs `--rounds` times; the table shows medians and every round's value.
//! See BENCHMARKS.md, "Findings and review (issue 6)".

#[path = "../findings/mod.rs"]
mod findings;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait};
use taccuino_bench::rss;
use taccuino_bench::stats::{millis, percentile};
use taccuino_server::{
    config::Config,
    db::{
        self,
        entities::finding,
        findings::{context, store},
    },
    domain::rules::evaluate::{Batch, Targets, evaluate},
    findings as server_findings,
};
use uuid::Uuid;

use findings::generator::{Dataset, Params, SEED};
use findings::review::Review;

/// Issue 6's targets.
const ENGINE_TARGET: Duration = Duration::from_secs(10);
const INCREMENTAL_TARGET: Duration = Duration::from_millis(10);
const BULK_TARGET: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Step {
    Engine,
    Full,
    Incremental,
    Bulk,
}

#[derive(Debug, Parser)]
#[command(name = "findings-bench", version, about)]
struct Cli {
    /// Rounds of every step; the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Which steps to run (comma-separated); all by default.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Step::Engine, Step::Full, Step::Incremental, Step::Bulk])]
    steps: Vec<Step>,
    /// Records in the generated register.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Care plans.
    #[arg(long, default_value_t = 10_000)]
    plans: usize,
    /// Field operators.
    #[arg(long, default_value_t = 3_000)]
    operators: usize,
    /// Days of visits.
    #[arg(long, default_value_t = 100)]
    days: i64,
    /// The generator's seed.
    #[arg(long, default_value_t = SEED)]
    seed: u64,
    /// New records per round of the incremental step.
    #[arg(long, default_value_t = 200)]
    new_records: usize,
    /// Pending records per round of the bulk validation.
    #[arg(long, default_value_t = 10_000)]
    bulk_records: usize,
    /// Keep the SQLite file of steps 2-3 (printed), to look at it afterwards.
    #[arg(long)]
    keep_database: bool,
    /// Also run steps 2-4 on PostgreSQL (127.0.0.1:5432, user postgres, trust auth).
    #[arg(long)]
    postgres: bool,
    /// The PostgreSQL server (without a database name).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres_url: String,
}

/// One line of the results table.
#[derive(Debug)]
struct Line {
    what: String,
    /// Every round's value.
    values: Vec<Duration>,
    /// Issue 6's target, if this line has one.
    target: Option<Duration>,
    note: String,
}

impl Line {
    fn new(what: impl Into<String>, values: Vec<Duration>, target: Option<Duration>) -> Self {
        Self {
            what: what.into(),
            values,
            target,
            note: String::new(),
        }
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(cli.rounds > 0, "--rounds must be at least 1");
    let params = Params {
        records: cli.records,
        plans: cli.plans,
        operators: cli.operators,
        days: cli.days,
        ..Params::issue6(cli.seed)
    };
    let mut lines = Vec::new();
    let needs_data = cli
        .steps
        .iter()
        .any(|s| matches!(s, Step::Engine | Step::Full | Step::Incremental));
    let data = if needs_data {
        let t = Instant::now();
        let data = Dataset::generate(params)?;
        eprintln!(
            "generated {} records over {} plans and {} operators in {:.1} s; planted: {:?}",
            data.records.len(),
            data.plans.len(),
            data.operators.len(),
            t.elapsed().as_secs_f64(),
            data.planted
        );
        Some(data)
    } else {
        None
    };

    let mut engine_findings = None;
    if let (Some(data), true) = (&data, cli.steps.contains(&Step::Engine)) {
        let (line, count) = engine(data, cli.rounds)?;
        engine_findings = Some(count);
        lines.push(line);
    }

    let mut backends = vec![Backend::Sqlite];
    if cli.postgres {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let db_steps = cli
            .steps
            .iter()
            .any(|s| matches!(s, Step::Full | Step::Incremental));
        if let (Some(data), true) = (&data, db_steps) {
            let database = Database::create(backend, &cli.postgres_url).await?;
            let result = database_steps(&cli, data, &database, engine_findings).await;
            if cli.keep_database && backend == Backend::Sqlite {
                eprintln!("kept {}", database.url);
            } else {
                database.remove().await?;
            }
            lines.extend(result?);
        }
        if cli.steps.contains(&Step::Bulk) {
            let database = match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(Database::create(backend, &cli.postgres_url).await?),
            };
            let result = bulk(&cli, backend, database.as_ref().map(|d| d.url.clone())).await;
            if let Some(database) = database {
                database.remove().await?;
            }
            lines.push(result?);
        }
    }
    print_table(&cli, &lines);
    Ok(())
}

/// Step 1: the engine alone, on the generated data.
fn engine(data: &Dataset, rounds: usize) -> anyhow::Result<(Line, usize)> {
    let plans = data.contexts();
    let settings = HashMap::new();
    let pid = std::process::id();
    let mut times = Vec::new();
    let mut count = 0;
    let mut peaks = Vec::new();
    let base = rss::read_current_kib(pid).unwrap_or(0);
    for round in 1..=rounds {
        // Resets the kernel's high-water mark to the current RSS, so VmHWM afterwards is the
        // peak during this call (Linux >= 4.0).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let t = Instant::now();
        let found = evaluate(
            Batch {
                records: &data.records,
                plans: &plans,
                settings: &settings,
                now: data.now,
            },
            &Targets::All,
        );
        let elapsed = t.elapsed();
        count = found.values().map(Vec::len).sum();
        let flagged = found.values().filter(|f| !f.is_empty()).count();
        let peak = rss::read_peak_kib(pid).filter(|_| reset).unwrap_or(0);
        drop(found);
        eprintln!(
            "engine round {round}: {:.2} s, {count} findings on {flagged} records, peak RSS \
             {:.0} MiB (input in memory {:.0} MiB)",
            elapsed.as_secs_f64(),
            rss::mib(peak),
            rss::mib(base)
        );
        times.push(elapsed);
        peaks.push(peak);
    }
    let note = format!(
        "{count} findings; peak RSS {:.0} MiB during the call (the 1M records and plans \
         themselves: {:.0} MiB)",
        rss::mib(median_u64(&peaks)),
        rss::mib(base)
    );
    Ok((
        Line::new(
            "1. engine from scratch, `evaluate(All)`",
            times,
            Some(ENGINE_TARGET),
        )
        .note(note),
        count,
    ))
}

/// Steps 2 and 3 on one database.
async fn database_steps(
    cli: &Cli,
    data: &Dataset,
    database: &Database,
    engine_findings: Option<usize>,
) -> anyhow::Result<Vec<Line>> {
    let name = database.backend.name();
    let db = database.connect().await?;
    let t = Instant::now();
    findings::load::dataset(&db, data).await?;
    if database.backend == Backend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    eprintln!(
        "{name}: loaded {} records in {:.1} s",
        data.records.len(),
        t.elapsed().as_secs_f64()
    );
    let mut lines = Vec::new();
    if cli.steps.contains(&Step::Full) {
        lines.extend(full(cli.rounds, data, &db, name, engine_findings).await?);
    } else {
        // The incremental step needs the findings in place.
        let txn = db.begin().await?;
        server_findings::recheck_all(&txn, data.now).await?;
        txn.commit().await?;
    }
    if cli.steps.contains(&Step::Incremental) {
        if database.backend == Backend::Postgres {
            // Statistics as autovacuum keeps them in service: the ANALYZE after the load saw
            // no findings, and with it the planner scans the findings instead of its index.
            db.execute_unprepared("ANALYZE").await?;
        }
        lines.extend(incremental(cli, data, &db, name).await?);
    }
    db.close().await?;
    Ok(lines)
}

/// Step 2: `recheck_all` as the server runs it, then its phases one by one.
async fn full(
    rounds: usize,
    data: &Dataset,
    db: &DatabaseConnection,
    name: &str,
    engine_findings: Option<usize>,
) -> anyhow::Result<Vec<Line>> {
    let mut totals = Vec::new();
    let mut phases: [Vec<Duration>; 5] = Default::default();
    let mut counts = (0, 0);
    for round in 1..=rounds {
        let t = Instant::now();
        let txn = db.begin().await?;
        counts = server_findings::recheck_all(&txn, data.now).await?;
        txn.commit().await?;
        let total = t.elapsed();
        totals.push(total);

        // The same work, step by step (records, plans, evaluate, delete + store + commit).
        let t = Instant::now();
        let rows = context::records(db, sea_orm::Condition::all()).await?;
        let load_records = t.elapsed();
        let t = Instant::now();
        let mut ids: Vec<Uuid> = rows.iter().map(|r| r.care_plan_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let plans = context::plans(db, &ids).await?;
        let mut municipalities: Vec<Uuid> = plans.values().map(|p| p.municipality_id).collect();
        municipalities.sort_unstable();
        municipalities.dedup();
        let settings = context::settings(db, &municipalities).await?;
        let load_plans = t.elapsed();
        let t = Instant::now();
        let found = evaluate(
            Batch {
                records: &rows,
                plans: &plans,
                settings: &settings,
                now: data.now,
            },
            &Targets::All,
        );
        let evaluated = t.elapsed();
        let t = Instant::now();
        let txn = db.begin().await?;
        finding::Entity::delete_many().exec(&txn).await?;
        let deleted = t.elapsed();
        store::insert(&txn, &found, data.now).await?;
        txn.commit().await?;
        let stored = t.elapsed() - deleted;
        eprintln!(
            "{name} recheck_all round {round}: {:.2} s ({} records, {} findings); step by step: \
             records {:.2} s, plans {:.2} s, evaluate {:.2} s, delete {:.2} s, store + commit \
             {:.2} s",
            total.as_secs_f64(),
            counts.0,
            counts.1,
            load_records.as_secs_f64(),
            load_plans.as_secs_f64(),
            evaluated.as_secs_f64(),
            deleted.as_secs_f64(),
            stored.as_secs_f64()
        );
        for (phase, value) in
            phases
                .iter_mut()
                .zip([load_records, load_plans, evaluated, deleted, stored])
        {
            phase.push(value);
        }
    }
    let check = match engine_findings {
        Some(n) if n == counts.1 => ", the same as the engine alone".to_owned(),
        Some(n) => format!(", the engine alone found {n}: DIFFERENT"),
        None => String::new(),
    };
    let mut lines = vec![
        Line::new(
            format!("2. {name}: `recheck_all` + commit"),
            totals,
            Some(ENGINE_TARGET),
        )
        .note(format!(
            "{} records, {} findings{check}",
            counts.0, counts.1
        )),
    ];
    let labels = [
        "load the records (`context::records`, all)",
        "load plans + settings (`context::plans`)",
        "evaluate (the engine on the loaded rows)",
        "delete every finding",
        "store the findings (`store::insert`) + commit",
    ];
    for (label, values) in labels.into_iter().zip(phases) {
        lines.push(Line::new(format!("   {name}: {label}"), values, None));
    }
    Ok(lines)
}

/// Step 3: new records one at a time, as the REST create stores them.
async fn incremental(
    cli: &Cli,
    data: &Dataset,
    db: &DatabaseConnection,
    name: &str,
) -> anyhow::Result<Vec<Line>> {
    let mut recheck = Vec::new();
    let mut whole = Vec::new();
    let mut recheck_p99 = Vec::new();
    let mut whole_p99 = Vec::new();
    for round in 1..=cli.rounds {
        let rows = data.new_records(cli.new_records, cli.seed ^ (0x1_0000 + round as u64));
        let mut rechecks = Vec::with_capacity(rows.len());
        let mut wholes = Vec::with_capacity(rows.len());
        for row in &rows {
            let t = Instant::now();
            let txn = db.begin().await?;
            findings::load::records(&txn, std::slice::from_ref(row), data.now).await?;
            let r = Instant::now();
            server_findings::after_records_changed(&txn, &[row.id], &[], data.now).await?;
            let r = r.elapsed();
            txn.commit().await?;
            wholes.push(t.elapsed());
            rechecks.push(r);
        }
        let p = |s: &[Duration], q| percentile(s, q).unwrap_or_default();
        eprintln!(
            "{name} incremental round {round}: recheck p50 {:.2} ms p99 {:.2} ms max {:.2} ms; \
             transaction p50 {:.2} ms p99 {:.2} ms",
            millis(p(&rechecks, 50.0)),
            millis(p(&rechecks, 99.0)),
            millis(p(&rechecks, 100.0)),
            millis(p(&wholes, 50.0)),
            millis(p(&wholes, 99.0)),
        );
        recheck.push(p(&rechecks, 50.0));
        recheck_p99.push(p(&rechecks, 99.0));
        whole.push(p(&wholes, 50.0));
        whole_p99.push(p(&wholes, 99.0));
    }
    // For scale: the round trip of the cheapest query the recheck makes (a record by primary
    // key, with its service type's unit: 2 statements). The recheck makes about 14.
    let mut trips = Vec::with_capacity(cli.new_records);
    for row in data.records.iter().take(cli.new_records) {
        let t = Instant::now();
        context::records_by_id(db, &[row.id]).await?;
        trips.push(t.elapsed());
    }
    let trip = percentile(&trips, 50.0).unwrap_or_default();
    eprintln!(
        "{name}: one record by id (2 statements), p50 {:.3} ms",
        millis(trip)
    );
    let n = cli.new_records;
    Ok(vec![
        Line::new(
            format!("3. {name}: `after_records_changed`, one new record, p50"),
            recheck,
            Some(INCREMENTAL_TARGET),
        )
        .note(format!(
            "{n} new records a round, each in its own transaction"
        )),
        Line::new(
            format!("   {name}: `after_records_changed`, p99"),
            recheck_p99,
            Some(INCREMENTAL_TARGET),
        ),
        Line::new(
            format!("   {name}: the whole transaction (insert, recheck, commit), p50"),
            whole,
            None,
        ),
        Line::new(
            format!("   {name}: the whole transaction, p99"),
            whole_p99,
            None,
        ),
        Line::new(
            format!("   {name}: for scale, `context::records_by_id` of one record, p50"),
            vec![trip],
            None,
        )
        .note("2 statements; the recheck makes about 14"),
    ])
}

/// Step 4: the bulk validation over HTTP.
async fn bulk(cli: &Cli, backend: Backend, url: Option<String>) -> anyhow::Result<Line> {
    let name = backend.name();
    let review = Review::start(url).await?;
    let mut times = Vec::new();
    let mut last = None;
    for round in 0..cli.rounds {
        let outcome = review.round(round, cli.bulk_records).await?;
        eprintln!(
            "{name} bulk round {}: {:.0} ms for {} records ({} validated, {} skipped; setup \
             {:.1} s)",
            round + 1,
            millis(outcome.elapsed),
            outcome.records,
            outcome.validated,
            outcome.skipped,
            outcome.setup.as_secs_f64()
        );
        times.push(outcome.elapsed);
        last = Some(outcome);
    }
    let note = last.map_or_else(String::new, |o| {
        format!(
            "{} pending records: {} validated, {} skipped (blocking), checked in the database",
            o.records, o.validated, o.skipped
        )
    });
    Ok(Line::new(
        format!("4. {name}: `POST /reviews/bulk-validate`"),
        times,
        Some(BULK_TARGET),
    )
    .note(note))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A fresh database: a SQLite file in a new temporary directory, or a new PostgreSQL
/// database. [`Database::remove`] removes it.
#[derive(Debug)]
struct Database {
    backend: Backend,
    url: String,
    /// SQLite: the directory; PostgreSQL: the server URL and the database's name.
    place: Place,
}

#[derive(Debug)]
enum Place {
    Directory(std::path::PathBuf),
    Postgres { server: String, name: String },
}

impl Database {
    async fn create(backend: Backend, postgres: &str) -> anyhow::Result<Self> {
        let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("findings-bench-{suffix}"));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}?mode=rwc", dir.join("taccuino.db").display());
                Ok(Self {
                    backend,
                    url,
                    place: Place::Directory(dir),
                })
            }
            Backend::Postgres => {
                let server = postgres.trim_end_matches('/').to_owned();
                let name = format!("taccuino_bench_{suffix}");
                let admin = sea_orm::Database::connect(format!("{server}/postgres"))
                    .await
                    .context("connecting to PostgreSQL")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                Ok(Self {
                    backend,
                    url: format!("{server}/{name}"),
                    place: Place::Postgres { server, name },
                })
            }
        }
    }

    /// Connects and migrates, as the server does.
    async fn connect(&self) -> anyhow::Result<DatabaseConnection> {
        let url = self.url.clone();
        let config =
            Config::from_lookup(true, |name| (name == "DATABASE_URL").then(|| url.clone()))?;
        Ok(db::connect(&config).await?)
    }

    async fn remove(self) -> anyhow::Result<()> {
        match self.place {
            Place::Directory(dir) => Ok(std::fs::remove_dir_all(dir)?),
            Place::Postgres { server, name } => {
                let admin = sea_orm::Database::connect(format!("{server}/postgres")).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                Ok(())
            }
        }
    }
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median_u64(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A duration in the unit that reads best next to its target.
fn show(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", millis(d))
    }
}

fn print_table(cli: &Cli, lines: &[Line]) {
    println!(
        "\n### findings-bench: {} records, {} plans, {} operators, {} days; {} round(s), medians\n",
        cli.records, cli.plans, cli.operators, cli.days, cli.rounds
    );
    println!("| measurement | median | rounds | target | target/measured | notes |");
    println!("|---|---|---|---|---|---|");
    for line in lines {
        let m = median(&line.values);
        let rounds: Vec<String> = line.values.iter().map(|d| show(*d)).collect();
        let (target, ratio) = match line.target {
            Some(t) if !m.is_zero() => (
                format!("< {}", show(t)),
                format!("{:.2}x", t.as_secs_f64() / m.as_secs_f64()),
            ),
            Some(t) => (format!("< {}", show(t)), "–".to_owned()),
            None => ("–".to_owned(), "–".to_owned()),
        };
        println!(
            "| {} | **{}** | {} | {} | {} | {} |",
            line.what,
            show(m),
            rounds.join(" / "),
            target,
            ratio,
            line.note
        );
    }
}
