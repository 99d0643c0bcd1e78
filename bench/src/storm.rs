//! The reconnect storm shared by both modes: every device waits for one start signal, then
//! connects and syncs ([`crate::device::run_device`]); the outcomes are collected until every
//! device reported or the run's deadline passed. Devices stay connected until
//! [`Storm::release`], as real devices stay online.

use std::time::Duration;

use automerge::sync;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::device::{DeviceOutcome, Endpoint, FirstMessage, run_device};
use crate::workload::DeviceDoc;

/// One device ready to reconnect: where, its document, and its sync state.
#[derive(Debug)]
pub struct Ready {
    /// Where it connects and as whom.
    pub endpoint: Endpoint,
    /// Its local diary.
    pub doc: DeviceDoc,
    /// The sync state it starts from.
    pub state: sync::State,
}

/// A started storm.
#[derive(Debug)]
pub struct Storm {
    /// When the start signal was given.
    pub start: Instant,
    devices: usize,
    timeout: Duration,
    done: mpsc::UnboundedReceiver<anyhow::Result<DeviceOutcome>>,
    release: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the devices reported.
#[derive(Debug, Default)]
pub struct Collected {
    /// The devices that were fully synced.
    pub outcomes: Vec<DeviceOutcome>,
    /// One entry per device that failed (or "run deadline passed" once).
    pub errors: Vec<String>,
    /// From the start signal to the last outcome.
    pub wall: Duration,
}

impl Storm {
    /// Spawns every device, waiting on one signal, and gives it 200 ms after the last spawn
    /// (so that spawning is not part of the storm). Each device has `timeout` to be synced.
    pub async fn start(devices: Vec<Ready>, first: FirstMessage, timeout: Duration) -> Self {
        let count = devices.len();
        let (go, go_rx) = watch::channel(false);
        let (release, release_rx) = watch::channel(false);
        let (done_tx, done) = mpsc::unbounded_channel();
        let mut tasks = Vec::with_capacity(count);
        for ready in devices {
            let mut go_rx = go_rx.clone();
            let release_rx = release_rx.clone();
            let done_tx = done_tx.clone();
            tasks.push(tokio::spawn(async move {
                // Every device waits for the same signal, so they reconnect at once.
                if go_rx.wait_for(|g| *g).await.is_err() {
                    return;
                }
                let now = Instant::now();
                run_device(
                    ready.endpoint,
                    ready.doc,
                    ready.state,
                    first,
                    now + timeout,
                    now + 2 * timeout,
                    release_rx,
                    done_tx,
                )
                .await;
            }));
        }
        drop(done_tx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        go.send_replace(true);
        Self {
            start,
            devices: count,
            timeout,
            done,
            release,
            tasks,
        }
    }

    /// Waits until every device reported, or the timeout (plus 5 s) passed.
    pub async fn collect(&mut self) -> Collected {
        let mut got = Collected::default();
        let deadline = self.start + self.timeout + Duration::from_secs(5);
        while got.outcomes.len() + got.errors.len() < self.devices {
            match tokio::time::timeout_at(deadline, self.done.recv()).await {
                Ok(Some(Ok(outcome))) => got.outcomes.push(outcome),
                Ok(Some(Err(e))) => got.errors.push(format!("{e:#}")),
                Ok(None) => break,
                Err(_) => {
                    got.errors.push("run deadline passed".to_owned());
                    break;
                }
            }
        }
        got.wall = self.start.elapsed();
        got
    }

    /// Lets the devices close their connections, and waits (at most 5 s each) for them.
    pub async fn release(self) {
        self.release.send_replace(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// The errors grouped by text, most frequent first.
pub fn error_kinds(errors: &[String]) -> Vec<(String, usize)> {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for e in errors {
        match kinds.iter_mut().find(|(k, _)| k == e) {
            Some((_, n)) => *n += 1,
            None => kinds.push((e.clone(), 1)),
        }
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_grouped() {
        let errors = vec!["a".to_owned(), "b".to_owned(), "b".to_owned()];
        assert_eq!(
            error_kinds(&errors),
            vec![("b".to_owned(), 2), ("a".to_owned(), 1)]
        );
        assert!(error_kinds(&[]).is_empty());
    }
}
