//! The provider-editable content of a service record and its check, shared by the REST
//! handlers and the sync projection (a diary record becomes the same content).

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::{
    FieldError,
    service_record::{MissedReason, RecordDraft, ServiceUnit, check_record},
};

/// Longest origin or destination of a transport.
pub const PLACE_MAX: usize = 300;
/// Longest free text (notes, review notes).
pub const NOTE_MAX: usize = 2000;

/// The provider-editable content of a record, after merging and trimming.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub service_type_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Explicit quantity, when stated.
    pub quantity_milli: Option<i64>,
    pub km_milli: Option<i64>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub notes: Option<String>,
    pub missed: bool,
    pub missed_reason: Option<MissedReason>,
}

impl Content {
    /// Checks the content against the rules of `unit`, returning the quantity to store.
    pub fn check(&self, unit: ServiceUnit, errors: &mut Vec<FieldError>) -> Option<i64> {
        if !self.missed && self.missed_reason.is_some() {
            errors.push(FieldError::new(
                "missed_reason",
                "only a missed visit has a reason",
            ));
        }
        let draft = RecordDraft {
            unit,
            started_at: self.started_at,
            ended_at: self.ended_at,
            quantity_milli: self.quantity_milli,
            km_milli: self.km_milli,
            missed: self.missed,
            latitude: self.latitude,
            longitude: self.longitude,
        };
        check_record(&draft).map_err(|e| errors.extend(e)).ok()
    }
}

/// Timestamps are stored with microseconds (PostgreSQL's precision), so that a record read
/// back, or a retried create, compares equal to what was stored.
pub fn instant(value: DateTime<Utc>) -> DateTime<Utc> {
    value.trunc_subsecs(6)
}
