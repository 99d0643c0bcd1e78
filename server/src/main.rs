//! `taccuino`: the command line of the server.

use clap::{Parser, Subcommand};
use taccuino_server::{app::Application, config::Config};

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
