//! Automatic findings on service records (DESIGN.md §4): each rule has a stable code, a
//! severity, a message in Italian and in English, and the evidence behind it. Plain functions
//! over data: the caller gathers the record, its plan and its neighbours; nothing here reads a
//! database.
//!
//! - [`record`]: the rules that need only the record and its plan.
//! - [`neighbours`]: the rules that compare a record with records near it in time.
//! - [`allowance`]: the cumulative quantity of a planned service per week or month.
//! - [`settings`]: a municipality's configuration of all of them.
//! - [`evaluate`]: all of them over a batch of records, for the targets asked.

pub mod allowance;
pub mod evaluate;
pub mod neighbours;
pub mod record;
pub mod settings;

pub use settings::{RuleSetting, RuleSettings};

use serde::Serialize;

wire_enum!(
    /// How much a finding weighs in the review.
    Severity {
        /// The record cannot be validated without an explicit override with a reason.
        Blocking => "blocking",
        /// Shown to the reviewer; may be acknowledged with a reason.
        Warning => "warning",
    }
);

wire_enum!(
    /// The stable code of a rule.
    RuleCode {
        /// The visit is outside the plan's period (or the planned service's own window).
        OutsidePlanPeriod => "outside_plan_period",
        /// The plan is suspended, closed or still a draft.
        PlanNotActive => "plan_not_active",
        /// The service type is not planned.
        ServiceNotInPlan => "service_not_in_plan",
        /// The operator was not authorized on the plan when the visit took place.
        OperatorNotAuthorized => "operator_not_authorized",
        /// The week's or month's cumulative quantity passes the planned allowance.
        OverAllowance => "over_allowance",
        /// The visit starts in the future.
        StartInFuture => "start_in_future",
        /// Shorter or longer than a visit plausibly lasts.
        ImplausibleDuration => "implausible_duration",
        /// Started and never ended.
        VisitLeftOpen => "visit_left_open",
        /// A transport without origin or destination.
        TransportIncomplete => "transport_incomplete",
        /// More kilometres than the visit's duration allows.
        ImplausibleKm => "implausible_km",
        /// Received by the server long after the visit.
        RecordedLate => "recorded_late",
        /// Recorded far from the beneficiary's address.
        FarFromAddress => "far_from_address",
        /// A missed visit without a reason.
        MissedWithoutReason => "missed_without_reason",
        /// The same operator is recorded in two places at once.
        OperatorOverlap => "operator_overlap",
        /// The same service for the same beneficiary by two operators at once.
        BeneficiaryOverlap => "beneficiary_overlap",
        /// Probably the same visit recorded twice.
        LikelyDuplicate => "likely_duplicate",
    }
);

/// What a rule found, with what a reviewer needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Which rule.
    pub code: RuleCode,
    /// Its weight, as configured.
    pub severity: Severity,
    /// For the reviewer (the UI is Italian).
    pub message_it: String,
    /// For API clients and logs.
    pub message_en: String,
    /// The measured value and the limit it crossed, when the rule measures something.
    pub measured: Option<Measure>,
    /// The other record involved (an overlap, the probable original of a duplicate).
    pub related_record: Option<uuid::Uuid>,
    /// The planned service whose allowance was passed.
    pub planned_service: Option<uuid::Uuid>,
    /// The allowance period (`2026-W47`, `2026-11`).
    pub period: Option<String>,
}

/// A measured value against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measure {
    /// What the record shows.
    pub value: f64,
    /// The configured limit.
    pub limit: f64,
    /// The unit of both (`minutes`, `km`, `km/h`, `days`, `m`).
    pub unit: &'static str,
}
