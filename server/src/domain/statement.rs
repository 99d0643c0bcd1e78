//! Monthly statements (rendicontazione): which month a record belongs to, the figures (validated
//! quantity per plan and service type, times the tariff), and the lifecycle with who may move it.
//!
//! Money is exact: quantities are thousandths of a unit and tariffs cents per unit, so a line's
//! amount is `quantity_milli x tariff_cents / 1000` cents, computed in 128-bit integers and
//! rounded once per line, half away from zero (0.5 cent -> 1 cent). The total is the sum of the
//! rounded lines, so the printed lines always add up to the printed total.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    civil_time,
    roles::{Caller, OrganizationKind, Principal, Role},
    service_record::RecordStatus,
    values::MILLI,
};

/// A calendar month in Rome: a record belongs to the month in which it started, Italian time
/// (a visit at 00:30 on 1 March in Rome started on 28 February in UTC, and counts in March).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// The month named `YYYY-MM` (years 2000-9999), or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| {
            bytes[range.clone()]
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| &text[range])
        };
        if bytes.len() != 7 || bytes[4] != b'-' {
            return None;
        }
        let year: i32 = digits(0..4)?.parse().ok()?;
        let month: u32 = digits(5..7)?.parse().ok()?;
        if year < 2000 {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Self { first })
    }

    /// The month in which `instant` falls, in Rome.
    pub fn of(instant: DateTime<Utc>) -> Self {
        let day = civil_time::local_date(instant);
        Self {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first.pred_opt().unwrap_or(self.first)
    }

    /// The month after.
    pub fn next(self) -> Self {
        let (year, month) = match self.first.month() {
            12 => (self.first.year() + 1, 1),
            m => (self.first.year(), m + 1),
        };
        Self {
            first: NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(self.first),
        }
    }

    /// The UTC instants `[start, end)` of the month in Rome: from local midnight of its first
    /// day to local midnight of the next month's, whatever the DST offset at either end.
    pub fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            civil_time::start_of_day(self.first),
            civil_time::start_of_day(self.next().first),
        )
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

wire_enum!(
    /// Where a statement is in its life.
    StatementStatus {
        /// Being prepared by the provider: its figures follow the records live.
        Draft => "draft",
        /// Sent to the municipality: its figures are frozen as submitted.
        Submitted => "submitted",
        /// Accepted by the municipality: the month's records are locked.
        Approved => "approved",
    }
);

/// A lifecycle step of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStep {
    /// draft -> submitted (the provider)
    Submit,
    /// submitted -> approved (the municipality's administrative office)
    Approve,
    /// submitted | approved -> draft (the municipality, with a reason): unlocks the month
    Reopen,
}

impl StatementStep {
    /// The status the statement moves to, or `None` when the step does not apply to `from`.
    pub fn apply(self, from: StatementStatus) -> Option<StatementStatus> {
        use StatementStatus::*;
        match (self, from) {
            (Self::Submit, Draft) => Some(Submitted),
            (Self::Approve, Submitted) => Some(Approved),
            (Self::Reopen, Submitted | Approved) => Some(Draft),
            _ => None,
        }
    }

    /// Whether the step needs a written reason.
    pub fn needs_reason(self) -> bool {
        self == Self::Reopen
    }

    /// The verb, as the audit log and the statement's history name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reopen => "reopen",
        }
    }
}

/// The provider's side: its coordinator (or an API client acting as one) and its
/// administrative office prepare and submit their own statements.
fn provider_side(caller: &Caller) -> bool {
    caller.organization_kind == OrganizationKind::Provider
        && matches!(
            caller.role,
            Role::ProviderCoordinator | Role::Administrative
        )
}

/// Whether the caller may draft a statement of its own organization.
pub fn may_create(caller: &Caller) -> bool {
    provider_side(caller)
}

/// Whether the caller may take `step` at all (the statement's status decides the rest).
///
/// Approval is the municipality's administrative office's act; a reopening unlocks paid
/// records, so it is a person's act (a social worker or the administrative office), never a
/// system's, and always with a reason.
pub fn may_take(caller: &Caller, step: StatementStep) -> bool {
    let municipality = caller.organization_kind == OrganizationKind::Municipality;
    match step {
        StatementStep::Submit => provider_side(caller),
        StatementStep::Approve => municipality && caller.role == Role::Administrative,
        StatementStep::Reopen => {
            municipality
                && matches!(caller.role, Role::SocialWorker | Role::Administrative)
                && matches!(caller.principal, Principal::User(_))
        }
    }
}

/// Which statements a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementScope {
    /// Those addressed to this municipality.
    Municipality(Uuid),
    /// Those of this provider.
    Provider(Uuid),
}

/// The statements visible to the caller: its own organization's, on either side.
pub fn scope(caller: &Caller) -> StatementScope {
    match caller.organization_kind {
        OrganizationKind::Municipality => StatementScope::Municipality(caller.organization_id),
        OrganizationKind::Provider => StatementScope::Provider(caller.organization_id),
    }
}

