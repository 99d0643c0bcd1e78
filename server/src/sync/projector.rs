//! The task that keeps `service_records` within a second of the diaries: it takes the ids of
//! changed documents, reads each diary once however many changes queued, and projects a batch
//! of diaries per transaction. A batch that fails is retried one diary at a time, so one bad
//! diary cannot hold the others back; a diary that still fails is retried later.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use taccuino_sync::{DocumentKind, protocol::DocumentId, schema::DiaryView};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::error::SyncError;
use super::hub::Hub;
use super::projection::{Mode, Projected, project_diaries};
use super::registry::{self, DocumentEntry};
use super::storage;
use super::writes::mirror_reviews;
use crate::domain::service_record::RecordSource;

/// Most diaries projected in one transaction.
const BATCH: usize = 256;
/// Wait before retrying a diary whose projection failed.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Starts the projector on the current runtime, running up to `workers` batches at once (on
/// PostgreSQL each batch has its own connection; SQLite has one writer, so one). A diary is
/// never in two batches at once: a later change of a diary being projected waits for that
/// batch, so batches cannot write an older state over a newer one.
pub fn spawn(
    db: DatabaseConnection,
    hub: Hub,
    workers: usize,
    retry: mpsc::UnboundedSender<DocumentId>,
    mut changed: mpsc::UnboundedReceiver<DocumentId>,
) {
    let workers = workers.max(1);
    tokio::spawn(async move {
        let mut pending: HashSet<DocumentId> = HashSet::new();
        let mut in_flight: HashSet<DocumentId> = HashSet::new();
        let mut running: JoinSet<(Vec<DocumentId>, Vec<DocumentId>)> = JoinSet::new();
        loop {
            tokio::select! {
                received = changed.recv() => {
                    let Some(id) = received else { break };
                    pending.insert(id);
                    while let Ok(id) = changed.try_recv() {
                        pending.insert(id);
                    }
                }
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Ok((batch, failed)) = done {
                        for id in &batch {
                            in_flight.remove(id);
                        }
                        retry_later(&retry, failed);
                    }
                }
            }
            let ready = pending.iter().filter(|id| !in_flight.contains(id)).count();
            let share = ready.div_ceil(workers).clamp(1, BATCH);
            while running.len() < workers {
                let batch: Vec<DocumentId> = pending
                    .iter()
                    .filter(|id| !in_flight.contains(id))
                    .take(share)
                    .copied()
                    .collect();
                if batch.is_empty() {
                    break;
                }
                for id in &batch {
                    pending.remove(id);
                    in_flight.insert(*id);
                }
                let (db, hub) = (db.clone(), hub.clone());
                running.spawn(async move {
                    let failed = project(&db, &hub, batch.iter().copied().collect()).await;
                    (batch, failed)
                });
            }
        }
    });
}

fn retry_later(retry: &mpsc::UnboundedSender<DocumentId>, failed: Vec<DocumentId>) {
    if failed.is_empty() {
        return;
    }
    let retry = retry.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RETRY_AFTER).await;
        for id in failed {
            let _ = retry.send(id);
        }
    });
}

/// Projects the diaries among `ids`; returns those that failed.
async fn project(db: &DatabaseConnection, hub: &Hub, ids: HashSet<DocumentId>) -> Vec<DocumentId> {
    let diaries = match read(db, &ids).await {
        Ok(diaries) => diaries,
        Err(e) => {
            tracing::error!(error = %e, "projection: reading diaries failed");
            return ids.into_iter().collect();
        }
    };
    if diaries.is_empty() {
        return Vec::new();
    }
    let mut failed = Vec::new();
    let mut amended = Vec::new();
    match write(db, &diaries).await {
        Ok(done) => amended = done.amended,
        Err(_) => {
            for diary in diaries {
                match write(db, std::slice::from_ref(&diary)).await {
                    Ok(done) => amended.extend(done.amended),
                    Err(e) => {
                        tracing::error!(document = %diary.entry.id, error = %e, "projection failed; will retry");
                        failed.push(diary.entry.id);
                    }
                }
            }
        }
    }
    // The device shows each record's review from the plan document: an amended record must
    // show as back in review there too.
    if !amended.is_empty()
        && let Err(e) = mirror_reviews(db, hub, &amended).await
    {
        tracing::error!(records = amended.len(), error = %e, "mirroring amendments failed");
    }
    failed
}

/// A diary as stored (not as in memory, where a change may be stored but not yet applied),
/// with the last chunk it covers.
struct StoredDiary {
    entry: DocumentEntry,
    view: DiaryView,
    last_chunk: i64,
}

async fn read(
    db: &DatabaseConnection,
    ids: &HashSet<DocumentId>,
) -> Result<Vec<StoredDiary>, SyncError> {
    let entries: HashMap<Uuid, DocumentEntry> =
        registry::find_many(db, ids.iter().map(DocumentId::to_uuid))
            .await?
            .into_iter()
            .filter(|e| e.kind == DocumentKind::Diary)
            .map(|e| (e.id.to_uuid(), e))
            .collect();
    let ids: Vec<Uuid> = entries.keys().copied().collect();
    let mut diaries = Vec::new();
    for (id, stored) in storage::load_many(db, &ids).await? {
        let Some(entry) = entries.get(&id) else {
            continue;
        };
        match stored.and_then(|s| {
            DiaryView::read(&s.doc)
                .map(|view| (view, s.last_chunk))
                .map_err(|e| SyncError::schema(id, e))
        }) {
            Ok((view, last_chunk)) => diaries.push(StoredDiary {
                entry: *entry,
                view,
                last_chunk,
            }),
            // Nothing to retry: the same bytes will not read better later.
            Err(e) => {
                tracing::error!(document = %entry.id, error = %e, "projection: unreadable diary")
            }
        }
    }
    Ok(diaries)
}

async fn write(db: &DatabaseConnection, diaries: &[StoredDiary]) -> Result<Projected, SyncError> {
    let txn = db.begin().await?;
    let views: Vec<(&DocumentEntry, &DiaryView)> =
        diaries.iter().map(|d| (&d.entry, &d.view)).collect();
    let done = project_diaries(&txn, &views, RecordSource::Sync, Utc::now(), Mode::Live).await?;
    let seen: Vec<(DocumentId, i64)> = diaries.iter().map(|d| (d.entry.id, d.last_chunk)).collect();
    registry::mark_projected(&txn, &seen).await?;
    txn.commit().await?;
    Ok(done)
}
