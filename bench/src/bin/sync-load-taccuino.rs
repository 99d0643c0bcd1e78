//! `sync-load-taccuino`: the `sync-load` storm against Taccuino's own sync endpoint, in two
//! steps so the server can be restarted in between (documents cold on disk):
//!
//! - `setup`: over REST, one active care plan per device with the demo operator assigned
//!   (one diary each), a registered device per diary that fetched its diary and wrote M
//!   records offline, and an unused ticket each; written to a state file. Not timed.
//! - `storm`: every device reconnects at once with its ticket and its sync state, and sends
//!   its changes; a device is synced when the server's announced heads equal its own (the
//!   server announces only stored changes). Then the operator's `service_records` are
//!   counted until all N x M records are projected. Prints one JSON line and a summary.
//!
//! Loopback `http://` servers only. See BENCHMARKS.md.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use taccuino_bench::device::FirstMessage;
use taccuino_bench::rest::Api;
use taccuino_bench::rss;
use taccuino_bench::stats::{millis, percentile};
use taccuino_bench::storm::{Collected, Storm, error_kinds};
use taccuino_bench::taccuino::{Accounts, DEMO_PASSWORD, StateFile, projected_total, setup};
use taccuino_bench::target::parse_loopback_http;
use tokio::sync::watch;
use tokio::time::Instant;

/// Upper bounds that keep a mistyped command from becoming an unbounded load test.
const MAX_DEVICES: usize = 5_000;
const MAX_RECORDS: usize = 1_000;

#[derive(Debug, Parser)]
#[command(name = "sync-load-taccuino", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the plans, diaries, devices and offline records; writes the state file.
    Setup {
        /// The server, e.g. http://127.0.0.1:18080 (loopback only).
        #[arg(long)]
        base_url: String,
        /// How many devices (one plan and diary each).
        #[arg(long, default_value_t = 200)]
        devices: usize,
        /// Offline records per device.
        #[arg(long, default_value_t = 10)]
        records: usize,
        /// Where to write the state.
        #[arg(long)]
        state: PathBuf,
        /// Requests (or devices) in flight at once during the setup.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The social worker creating the plans.
        #[arg(long, default_value = "assistente@example.org")]
        social_worker: String,
        /// The coordinator assigning the operator.
        #[arg(long, default_value = "coordinatore@example.org")]
        coordinator: String,
        /// The operator owning every device.
        #[arg(long, default_value = "operatore@example.org")]
        operator: String,
        /// The accounts' password (the demo's by default).
        #[arg(long, env = "TACCUINO_BENCH_PASSWORD", default_value = DEMO_PASSWORD)]
        password: String,
    },
    /// Runs the storm from a state file.
    Storm {
        /// The state file written by `setup`.
        #[arg(long)]
        state: PathBuf,
        /// PID of the server process: its memory is sampled every 50 ms.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Seconds each device may take to be synced; projection gets as long again.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
        /// Milliseconds between two counts of the projected records.
        #[arg(long, default_value_t = 20)]
        poll_ms: u64,
        /// Message type of each device's first sync message.
        #[arg(long, value_enum, default_value_t = FirstMessage::Sync)]
        first_message: FirstMessage,
        /// The coordinator's password (the demo's by default).
        #[arg(long, env = "TACCUINO_BENCH_PASSWORD", default_value = DEMO_PASSWORD)]
        password: String,
        /// A name for this run, copied into the JSON result (e.g. "sqlite-warm").
        #[arg(long, default_value = "")]
        label: String,
        /// Write one JSON line per synced device (document id, records, heads) here.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sync-load-taccuino: tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("sync-load-taccuino: {e:#}");
            std::process::exit(2);
        }
    }
}

