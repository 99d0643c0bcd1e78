//! Automatic findings on service records (DESIGN.md §4): each rule has a stable code, a
//! severity, a message in Italian and in English, and the evidence behind it. Plain functions
//! over data: the caller gathers the record, its plan and its neighbours; nothing here reads a
//! database.
//!
//! - [`record`]: the rules that need only the record and its plan.
//! - [`neighbours`]: the rules that compare a record with records near it in time.

pub mod neighbours;
pub mod record;

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

/// One rule's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleSetting {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The severity of its findings.
    pub severity: Severity,
}

impl RuleSetting {
    const fn on(severity: Severity) -> Self {
        Self {
            enabled: true,
            severity,
        }
    }
}

/// A municipality's rule configuration: which rules run, how heavy they are, and their
/// thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// Per rule.
    pub rules: Vec<(RuleCode, RuleSetting)>,
    /// Shortest plausible visit, in minutes.
    pub min_visit_minutes: u32,
    /// Longest plausible visit, in minutes (never more than a day).
    pub max_visit_minutes: u32,
    /// Fastest plausible average speed of a transport, km/h.
    pub max_transport_kmh: f64,
    /// A record received more than this many days after the visit is late.
    pub late_after_days: u32,
    /// Farthest plausible distance from the beneficiary's address, in metres.
    pub max_distance_m: f64,
    /// Two records of the same service by the same operator starting this close are likely
    /// one visit recorded twice, in minutes.
    pub duplicate_window_minutes: u32,
}

impl Default for RuleSettings {
    fn default() -> Self {
        use RuleCode::*;
        use Severity::*;
        Self {
            rules: vec![
                (OutsidePlanPeriod, RuleSetting::on(Blocking)),
                (PlanNotActive, RuleSetting::on(Blocking)),
                (ServiceNotInPlan, RuleSetting::on(Blocking)),
                (StartInFuture, RuleSetting::on(Blocking)),
                (ImplausibleDuration, RuleSetting::on(Warning)),
                (VisitLeftOpen, RuleSetting::on(Blocking)),
                (TransportIncomplete, RuleSetting::on(Warning)),
                (ImplausibleKm, RuleSetting::on(Warning)),
                (RecordedLate, RuleSetting::on(Warning)),
                (FarFromAddress, RuleSetting::on(Warning)),
                (MissedWithoutReason, RuleSetting::on(Warning)),
                (OperatorOverlap, RuleSetting::on(Blocking)),
                (BeneficiaryOverlap, RuleSetting::on(Warning)),
                (LikelyDuplicate, RuleSetting::on(Blocking)),
            ],
            min_visit_minutes: 5,
            max_visit_minutes: 12 * 60,
            max_transport_kmh: 90.0,
            // Field devices often sync after a weekend or a dead zone: three days is normal.
            late_after_days: 5,
            max_distance_m: 500.0,
            duplicate_window_minutes: 15,
        }
    }
}

impl RuleSettings {
    /// The setting of `code`; a rule missing from the list is off.
    pub fn setting(&self, code: RuleCode) -> Option<RuleSetting> {
        self.rules
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, s)| *s)
            .filter(|s| s.enabled)
    }
}
