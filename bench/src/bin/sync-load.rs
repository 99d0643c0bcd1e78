//! `sync-load`: N simulated devices reconnect at once, each with M offline records in its own
//! diary, and sync them to an automerge-repo 2.x sync server (ours or the reference JS one).
//! Prints one JSON line and a human summary. Loopback `ws://` targets only. See BENCHMARKS.md.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use automerge::sync;
use chrono::{DateTime, Utc};
use clap::Parser;
use serde_json::json;
use taccuino_bench::device::{Endpoint, FirstMessage};
use taccuino_bench::stats::{millis, percentile};
use taccuino_bench::storm::{Collected, Ready, Storm, error_kinds};
use taccuino_bench::target::parse_loopback_url;
use taccuino_bench::workload::make_device_doc;
use taccuino_bench::{rss, workload};
use tokio::sync::watch;

/// Upper bounds that keep a mistyped command from becoming an unbounded load test.
const MAX_DEVICES: usize = 20_000;
const MAX_RECORDS: usize = 10_000;

#[derive(Debug, Parser)]
#[command(name = "sync-load", version, about)]
struct Args {
    /// The sync endpoint, e.g. ws://127.0.0.1:3030 (loopback only; a `?ticket=` query is kept).
    #[arg(long)]
    url: String,
    /// How many devices reconnect at once.
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// Offline records per device (one automerge change each, in the device's own diary).
    #[arg(long, default_value_t = 10)]
    records: usize,
    /// Seconds each device may take to be fully synced; the whole run stops after about twice
    /// this.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// PID of the server process: its peak RSS (VmHWM) is sampled every 50 ms.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Message type of each device's first sync message.
    #[arg(long, value_enum, default_value_t = FirstMessage::Sync)]
    first_message: FirstMessage,
    /// Write one JSON line per synced device (document id, URL, records, heads) here, for
    /// checking the server's storage afterwards.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// A name for this run, copied into the JSON result (e.g. "reference", "sqlite").
    #[arg(long, default_value = "")]
    label: String,
}

fn main() {
    let args = Args::parse();
    match try_main(args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("sync-load: {e:#}");
            std::process::exit(2);
        }
    }
}