async fn run(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::Setup {
            base_url,
            devices,
            records,
            state,
            concurrency,
            social_worker,
            coordinator,
            operator,
            password,
        } => {
            let target = parse_loopback_http(&base_url)?;
            if devices == 0 || devices > MAX_DEVICES {
                bail!("--devices must be 1..={MAX_DEVICES}");
            }
            if records == 0 || records > MAX_RECORDS {
                bail!("--records must be 1..={MAX_RECORDS}");
            }
            if concurrency == 0 || concurrency > 64 {
                bail!("--concurrency must be 1..=64");
            }
            let accounts = Accounts {
                social_worker,
                coordinator,
                operator,
                password,
            };
            let file = setup(&target, &accounts, devices, records, concurrency).await?;
            let text = serde_json::to_string(&file)?;
            std::fs::write(&state, text).with_context(|| format!("writing {}", state.display()))?;
            println!(
                "{}",
                json!({"tool": "sync-load-taccuino setup", "devices": devices,
                       "records_per_device": records, "setup_s": file.setup_s,
                       "state": state.display().to_string()})
            );
            Ok(true)
        }
        Command::Storm {
            state,
            server_pid,
            timeout_secs,
            poll_ms,
            first_message,
            password,
            label,
            manifest,
        } => {
            if timeout_secs == 0 || timeout_secs > 3600 {
                bail!("--timeout-secs must be 1..=3600");
            }
            if poll_ms == 0 || poll_ms > 10_000 {
                bail!("--poll-ms must be 1..=10000");
            }
            let file = StateFile::read(&state)?;
            storm(
                file,
                StormOptions {
                    server_pid,
                    timeout: Duration::from_secs(timeout_secs),
                    poll: Duration::from_millis(poll_ms),
                    first_message,
                    password,
                    label,
                    manifest,
                },
            )
            .await
        }
    }
}

struct StormOptions {
    server_pid: Option<u32>,
    timeout: Duration,
    poll: Duration,
    first_message: FirstMessage,
    password: String,
    label: String,
    manifest: Option<PathBuf>,
}

