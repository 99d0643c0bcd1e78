//! Benchmark tooling for Taccuino (BENCHMARKS.md).
//!
//! - [`target`]: the only URLs the load generator will talk to (loopback, plain `ws://`).
//! - [`stats`]: percentiles and the run summary.
//! - [`workload`]: the offline diaries the simulated devices bring.
//! - [`device`]: one simulated device's reconnect and sync, over the automerge-repo protocol
//!   as `taccuino_sync::protocol` encodes it.
//! - [`rss`]: sampling a server process's resident memory from `/proc`.

pub mod device;
pub mod rss;
pub mod stats;
pub mod target;
pub mod workload;