wire_enum!(
    /// Why a record of the month is listed apart instead of being paid.
    Exclusion {
        /// Not (or no longer) validated: recorded, amended, or waiting for clarification.
        Pending => "pending",
        /// Rejected by the municipality.
        Rejected => "rejected",
    }
);

/// Whether a record in `status` is listed apart; `None` when it counts (validated).
pub fn exclusion(status: RecordStatus) -> Option<Exclusion> {
    match status {
        RecordStatus::Validated => None,
        RecordStatus::Rejected => Some(Exclusion::Rejected),
        RecordStatus::Recorded | RecordStatus::Amended | RecordStatus::ClarificationRequested => {
            Some(Exclusion::Pending)
        }
    }
}

/// A validated record as the figures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFigure {
    pub care_plan_id: Uuid,
    pub service_type_id: Uuid,
    /// Thousandths of the service's unit.
    pub quantity_milli: i64,
}

/// The validated records of one plan and service type, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub care_plan_id: Uuid,
    pub service_type_id: Uuid,
    /// How many records.
    pub records: i64,
    /// Their quantities summed, in thousandths (no rounding: the sum is exact).
    pub quantity_milli: i64,
}

/// Sums validated records per (plan, service type), ordered by those ids.
pub fn tally(validated: impl IntoIterator<Item = RecordFigure>) -> Vec<Tally> {
    let mut sums: BTreeMap<(Uuid, Uuid), (i64, i64)> = BTreeMap::new();
    for record in validated {
        let entry = sums
            .entry((record.care_plan_id, record.service_type_id))
            .or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(record.quantity_milli);
    }
    sums.into_iter()
        .map(
            |((care_plan_id, service_type_id), (records, quantity_milli))| Tally {
                care_plan_id,
                service_type_id,
                records,
                quantity_milli,
            },
        )
        .collect()
}

