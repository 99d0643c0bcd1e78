//! Unit tests of the document schemas: round trips, concurrent edits merged, compatibility with
//! older, newer and JS-written documents, and garbage that must be reported, never panic.

mod compat;
mod diary;
mod plan;

use std::collections::BTreeMap;

use automerge::AutoCommit;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Beneficiary, MissedReason, PlanFields, PlannedService, Position, RecordFields};

pub(super) const PLAN: Uuid = Uuid::from_u128(0x1000);
pub(super) const OPERATOR: Uuid = Uuid::from_u128(0x2000);
pub(super) const SERVICE_TYPE: Uuid = Uuid::from_u128(0x3000);

pub(super) fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub(super) fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

pub(super) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

/// A record with every optional field set.
pub(super) fn full_record() -> RecordFields {
    RecordFields {
        service_type_id: SERVICE_TYPE,
        started_at: ts("2026-03-02T08:00:00Z"),
        ended_at: Some(ts("2026-03-02T09:30:00.250Z")),
        quantity: Some(1.5),
        km: Some(12.4),
        origin: Some("Via Roma 1".into()),
        destination: Some("Ospedale".into()),
        position: Some(Position {
            latitude: 45.07,
            longitude: 7.68,
        }),
        notes: "Tutto regolare, caffè offerto ☕".into(),
        missed: false,
        missed_reason: None,
        recorded_at: ts("2026-03-02T09:31:00Z"),
    }
}

/// A missed visit: only the required fields and the reason.
pub(super) fn missed_record() -> RecordFields {
    RecordFields {
        service_type_id: SERVICE_TYPE,
        started_at: ts("2026-03-03T08:00:00Z"),
        ended_at: None,
        quantity: None,
        km: None,
        origin: None,
        destination: None,
        position: None,
        notes: String::new(),
        missed: true,
        missed_reason: Some(MissedReason::BeneficiaryHospitalized),
        recorded_at: ts("2026-03-03T08:05:00Z"),
    }
}

pub(super) fn plan_fields() -> PlanFields {
    let mut planned_services = BTreeMap::new();
    planned_services.insert(
        id(0x4001),
        PlannedService {
            service_type_id: SERVICE_TYPE,
            code: "SAD".into(),
            name: "Assistenza domiciliare".into(),
            unit: "hour".into(),
            allowance: 6.0,
            allowance_period: "week".into(),
            valid_from: None,
            valid_to: None,
        },
    );
    planned_services.insert(
        id(0x4002),
        PlannedService {
            service_type_id: id(0x3001),
            code: "TRASP".into(),
            name: "Trasporto".into(),
            unit: "km".into(),
            allowance: 120.5,
            allowance_period: "month".into(),
            valid_from: Some(day("2026-03-01")),
            valid_to: Some(day("2026-04-30")),
        },
    );
    PlanFields {
        beneficiary: Beneficiary {
            display_name: "Maria R.".into(),
            address: Some("Via Garibaldi 3, Torino".into()),
            phone: Some("+39 011 000000".into()),
            access_notes: None,
        },
        valid_from: day("2026-03-01"),
        valid_to: day("2026-08-31"),
        status: "active".into(),
        planned_services,
    }
}

/// Merges `other` into `doc`, as two devices syncing would.
pub(super) fn merge(doc: &mut AutoCommit, other: &mut AutoCommit) {
    doc.merge(other).expect("merge");
}
