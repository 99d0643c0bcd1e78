//! The task that keeps `service_records` within a second of the diaries: it takes the ids of
//! changed documents, reads each diary once however many changes queued, and projects a batch
//! of diaries per transaction. A batch that fails is retried one diary at a time, so one bad
//! diary cannot hold the others back; a diary that still fails is retried later.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use taccuino_sync::{DocumentKind, protocol::DocumentId, schema::DiaryView};
use tokio::sync::mpsc;

use super::error::SyncError;
use super::hub::Hub;
use super::projection::{Mode, Projected, project_diary};
use super::registry::{self, DocumentEntry};
use super::storage;
use super::writes::mirror_review;
use crate::domain::service_record::RecordSource;

/// Most diaries projected in one transaction.
const BATCH: usize = 256;
/// Wait before retrying a diary whose projection failed.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Starts the projector on the current runtime.
pub fn spawn(
    db: DatabaseConnection,
    hub: Hub,
    retry: mpsc::UnboundedSender<DocumentId>,
    mut changed: mpsc::UnboundedReceiver<DocumentId>,
) {
    tokio::spawn(async move {
        while let Some(first) = changed.recv().await {
            let mut ids = HashSet::from([first]);
            while ids.len() < BATCH {
                match changed.try_recv() {
                    Ok(id) => {
                        ids.insert(id);
                    }
                    Err(_) => break,
                }
            }
            let failed = project(&db, &hub, ids).await;
            if !failed.is_empty() {
                let retry = retry.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY_AFTER).await;
                    for id in failed {
                        let _ = retry.send(id);
                    }
                });
            }
        }
    });
}

/// Projects the diaries among `ids`; returns those that failed.
async fn project(db: &DatabaseConnection, hub: &Hub, ids: HashSet<DocumentId>) -> Vec<DocumentId> {
    let entries = match registry::find_many(db, ids.iter().map(DocumentId::to_uuid)).await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(error = %e, "projection: registry lookup failed");
            return ids.into_iter().collect();
        }
    };
    let mut diaries = Vec::new();
    for entry in entries
        .into_iter()
        .filter(|e| e.kind == DocumentKind::Diary)
    {
        match read(db, entry.id).await {
            Ok(Some((view, last_chunk))) => diaries.push((entry, view, last_chunk)),
            Ok(None) => {}
            Err(e) => tracing::error!(document = %entry.id, error = %e, "projection: read failed"),
        }
    }
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
                        tracing::error!(document = %diary.0.id, error = %e, "projection failed; will retry");
                        failed.push(diary.0.id);
                    }
                }
            }
        }
    }
    // The device shows each record's review from the plan document: an amended record must
    // show as back in review there too.
    for record in amended {
        if let Err(e) = mirror_review(db, hub, record).await {
            tracing::error!(record = %record, error = %e, "mirroring an amendment failed");
        }
    }
    failed
}

/// Reads a diary as stored (not as in memory, where a change may be stored but not yet
/// applied), with the last chunk it covers.
async fn read(
    db: &DatabaseConnection,
    id: DocumentId,
) -> Result<Option<(DiaryView, i64)>, SyncError> {
    let Some(stored) = storage::load(db, id.to_uuid()).await? else {
        return Ok(None);
    };
    let view = DiaryView::read(&stored.doc).map_err(|e| SyncError::schema(id.to_uuid(), e))?;
    Ok(Some((view, stored.last_chunk)))
}

async fn write(
    db: &DatabaseConnection,
    diaries: &[(DocumentEntry, DiaryView, i64)],
) -> Result<Projected, SyncError> {
    let txn = db.begin().await?;
    let now = Utc::now();
    let mut total = Projected::default();
    for (entry, view, last_chunk) in diaries {
        total += project_diary(&txn, entry, view, RecordSource::Sync, now, Mode::Live).await?;
        registry::mark_projected(&txn, entry.id, *last_chunk).await?;
    }
    txn.commit().await?;
    Ok(total)
}
