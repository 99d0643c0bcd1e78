//! Rules about service records (prestazioni): units, quantities, and the review lifecycle.

use chrono::{DateTime, Utc};

use super::{FieldError, values::MILLI};

wire_enum!(
    /// The unit a service type is counted and paid in.
    ServiceUnit {
        /// Hours of presence (SAD, ADM).
        Hour => "hour",
        /// One transport, whatever its length.
        Trip => "trip",
        /// Kilometres driven.
        Km => "km",
        /// One access (a visit paid as a whole).
        Access => "access",
    }
);

wire_enum!(
    /// Where a record is in its review.
    RecordStatus {
        /// Recorded by the provider, waiting for review.
        Recorded => "recorded",
        /// Accepted by the municipality.
        Validated => "validated",
        /// Refused by the municipality, with a reason.
        Rejected => "rejected",
        /// The municipality asks the provider for details.
        ClarificationRequested => "clarification_requested",
        /// Changed after a review; waiting for review again.
        Amended => "amended",
    }
);

wire_enum!(
    /// Why a planned visit did not take place.
    MissedReason {
        /// Nobody at home.
        BeneficiaryAbsent => "beneficiary_absent",
        /// The beneficiary refused the service.
        BeneficiaryRefused => "beneficiary_refused",
        /// In hospital or residential care.
        BeneficiaryHospitalized => "beneficiary_hospitalized",
        /// The provider could not send an operator.
        OperatorUnavailable => "operator_unavailable",
        /// Explained in the notes.
        Other => "other",
    }
);

wire_enum!(
    /// Why a reviewer rejected a record or asked for clarification.
    ReviewReason {
        /// Quantity or duration does not match what was planned or plausible.
        QuantityMismatch => "quantity_mismatch",
        /// The service is not part of the plan.
        NotInPlan => "not_in_plan",
        /// The same service was recorded twice.
        Duplicate => "duplicate",
        /// Information needed to verify the record is missing.
        MissingInformation => "missing_information",
        /// Explained in the note.
        Other => "other",
    }
);

wire_enum!(
    /// How a record reached the server.
    RecordSource {
        /// Sent through the REST API.
        Api => "api",
        /// Created by the demo data loader.
        Demo => "demo",
        /// Synchronized from an operator's device.
        Sync => "sync",
    }
);

/// A review decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    /// The record is correct and will be paid.
    Validate,
    /// The record will not be paid (reason required).
    Reject,
    /// The provider must explain (reason required).
    RequestClarification,
    /// Undo a decision (before the month is locked).
    Reopen,
}

impl ReviewAction {
    /// The status a record moves to, or `None` when the decision does not apply to `from`.
    pub fn apply(self, from: RecordStatus) -> Option<RecordStatus> {
        use RecordStatus::*;
        match (self, from) {
            (Self::Validate, Recorded | Amended | ClarificationRequested) => Some(Validated),
            (Self::Reject, Recorded | Amended | ClarificationRequested) => Some(Rejected),
            (Self::RequestClarification, Recorded | Amended) => Some(ClarificationRequested),
            (Self::Reopen, Validated | Rejected | ClarificationRequested) => Some(Recorded),
            _ => None,
        }
    }

    /// Whether the decision needs a reason code and a note.
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Reject | Self::RequestClarification)
    }
}

/// The status after the provider edits a record: an edit never silently keeps a review
/// outcome (DESIGN.md §4), so a reviewed record goes back to review as `amended`.
pub fn status_after_edit(current: RecordStatus) -> RecordStatus {
    match current {
        RecordStatus::Recorded => RecordStatus::Recorded,
        _ => RecordStatus::Amended,
    }
}

/// What the provider says happened, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDraft {
    pub unit: ServiceUnit,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Thousandths of the unit, when stated explicitly.
    pub quantity_milli: Option<i64>,
    /// Thousandths of a km, for transports.
    pub km_milli: Option<i64>,
    pub missed: bool,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Checks a record's shape and returns the quantity to account for it, in thousandths.
