//! `taccuino`: the command line of the server.

use clap::{Parser, Subcommand};
use taccuino_server::{app::Application, config::Config, mail};

#[derive(Debug, Parser)]
#[command(
    name = "taccuino",
    version,
    about = "Taccuino: offline-first field notebook for social care"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (configuration from the environment; see the README).
    Serve {
        /// Loads the demo dataset into an empty database and accepts default secrets.
        #[arg(long)]
        demo: bool,
    },
    /// Prints the OpenAPI document.
    Openapi,
    /// Rebuilds `service_records` from the sync documents (DATABASE_URL), then exits.
    RebuildProjections,
    /// Recomputes every finding of every record from scratch (DATABASE_URL), then exits.
    RecheckFindings,
    /// Writes today's digests for the social workers (never twice a day) and delivers every
    /// due message of the outbox once, with the mail settings of the environment; then exits.
    SendDigest,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { demo } => {
            let config = Config::from_env(demo)?;
            init_tracing(config.log_json);
            tracing::info!(?config, "starting");
            let app = Application::build(config).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
        }
        Command::RebuildProjections => {
            // Only the database settings matter here, so demo-mode defaults are fine.
            let config = Config::from_env(true)?;
            init_tracing(config.log_json);
            let db = taccuino_server::db::connect(&config).await?;
            let done = taccuino_server::sync::rebuild::rebuild_projections(&db).await?;
            println!(
                "service records: {} inserted, {} updated, {} deleted, {} not projectable",
                done.inserted, done.updated, done.deleted, done.skipped
            );
        }
        Command::RecheckFindings => {
            let config = Config::from_env(true)?;
            init_tracing(config.log_json);
            let db = taccuino_server::db::connect(&config).await?;
            let txn = sea_orm::TransactionTrait::begin(&db).await?;
            let (records, findings) =
                taccuino_server::findings::recheck_all(&txn, chrono::Utc::now()).await?;
            txn.commit().await?;
            println!("{records} service records checked: {findings} findings");
        }
        Command::SendDigest => {
            // Outside demo mode only the database and mail settings matter; demo-mode
            // defaults for the rest (JWT secret) are fine for a command that serves nothing.
            let config = Config::from_env(true)?;
            init_tracing(config.log_json);
            let db = taccuino_server::db::connect(&config).await?;
            let day = mail::digest::italian_today();
            let written = mail::digest::enqueue_digests(&db, &config, day).await?;
            let done = match mail::transport::Transport::from_config(&config.mail)? {
                Some(transport) => {
                    mail::delivery::deliver_due(&db, &transport, &config.mail).await?
                }
                None => mail::delivery::Delivered::default(),
            };
            println!(
                "digests of {day}: {written} written; messages: {} sent, {} failed (retried later)",
                done.sent, done.failed
            );
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&taccuino_server::openapi::document())?
            );
        }
    }
    Ok(())
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
