//! How a record's [`Content`] maps onto a `service_records` row.

use sea_orm::Set;

use crate::{
    db::entities::service_record,
    domain::{
        record_content::Content,
        service_record::{MissedReason, ServiceUnit},
    },
};

/// Reading and writing a record's content in its row.
pub trait RecordColumns {
    /// Whether `m` stores exactly this content with `quantity_milli`.
    fn matches(&self, m: &service_record::Model, quantity_milli: i64) -> bool;
    /// Writes the content and its quantity into `changes`.
    fn apply(self, quantity_milli: i64, changes: &mut service_record::ActiveModel);
}

impl RecordColumns for Content {
    fn matches(&self, m: &service_record::Model, quantity_milli: i64) -> bool {
        self.service_type_id == m.service_type_id
            && self.started_at == m.started_at
            && self.ended_at == m.ended_at
            && quantity_milli == m.quantity_milli
            && self.km_milli == m.km_milli
            && self.origin == m.origin
            && self.destination == m.destination
            && self.latitude == m.latitude
            && self.longitude == m.longitude
            && self.notes == m.notes
            && self.missed == m.missed
            && self.missed_reason.map(MissedReason::as_str) == m.missed_reason.as_deref()
    }

    fn apply(self, quantity_milli: i64, changes: &mut service_record::ActiveModel) {
        changes.service_type_id = Set(self.service_type_id);
        changes.started_at = Set(self.started_at);
        changes.ended_at = Set(self.ended_at);
        changes.quantity_milli = Set(quantity_milli);
        changes.km_milli = Set(self.km_milli);
        changes.origin = Set(self.origin);
        changes.destination = Set(self.destination);
        changes.latitude = Set(self.latitude);
        changes.longitude = Set(self.longitude);
        changes.notes = Set(self.notes);
        changes.missed = Set(self.missed);
        changes.missed_reason = Set(self.missed_reason.map(|r| r.as_str().to_owned()));
    }
}

/// The content a row states. The row keeps only the resulting quantity: it was explicit when
/// it differs from the one the record's own values give.
pub fn content_of_row(row: &service_record::Model, unit: ServiceUnit) -> Content {
    let mut content = Content {
        service_type_id: row.service_type_id,
        started_at: row.started_at,
        ended_at: row.ended_at,
        quantity_milli: None,
        km_milli: row.km_milli,
        origin: row.origin.clone(),
        destination: row.destination.clone(),
        latitude: row.latitude,
        longitude: row.longitude,
        notes: row.notes.clone(),
        missed: row.missed,
        missed_reason: row.missed_reason.as_deref().and_then(MissedReason::parse),
    };
    let derived = content.check(unit, &mut Vec::new());
    if derived != Some(row.quantity_milli) {
        content.quantity_milli = Some(row.quantity_milli);
    }
    content
}