/// The amount of a line in cents: `quantity_milli x tariff_cents / 1000`, rounded half away
/// from zero, once. Saturates instead of overflowing (no real figure comes near).
pub fn amount_cents(quantity_milli: i64, tariff_cents: i64) -> i64 {
    let product = i128::from(quantity_milli) * i128::from(tariff_cents);
    let half = i128::from(MILLI / 2);
    let rounded = if product < 0 {
        (product - half) / i128::from(MILLI)
    } else {
        (product + half) / i128::from(MILLI)
    };
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

/// The total of rounded line amounts.
pub fn total_cents(amounts: impl IntoIterator<Item = i64>) -> i64 {
    amounts.into_iter().fold(0, i64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn month(s: &str) -> Month {
        Month::parse(s).expect("month")
    }

    fn caller(role: Role, kind: OrganizationKind, person: bool) -> Caller {
        Caller {
            principal: if person {
                Principal::User(Uuid::from_u128(7))
            } else {
                Principal::ApiClient(Uuid::from_u128(8))
            },
            role,
            organization_id: Uuid::from_u128(1),
            organization_kind: kind,
        }
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(month("2026-11").to_string(), "2026-11");
        assert_eq!(month("2026-02").last_day().day(), 28);
        assert_eq!(month("2028-02").last_day().day(), 29);
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "",
            "1999-12",
            "+026-11",
            "2026-+1",
            "２０２６-11",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad} should be refused");
        }
    }

    #[test]
    fn a_record_belongs_to_the_month_of_its_start_in_rome_in_winter() {
        // Midnight of 1 February in Rome is 23:00 UTC on 31 January (CET, +1).
        assert_eq!(Month::of(at("2026-01-31T22:59:59Z")), month("2026-01"));
        assert_eq!(Month::of(at("2026-01-31T23:00:00Z")), month("2026-02"));
        // New year: midnight of 1 January 2027 in Rome is 23:00 UTC on 31 December.
        assert_eq!(Month::of(at("2026-12-31T23:30:00Z")), month("2027-01"));
        assert_eq!(month("2026-12").next(), month("2027-01"));
    }

    #[test]
    fn a_record_belongs_to_the_month_of_its_start_in_rome_in_summer() {
        // Midnight of 1 August in Rome is 22:00 UTC on 31 July (CEST, +2).
        assert_eq!(Month::of(at("2026-07-31T21:59:59Z")), month("2026-07"));
        assert_eq!(Month::of(at("2026-07-31T22:00:00Z")), month("2026-08"));
    }

    #[test]
    fn month_bounds_follow_the_offset_at_each_end_across_dst() {
        // March 2026 starts in winter time and ends in summer time (switch on 29 March).
        let (start, end) = month("2026-03").bounds();
        assert_eq!(start, at("2026-02-28T23:00:00Z"));
        assert_eq!(end, at("2026-03-31T22:00:00Z"));
        assert_eq!((end - start).num_hours(), 31 * 24 - 1);
        // October 2026 starts in summer time and ends in winter time (switch on 25 October).
        let (start, end) = month("2026-10").bounds();
        assert_eq!(start, at("2026-09-30T22:00:00Z"));
        assert_eq!(end, at("2026-10-31T23:00:00Z"));
        assert_eq!((end - start).num_hours(), 31 * 24 + 1);
        // Every instant in the bounds is in the month, the end is in the next one.
        assert_eq!(Month::of(start), month("2026-10"));
        assert_eq!(
            Month::of(end - chrono::Duration::seconds(1)),
            month("2026-10")
        );
        assert_eq!(Month::of(end), month("2026-11"));
    }

    #[test]
    fn amounts_are_rounded_once_per_line_half_away_from_zero() {
        // 1.5 h x 23.50 = 35.25 exactly.
        assert_eq!(amount_cents(1500, 2350), 3525);
        // 0.333 h x 23.50 = 7.8255 -> 7.83
        assert_eq!(amount_cents(333, 2350), 783);
        // 0.010 km x 0.55 = 0.0055 -> 0.01 (half a cent rounds up), 0.009 km -> 0.00
        assert_eq!(amount_cents(10, 55), 1);
        assert_eq!(amount_cents(9, 55), 0);
        assert_eq!(amount_cents(-10, 55), -1);
        assert_eq!(amount_cents(0, 2350), 0);
        assert_eq!(amount_cents(i64::MAX, i64::MAX), i64::MAX);
        // Three visits of 20 minutes (0.333 h each, as stored) sum to 0.999 h before rounding.
        let lines = tally(
            [RecordFigure {
                care_plan_id: Uuid::from_u128(1),
                service_type_id: Uuid::from_u128(2),
                quantity_milli: 333,
            }; 3],
        );
        assert_eq!(lines[0].quantity_milli, 999);
        assert_eq!(amount_cents(lines[0].quantity_milli, 2350), 2348);
        assert_eq!(total_cents([3525, 783, 1]), 4309);
    }

    #[test]
    fn tallies_group_by_plan_and_service_type() {
        let (a, b, sad, tra) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(10),
            Uuid::from_u128(11),
        );
        let record = |care_plan_id, service_type_id, quantity_milli| RecordFigure {
            care_plan_id,
            service_type_id,
            quantity_milli,
        };
        let lines = tally([
            record(b, sad, 1000),
            record(a, tra, 1000),
            record(a, sad, 1500),
            record(a, sad, 2000),
        ]);
        let summary: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.care_plan_id,
                    l.service_type_id,
                    l.records,
                    l.quantity_milli,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [(a, sad, 2, 3500), (a, tra, 1, 1000), (b, sad, 1, 1000)]
        );
    }

    #[test]
    fn only_validated_records_count() {
        assert_eq!(exclusion(RecordStatus::Validated), None);
        assert_eq!(exclusion(RecordStatus::Rejected), Some(Exclusion::Rejected));
        for pending in [
            RecordStatus::Recorded,
            RecordStatus::Amended,
            RecordStatus::ClarificationRequested,
        ] {
            assert_eq!(exclusion(pending), Some(Exclusion::Pending));
        }
    }

    #[test]
    fn the_lifecycle_allows_only_the_agreed_steps() {
        use StatementStatus::*;
        use StatementStep::*;
        assert_eq!(Submit.apply(Draft), Some(Submitted));
        assert_eq!(Approve.apply(Submitted), Some(Approved));
        assert_eq!(Reopen.apply(Approved), Some(Draft));
        assert_eq!(Reopen.apply(Submitted), Some(Draft));
        assert_eq!(Approve.apply(Draft), None);
        assert_eq!(Submit.apply(Submitted), None);
        assert_eq!(Reopen.apply(Draft), None);
        assert!(Reopen.needs_reason() && !Approve.needs_reason());
    }

    #[test]
    fn each_side_takes_its_own_steps() {
        use OrganizationKind::{Municipality, Provider};
        use StatementStep::*;
        let coordinator = caller(Role::ProviderCoordinator, Provider, true);
        let provider_office = caller(Role::Administrative, Provider, true);
        let provider_system = caller(Role::ProviderCoordinator, Provider, false);
        let office = caller(Role::Administrative, Municipality, true);
        let worker = caller(Role::SocialWorker, Municipality, true);
        let municipality_system = caller(Role::SocialWorker, Municipality, false);
        for provider in [coordinator, provider_office, provider_system] {
            assert!(may_create(&provider) && may_take(&provider, Submit));
            assert!(!may_take(&provider, Approve) && !may_take(&provider, Reopen));
        }
        assert!(!may_create(&office) && !may_take(&office, Submit));
        assert!(may_take(&office, Approve) && may_take(&office, Reopen));
        assert!(!may_take(&worker, Approve) && may_take(&worker, Reopen));
        assert!(!may_take(&municipality_system, Reopen));
        assert_eq!(
            scope(&office),
            StatementScope::Municipality(Uuid::from_u128(1))
        );
        assert_eq!(
            scope(&coordinator),
            StatementScope::Provider(Uuid::from_u128(1))
        );
    }
}
