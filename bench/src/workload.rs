//! What each simulated device brings back online: its own diary document, made with the same
//! schema writers as the server (`taccuino_sync::schema`), holding `records` records written
//! offline, one automerge change per record as a device would commit them.

use anyhow::Context;
use automerge::AutoCommit;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use taccuino_sync::protocol::DocumentId;
use taccuino_sync::schema::{RecordFields, new_diary, upsert_record};
use uuid::Uuid;

/// One device's offline state.
#[derive(Debug)]
pub struct DeviceDoc {
    /// The diary's document id (a fresh v4 UUID, as automerge-repo makes them).
    pub document_id: DocumentId,
    /// The diary with its records.
    pub doc: AutoCommit,
    /// How many records it holds.
    pub records: usize,
}

/// A diary with `records` records, each with the scalar fields a real visit has (service
/// type, start and end, quantity, recorded-at) and the empty `notes` Text the writer creates.
/// `base` fixes the timestamps so runs are comparable.
pub fn make_device_doc(records: usize, base: DateTime<Utc>) -> anyhow::Result<DeviceDoc> {
    let mut doc = new_diary(Uuid::new_v4(), Uuid::new_v4()).context("new diary")?;
    doc.commit();
    add_records(&mut doc, records, Uuid::new_v4(), base)?;
    Ok(DeviceDoc {
        document_id: DocumentId::from(Uuid::new_v4()),
        doc,
        records,
    })
}

/// Writes `records` new records into diary `doc` offline, one automerge change each: visits
/// of `service_type_id` of one hour, 90 minutes apart from `base`, quantity 1, recorded a
/// minute after they end, empty notes (valid for the projection when the service type is one
/// of the plan's municipality, counted in hours).
pub fn add_records(
    doc: &mut AutoCommit,
    records: usize,
    service_type_id: Uuid,
    base: DateTime<Utc>,
) -> anyhow::Result<()> {
    for i in 0..records {
        let offset = i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(90);
        let started_at = base + ChronoDuration::minutes(offset);
        let fields = RecordFields {
            service_type_id,
            started_at,
            ended_at: Some(started_at + ChronoDuration::minutes(60)),
            quantity: Some(1.0),
            km: None,
            origin: None,
            destination: None,
            position: None,
            notes: String::new(),
            missed: false,
            missed_reason: None,
            recorded_at: started_at + ChronoDuration::minutes(61),
        };
        upsert_record(doc, Uuid::new_v4(), &fields).context("upsert record")?;
        doc.commit();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use taccuino_sync::schema::DiaryView;

    #[test]
    fn diary_has_the_records_one_change_each() {
        let base = DateTime::parse_from_rfc3339("2026-11-02T08:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let mut dev = make_device_doc(10, base).expect("doc");
        let view = DiaryView::read(&dev.doc).expect("reads as a diary");
        assert_eq!(view.records.len(), 10);
        assert!(view.problems.is_empty());
        // One change for the header, one per record.
        assert_eq!(dev.doc.get_changes(&[]).len(), 11);
        assert_eq!(dev.doc.get_heads().len(), 1);
        assert_eq!(dev.records, 10);
    }
}
