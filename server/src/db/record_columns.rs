//! How a record's [`Content`] maps onto a `service_records` row.

use sea_orm::Set;

use crate::{
    db::entities::service_record,
    domain::{record_content::Content, service_record::MissedReason},
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