/// `Ok(false)` when some device did not sync.
fn try_main(args: Args) -> anyhow::Result<bool> {
    let target = parse_loopback_url(&args.url)?;
    if args.devices == 0 || args.devices > MAX_DEVICES {
        bail!("--devices must be 1..={MAX_DEVICES}");
    }
    if args.records == 0 || args.records > MAX_RECORDS {
        bail!("--records must be 1..={MAX_RECORDS}");
    }
    if args.timeout_secs == 0 || args.timeout_secs > 3600 {
        bail!("--timeout-secs must be 1..=3600");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(run(args, target.url))
}

async fn run(args: Args, url: String) -> anyhow::Result<bool> {
    let base: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-02T08:00:00Z")
        .context("base date")?
        .with_timezone(&Utc);

    // The devices' offline state, made before the clock starts.
    let prep_start = std::time::Instant::now();
    let mut docs: Vec<workload::DeviceDoc> = Vec::with_capacity(args.devices);
    for _ in 0..args.devices {
        docs.push(make_device_doc(args.records, base)?);
    }
    let prep = prep_start.elapsed();

    let (stop_rss, stop_rss_rx) = watch::channel(false);
    let rss_task = args.server_pid.map(|pid| {
        tokio::spawn(rss::sample_peak(
            pid,
            Duration::from_millis(50),
            stop_rss_rx,
        ))
    });
    let rss_before = args.server_pid.and_then(rss::read_peak_kib);

    let cpu_before = rss::own_cpu_time();
    let server_cpu_before = args.server_pid.and_then(rss::process_cpu_time);
    let timeout = Duration::from_secs(args.timeout_secs);
    let ready = docs
        .into_iter()
        .map(|doc| Ready {
            endpoint: Endpoint::anonymous(&url),
            doc,
            state: sync::State::new(),
        })
        .collect();
    let mut storm = Storm::start(ready, args.first_message, timeout).await;
    let Collected {
        outcomes,
        errors,
        wall,
    } = storm.collect().await;
    // The generator's own CPU over the storm: near the wall time means it was the bottleneck.
    let generator_cpu = rss::own_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let server_cpu = args
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
    let peak_kib = peaks.hwm_kib;

    if let Some(path) = &args.manifest {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for o in &outcomes {
            let heads: Vec<String> = o.heads.iter().map(|h| h.to_string()).collect();
            writeln!(
                out,
                "{}",
                json!({
                    "document_id": o.document_id.to_string(),
                    "url": o.document_id.to_url(),
                    "records": o.records,
                    "heads": heads,
                })
            )?;
        }
        out.flush()?;
    }

    let times: Vec<Duration> = outcomes.iter().map(|o| o.elapsed).collect();
    let joins: Vec<Duration> = outcomes.iter().map(|o| o.joined_after).collect();
    let synced_records: usize = outcomes.iter().map(|o| o.records).sum();
    let ms = |d: Option<Duration>| d.map(|d| (millis(d) * 10.0).round() / 10.0);
    let records_per_s = synced_records as f64 / wall.as_secs_f64();
    let failed = args.devices - outcomes.len();
    let error_kinds = error_kinds(&errors);
    let result = json!({
        "tool": "sync-load",
        "label": args.label,
        "url": url,
        "devices": args.devices,
        "records_per_device": args.records,
        "records": args.devices * args.records,
        "devices_synced": outcomes.len(),
        "devices_failed": failed,
        "records_synced": synced_records,
        "first_message": format!("{:?}", args.first_message).to_lowercase(),
        "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
        "records_per_s": records_per_s.round(),
        "device_sync_ms": {
            "p50": ms(percentile(&times, 50.0)),
            "p99": ms(percentile(&times, 99.0)),
            "max": ms(percentile(&times, 100.0)),
        },
        "join_ms": { "p50": ms(percentile(&joins, 50.0)), "p99": ms(percentile(&joins, 99.0)) },
        "sync_messages_sent": outcomes.iter().map(|o| u64::from(o.sync_sent)).sum::<u64>(),
        "sync_messages_received": outcomes.iter().map(|o| u64::from(o.sync_received)).sum::<u64>(),
        "bytes_sent": outcomes.iter().map(|o| o.bytes_sent).sum::<u64>(),
        "bytes_received": outcomes.iter().map(|o| o.bytes_received).sum::<u64>(),
        "server_pid": args.server_pid,
        "server_rss_before_mib": rss_before.map(rss::mib),
        "server_peak_rss_mib": peak_kib.map(rss::mib),
        "server_rss_max_sampled_mib": peaks.rss_max_kib.map(rss::mib),
        "server_cpu_s": server_cpu.map(|d| d.as_secs_f64()),
        "generator_cpu_s": generator_cpu.map(|d| d.as_secs_f64()),
        "prepare_s": (prep.as_secs_f64() * 1000.0).round() / 1000.0,
        "errors": error_kinds.iter().map(|(k, n)| json!({"error": k, "count": n})).collect::<Vec<_>>(),
    });
    println!("{result}");

    let fmt = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1} ms", millis(d)));
    println!(
        "sync-load{}: {} devices x {} records -> {} devices synced ({} failed) in {:.3} s: \
         {:.0} records/s; per-device connect-to-synced p50 {}, p99 {}, max {}; server peak RSS {}",
        if args.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", args.label)
        },
        args.devices,
        args.records,
        outcomes.len(),
        failed,
        wall.as_secs_f64(),
        records_per_s,
        fmt(percentile(&times, 50.0)),
        fmt(percentile(&times, 99.0)),
        fmt(percentile(&times, 100.0)),
        peak_kib.map_or("not measured (no --server-pid)".to_owned(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        )),
    );
    for (e, n) in &error_kinds {
        println!("  {n} x {e}");
    }
    Ok(failed == 0)
}