/// `Ok(false)` when some device did not sync or some record was not projected.
async fn storm(file: StateFile, o: StormOptions) -> anyhow::Result<bool> {
    let target = parse_loopback_http(&file.base_url)?;
    let api = Api::new(&target)?;
    let counter = api.login(&file.coordinator_email, &o.password).await?;
    let devices = file.devices.len();
    let expected_new = file.devices.iter().map(|d| d.records as u64).sum::<u64>();
    let before = projected_total(&counter, file.operator_id).await?;
    let ready = file.ready(&target.ws_base())?;

    let (stop_rss, stop_rss_rx) = watch::channel(false);
    let rss_task = o.server_pid.map(|pid| {
        tokio::spawn(rss::sample_peak(
            pid,
            Duration::from_millis(50),
            stop_rss_rx,
        ))
    });
    let hwm_before = o.server_pid.and_then(rss::read_peak_kib);
    let rss_before = o.server_pid.and_then(rss::read_current_kib);
    let cpu_before = rss::own_cpu_time();
    let server_cpu_before = o.server_pid.and_then(rss::process_cpu_time);

    let mut storm = Storm::start(ready, o.first_message, o.timeout).await;
    let start = storm.start;
    let Collected {
        outcomes,
        errors,
        wall: synced_wall,
    } = storm.collect().await;
    let generator_cpu = rss::own_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));

    // Projected: count until every record is a row (devices still online).
    let want = before + expected_new;
    let poll_deadline = Instant::now() + o.timeout;
    let mut polls = 0u32;
    let mut last = before;
    let mut projected_wall = None;
    loop {
        polls += 1;
        match projected_total(&counter, file.operator_id).await {
            Ok(total) => {
                last = total;
                if total >= want {
                    projected_wall = Some(start.elapsed());
                    break;
                }
            }
            Err(e) => eprintln!("counting service records: {e:#}"),
        }
        if Instant::now() >= poll_deadline {
            break;
        }
        tokio::time::sleep(o.poll).await;
    }
    let server_cpu = o
        .server_pid
        .and_then(rss::process_cpu_time)
        .zip(server_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    storm.release().await;
    stop_rss.send_replace(true);
    let peaks = match rss_task {
        Some(t) => t.await.unwrap_or_default(),
        None => rss::Peaks::default(),
    };

    if let Some(path) = &o.manifest {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for d in &outcomes {
            let heads: Vec<String> = d.heads.iter().map(|h| h.to_string()).collect();
            writeln!(
                out,
                "{}",
                json!({"document_id": d.document_id.to_string(), "records": d.records,
                       "heads": heads})
            )?;
        }
        out.flush()?;
    }

    let times: Vec<Duration> = outcomes.iter().map(|d| d.elapsed).collect();
    let joins: Vec<Duration> = outcomes.iter().map(|d| d.joined_after).collect();
    let synced_records: usize = outcomes.iter().map(|d| d.records).sum();
    let failed = devices - outcomes.len();
    let projected_new = last.saturating_sub(before);
    let all_ok = failed == 0 && last == want;
    let end = projected_wall.map(|p| p.max(synced_wall));
    let records_per_s = end.map(|e| expected_new as f64 / e.as_secs_f64());
    let ms = |d: Option<Duration>| d.map(|d| (millis(d) * 10.0).round() / 10.0);
    let secs = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
    let kinds = error_kinds(&errors);
    let result = json!({
        "tool": "sync-load-taccuino",
        "label": o.label,
        "base_url": file.base_url,
        "devices": devices,
        "records_per_device": file.records_per_device,
        "records": expected_new,
        "devices_synced": outcomes.len(),
        "devices_failed": failed,
        "records_synced": synced_records,
        "records_projected": projected_new,
        "projected_before": before,
        "projected_after": last,
        "first_message": format!("{:?}", o.first_message).to_lowercase(),
        "synced_wall_s": secs(Some(synced_wall)),
        "projected_wall_s": secs(projected_wall),
        "wall_s": secs(end),
        "records_per_s": records_per_s.map(f64::round),
        "synced_records_per_s": (synced_records as f64 / synced_wall.as_secs_f64()).round(),
        "device_sync_ms": {
            "p50": ms(percentile(&times, 50.0)),
            "p99": ms(percentile(&times, 99.0)),
            "max": ms(percentile(&times, 100.0)),
        },
        "join_ms": { "p50": ms(percentile(&joins, 50.0)), "p99": ms(percentile(&joins, 99.0)) },
        "projection_polls": polls,
        "sync_messages_sent": outcomes.iter().map(|d| u64::from(d.sync_sent)).sum::<u64>(),
        "sync_messages_received": outcomes.iter().map(|d| u64::from(d.sync_received)).sum::<u64>(),
        "bytes_sent": outcomes.iter().map(|d| d.bytes_sent).sum::<u64>(),
        "bytes_received": outcomes.iter().map(|d| d.bytes_received).sum::<u64>(),
        "server_pid": o.server_pid,
        "server_hwm_before_mib": hwm_before.map(rss::mib),
        "server_rss_before_mib": rss_before.map(rss::mib),
        "server_peak_rss_mib": peaks.hwm_kib.map(rss::mib),
        "server_rss_max_sampled_mib": peaks.rss_max_kib.map(rss::mib),
        "server_cpu_s": server_cpu.map(|d| d.as_secs_f64()),
        "generator_cpu_s": generator_cpu.map(|d| d.as_secs_f64()),
        "setup_s": file.setup_s,
        "errors": kinds.iter().map(|(k, n)| json!({"error": k, "count": n})).collect::<Vec<_>>(),
    });
    println!("{result}");
    let fmt = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1} ms", millis(d)));
    println!(
        "sync-load-taccuino{}: {} devices x {} records -> {} synced ({} failed) in {:.3} s, \
         {}/{} projected{}: {}; per-device p50 {}, p99 {}, max {}; server peak RSS {}",
        if o.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", o.label)
        },
        devices,
        file.records_per_device,
        outcomes.len(),
        failed,
        synced_wall.as_secs_f64(),
        projected_new,
        expected_new,
        projected_wall.map_or(" (not all)".to_owned(), |p| format!(
            " at {:.3} s",
            p.as_secs_f64()
        )),
        records_per_s.map_or("-".to_owned(), |r| format!("{r:.0} records/s")),
        fmt(percentile(&times, 50.0)),
        fmt(percentile(&times, 99.0)),
        fmt(percentile(&times, 100.0)),
        peaks.hwm_kib.map_or("not measured".to_owned(), |k| format!(
            "{:.1} MiB",
            rss::mib(k)
        )),
    );
    for (e, n) in &kinds {
        println!("  {n} x {e}");
    }
    Ok(all_ok)
}
