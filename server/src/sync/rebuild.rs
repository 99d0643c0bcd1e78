//! `taccuino rebuild-projections`: recomputes `service_records` from the diaries as stored.
//!
//! Everything a row says about the service (times, quantities, places, notes, the missed
//! flag) is rebuilt from the documents, and rows no diary holds are removed. What the server
//! owns (review outcomes, first reception time, source) is kept by record id: reviews are the
//! server's own data, mirrored into plan documents, not derived from them.

use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use taccuino_sync::schema::DiaryView;

use super::error::SyncError;
use super::projection::{Mode, Projected, project_diary};
use super::{registry, storage};
use crate::domain::service_record::RecordSource;

/// Rebuilds the projection of every diary, one transaction per diary.
pub async fn rebuild_projections(db: &DatabaseConnection) -> Result<Projected, SyncError> {
    let mut total = Projected::default();
    for entry in registry::all_diaries(db).await? {
        let Some(stored) = storage::load(db, entry.id.to_uuid()).await? else {
            continue;
        };
        let view =
            DiaryView::read(&stored.doc).map_err(|e| SyncError::schema(entry.id.to_uuid(), e))?;
        let txn = db.begin().await?;
        total += project_diary(
            &txn,
            &entry,
            &view,
            RecordSource::Sync,
            Utc::now(),
            Mode::Rebuild,
        )
        .await?;
        registry::mark_projected(&txn, &[(entry.id, stored.last_chunk)]).await?;
        txn.commit().await?;
    }
    Ok(total)
}
