//! Records created or corrected over REST (vendors, coordinators at a desk) are written into
//! the operator's diary in the same transaction as their row, so the diary stays the single
//! source of truth of what was recorded and the device sees the record on its next sync.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use taccuino_sync::{
    DocumentKind,
    schema::{DiaryRecord, new_diary, upsert_record},
};
use uuid::Uuid;

use super::error::SyncError;
use super::hub::{Hub, ServerWrite};
use super::mapping::fields_of;
use super::{registry, storage};
use crate::domain::record_content::Content;

/// A diary locked for a REST write. Take it before the transaction begins (see
/// [`super::hub`]), write with [`DiaryWrite::record`] inside it, and call
/// [`DiaryWrite::committed`] after the commit.
#[derive(Debug)]
pub struct DiaryWrite {
    write: Option<ServerWrite>,
    care_plan_id: Uuid,
    operator_id: Uuid,
}

impl DiaryWrite {
    /// Locks the diary of `operator_id` on `care_plan_id` (if it exists yet).
    pub async fn lock(
        db: &impl ConnectionTrait,
        hub: &Hub,
        care_plan_id: Uuid,
        operator_id: Uuid,
    ) -> Result<Self, SyncError> {
        let write = match registry::diary_document(db, care_plan_id, operator_id).await? {
            Some(id) => Some(hub.begin_write(id).await?),
            None => None,
        };
        Ok(Self {
            write,
            care_plan_id,
            operator_id,
        })
    }

    /// Writes record `id` with `content` into the diary, inside `txn`. A record already in
    /// the diary keeps the time its device recorded it.
    pub async fn record(
        &mut self,
        txn: &impl ConnectionTrait,
        id: Uuid,
        content: &Content,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        match &mut self.write {
            Some(write) => {
                let recorded_at = DiaryRecord::read(write.doc()?, id)
                    .ok()
                    .flatten()
                    .map_or(now, |r| r.fields.recorded_at);
                upsert_record(write.doc()?, id, &fields_of(content, recorded_at))
                    .map_err(|e| SyncError::schema(id, e))?;
                if let Some(chunk) = write.chunk() {
                    storage::append(txn, vec![chunk]).await?;
                }
            }
            None => {
                let mut doc = new_diary(self.care_plan_id, self.operator_id)
                    .map_err(|e| SyncError::schema(id, e))?;
                upsert_record(&mut doc, id, &fields_of(content, now))
                    .map_err(|e| SyncError::schema(id, e))?;
                registry::create(
                    txn,
                    DocumentKind::Diary,
                    self.care_plan_id,
                    Some(self.operator_id),
                    &mut doc,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The transaction committed: tell the devices syncing the diary.
    pub fn committed(self) {
        if let Some(write) = self.write {
            write.committed();
        }
    }
}