///
/// Only what cannot be true is refused here (an end before the start, a negative quantity).
/// What is merely doubtful (too long, outside the plan, duplicated) is accepted and flagged by
/// the review rules, because a record is a statement of what happened and must never be lost.
pub fn check_record(draft: &RecordDraft) -> Result<i64, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(end) = draft.ended_at
        && end < draft.started_at
    {
        errors.push(FieldError::new(
            "ended_at",
            "the visit ends before it starts",
        ));
    }
    if draft.quantity_milli.is_some_and(|q| q < 0) {
        errors.push(FieldError::new("quantity", "must not be negative"));
    }
    if draft.km_milli.is_some_and(|km| km < 0) {
        errors.push(FieldError::new("km", "must not be negative"));
    }
    if draft
        .latitude
        .is_some_and(|lat| !(-90.0..=90.0).contains(&lat))
    {
        errors.push(FieldError::new("latitude", "must be between -90 and 90"));
    }
    if draft
        .longitude
        .is_some_and(|lon| !(-180.0..=180.0).contains(&lon))
    {
        errors.push(FieldError::new("longitude", "must be between -180 and 180"));
    }
    if draft.latitude.is_some() != draft.longitude.is_some() {
        errors.push(FieldError::new(
            "longitude",
            "latitude and longitude go together",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(quantity(draft))
}

fn quantity(draft: &RecordDraft) -> i64 {
    if draft.missed {
        return 0;
    }
    if let Some(explicit) = draft.quantity_milli {
        return explicit;
    }
    match draft.unit {
        ServiceUnit::Hour => draft
            .ended_at
            .map(|end| (end - draft.started_at).num_seconds() * MILLI / 3600)
            .unwrap_or(0),
        ServiceUnit::Km => draft.km_milli.unwrap_or(0),
        ServiceUnit::Trip | ServiceUnit::Access => MILLI,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0)
            .single()
            .expect("valid time")
    }

    fn visit(unit: ServiceUnit) -> RecordDraft {
        RecordDraft {
            unit,
            started_at: at(9, 0),
            ended_at: Some(at(10, 30)),
            quantity_milli: None,
            km_milli: None,
            missed: false,
            latitude: None,
            longitude: None,
        }
    }

    #[test]
    fn hours_come_from_the_visit_times() {
        assert_eq!(check_record(&visit(ServiceUnit::Hour)), Ok(1500));
    }

    #[test]
    fn an_explicit_quantity_wins_and_a_missed_visit_counts_zero() {
        let mut draft = visit(ServiceUnit::Hour);
        draft.quantity_milli = Some(1000);
        assert_eq!(check_record(&draft), Ok(1000));
        draft.missed = true;
        assert_eq!(check_record(&draft), Ok(0));
    }

    #[test]
    fn transports_count_trips_or_km() {
        assert_eq!(check_record(&visit(ServiceUnit::Trip)), Ok(1000));
        let mut km = visit(ServiceUnit::Km);
        km.km_milli = Some(12_400);
        assert_eq!(check_record(&km), Ok(12_400));
    }

    #[test]
    fn an_end_before_the_start_is_refused() {
        let mut draft = visit(ServiceUnit::Hour);
        draft.ended_at = Some(at(8, 0));
        let errors = check_record(&draft).expect_err("invalid");
        assert_eq!(errors[0].field, "ended_at");
    }

    #[test]
    fn coordinates_must_be_real_and_paired() {
        let mut draft = visit(ServiceUnit::Hour);
        draft.latitude = Some(95.0);
        let errors = check_record(&draft).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["latitude", "longitude"]);
    }

    #[test]
    fn review_decisions_follow_the_lifecycle() {
        use RecordStatus::*;
        assert_eq!(ReviewAction::Validate.apply(Recorded), Some(Validated));
        assert_eq!(ReviewAction::Validate.apply(Validated), None);
        assert_eq!(ReviewAction::Reject.apply(Amended), Some(Rejected));
        assert_eq!(ReviewAction::RequestClarification.apply(Rejected), None);
        assert_eq!(ReviewAction::Reopen.apply(Rejected), Some(Recorded));
        assert_eq!(status_after_edit(Validated), Amended);
        assert_eq!(status_after_edit(Recorded), Recorded);
    }
}
