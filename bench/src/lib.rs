//! Benchmark tooling for Taccuino (BENCHMARKS.md).
//!
//! - [`target`]: the only URLs the load generators will talk to (loopback, plain `ws://` and
//!   `http://`).
//! - [`stats`]: percentiles and the run summary.
//! - [`workload`]: the offline diaries the simulated devices bring.
//! - [`device`]: one simulated device's reconnect and sync, over the automerge-repo protocol
//!   as `taccuino_sync::protocol` encodes it.
//! - [`storm`]: N devices reconnecting at once, and collecting what they measured.
//! - [`rest`] + [`taccuino`]: the Taccuino mode's setup over the REST API (plans, diaries,
//!   devices, tickets) and its state file.
//! - [`rss`]: sampling a server process's resident memory and CPU time from `/proc`.

pub mod device;
pub mod rest;
pub mod rss;
pub mod stats;
pub mod storm;
pub mod taccuino;
pub mod target;
pub mod workload;
