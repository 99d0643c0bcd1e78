//! A municipality's configuration of the rules: which run, how heavy their findings are, and
//! the thresholds. Stored as JSON; a rule or threshold left out takes its default, so a
//! municipality's stored settings keep working when a release adds a rule.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RuleCode, Severity};
use crate::domain::FieldError;

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

/// Which rules a finding code belongs to when findings are recomputed: each family depends on
/// different data, so a change rechecks only the families it can affect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// The record and its plan.
    Record,
    /// Records near it in time (overlaps, duplicates).
    Neighbours,
    /// The other records counted against the same allowance.
    Allowance,
}

impl RuleCode {
    /// Every rule, in catalogue order.
    pub const ALL: [RuleCode; 16] = [
        RuleCode::OutsidePlanPeriod,
        RuleCode::PlanNotActive,
        RuleCode::ServiceNotInPlan,
        RuleCode::OperatorNotAuthorized,
        RuleCode::OverAllowance,
        RuleCode::OperatorOverlap,
        RuleCode::BeneficiaryOverlap,
        RuleCode::LikelyDuplicate,
        RuleCode::StartInFuture,
        RuleCode::ImplausibleDuration,
        RuleCode::VisitLeftOpen,
        RuleCode::TransportIncomplete,
        RuleCode::ImplausibleKm,
        RuleCode::RecordedLate,
        RuleCode::FarFromAddress,
        RuleCode::MissedWithoutReason,
    ];

    /// The family the rule is computed in.
    pub fn family(self) -> Family {
        match self {
            RuleCode::OverAllowance => Family::Allowance,
            RuleCode::OperatorOverlap
            | RuleCode::BeneficiaryOverlap
            | RuleCode::LikelyDuplicate => Family::Neighbours,
            _ => Family::Record,
        }
    }

    /// What the rule finds, for the catalogue (docs/rules.md, the OpenAPI document).
    pub fn meaning(self) -> &'static str {
        use RuleCode::*;
        match self {
            OutsidePlanPeriod => {
                "delivered (Rome date) outside the plan's period or the planned service's own window"
            }
            PlanNotActive => {
                "the plan was suspended or closed when the visit took place, or is still a draft"
            }
            ServiceNotInPlan => "the service type is not planned",
            OperatorNotAuthorized => {
                "the operator was not authorized on the plan at the time of the visit"
            }
            OverAllowance => {
                "with this record the week's (ISO week) or month's total passes the planned allowance"
            }
            OperatorOverlap => "the same operator is recorded elsewhere at the same time",
            BeneficiaryOverlap => {
                "another operator recorded the same service for the same beneficiary at the same time"
            }
            LikelyDuplicate => {
                "the same operator, service and beneficiary, starting within the duplicate window"
            }
            StartInFuture => "the visit starts after the moment of the check",
            ImplausibleDuration => "shorter or longer than a visit plausibly lasts",
            VisitLeftOpen => "an hourly visit started and never ended",
            TransportIncomplete => "a transport without origin or destination",
            ImplausibleKm => "more kilometres than the duration allows",
            RecordedLate => "the server received it long after the visit",
            FarFromAddress => {
                "recorded far from the beneficiary's address, when both positions are known"
            }
            MissedWithoutReason => "a missed visit without a reason",
        }
    }

    /// The severity a municipality starts with.
    pub fn default_severity(self) -> Severity {
        use RuleCode::*;
        match self {
            OutsidePlanPeriod
            | PlanNotActive
            | ServiceNotInPlan
            | OperatorNotAuthorized
            | OverAllowance
            | StartInFuture
            | VisitLeftOpen
            | OperatorOverlap
            | LikelyDuplicate => Severity::Blocking,
            ImplausibleDuration | TransportIncomplete | ImplausibleKm | RecordedLate
            | FarFromAddress | MissedWithoutReason | BeneficiaryOverlap => Severity::Warning,
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
        let defaults = Thresholds::default();
        Self {
            rules: RuleCode::ALL
                .iter()
                .map(|&code| (code, RuleSetting::on(code.default_severity())))
                .collect(),
            min_visit_minutes: defaults.min_visit_minutes,
            max_visit_minutes: defaults.max_visit_minutes,
            max_transport_kmh: defaults.max_transport_kmh,
            late_after_days: defaults.late_after_days,
            max_distance_m: defaults.max_distance_m,
            duplicate_window_minutes: defaults.duplicate_window_minutes,
        }
    }
}

impl RuleSettings {
    /// The setting of `code` when the rule runs; `None` when it is off.
    pub fn setting(&self, code: RuleCode) -> Option<RuleSetting> {
        self.rules
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, s)| *s)
            .filter(|s| s.enabled)
    }

    /// Turns a rule on or off and, optionally, changes its severity.
    pub fn set(&mut self, code: RuleCode, enabled: bool, severity: Option<Severity>) {
        if let Some((_, setting)) = self.rules.iter_mut().find(|(c, _)| *c == code) {
            setting.enabled = enabled;
            if let Some(severity) = severity {
                setting.severity = severity;
            }
        }
    }

    /// The settings as the API shows and the database stores them.
    pub fn to_document(&self) -> RuleSettingsDocument {
        RuleSettingsDocument {
            rules: self
                .rules
                .iter()
                .map(|(code, s)| RuleConfig {
                    code: *code,
                    enabled: s.enabled,
                    severity: s.severity,
                })
                .collect(),
            thresholds: Thresholds {
                min_visit_minutes: self.min_visit_minutes,
                max_visit_minutes: self.max_visit_minutes,
                max_transport_kmh: self.max_transport_kmh,
                late_after_days: self.late_after_days,
                max_distance_m: self.max_distance_m,
                duplicate_window_minutes: self.duplicate_window_minutes,
            },
        }
    }

    /// Settings from their stored or submitted form, checked; defaults fill what is missing.
    pub fn from_document(document: &RuleSettingsDocument) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut settings = Self::default();
        for (i, rule) in document.rules.iter().enumerate() {
            if document.rules[..i].iter().any(|r| r.code == rule.code) {
                errors.push(FieldError::new(
                    format!("rules[{i}].code"),
                    "each rule may appear once",
                ));
            }
            settings.set(rule.code, rule.enabled, Some(rule.severity));
        }
        let t = &document.thresholds;
        let mut bound = |field: &str, ok: bool, detail: &str| {
            if !ok {
                errors.push(FieldError::new(format!("thresholds.{field}"), detail));
            }
        };
        bound(
            "min_visit_minutes",
            t.min_visit_minutes < t.max_visit_minutes,
            "must be less than max_visit_minutes",
        );
        bound(
            "max_visit_minutes",
            (1..=24 * 60).contains(&t.max_visit_minutes),
            "must be between 1 and 1440: a visit never lasts more than a day",
        );
        bound(
            "max_transport_kmh",
            t.max_transport_kmh.is_finite() && (1.0..=300.0).contains(&t.max_transport_kmh),
            "must be between 1 and 300",
        );
        bound(
            "late_after_days",
            (1..=365).contains(&t.late_after_days),
            "must be between 1 and 365",
        );
        bound(
            "max_distance_m",
            t.max_distance_m.is_finite() && (10.0..=100_000.0).contains(&t.max_distance_m),
            "must be between 10 and 100000",
        );
        bound(
            "duplicate_window_minutes",
            t.duplicate_window_minutes <= 240,
            "must be at most 240",
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        settings.min_visit_minutes = t.min_visit_minutes;
        settings.max_visit_minutes = t.max_visit_minutes;
        settings.max_transport_kmh = t.max_transport_kmh;
        settings.late_after_days = t.late_after_days;
        settings.max_distance_m = t.max_distance_m;
        settings.duplicate_window_minutes = t.duplicate_window_minutes;
        Ok(settings)
    }
}

/// A municipality's rule settings, as the API shows and accepts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSettingsDocument {
    /// Per rule; a rule left out keeps its default.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub rules: Vec<RuleConfig>,
    /// The thresholds; one left out keeps its default.
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// Whether a rule runs, and how heavy its findings are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub code: RuleCode,
    pub enabled: bool,
    pub severity: Severity,
}

/// The measurable rules' limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Shortest plausible visit, minutes (`implausible_duration`).
    #[schema(minimum = 0, maximum = 1439, example = 5)]
    pub min_visit_minutes: u32,
    /// Longest plausible visit, minutes, at most a day (`implausible_duration`).
    #[schema(minimum = 1, maximum = 1440, example = 600)]
    pub max_visit_minutes: u32,
    /// Fastest plausible average speed of a transport, km/h (`implausible_km`).
    #[schema(minimum = 1, maximum = 300, example = 90)]
    pub max_transport_kmh: f64,
    /// Days after the visit past which a record is received late (`recorded_late`).
    #[schema(minimum = 1, maximum = 365, example = 5)]
    pub late_after_days: u32,
    /// Farthest plausible distance from the beneficiary's address, metres (`far_from_address`).
    #[schema(minimum = 10, maximum = 100000, example = 500)]
    pub max_distance_m: f64,
    /// Two records of one service by one operator starting this close are one visit recorded
    /// twice, minutes (`likely_duplicate`).
    #[schema(minimum = 0, maximum = 240, example = 15)]
    pub duplicate_window_minutes: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_visit_minutes: 5,
            // A home visit lasts hours; a full-day transport to a hospital about eight.
            max_visit_minutes: 10 * 60,
            max_transport_kmh: 90.0,
            // Field devices often sync after a weekend or a dead zone: three days is normal.
            late_after_days: 5,
            max_distance_m: 500.0,
            duplicate_window_minutes: 15,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_default_and_a_family() {
        let settings = RuleSettings::default();
        for code in RuleCode::ALL {
            let setting = settings.setting(code).expect("on by default");
            assert_eq!(setting.severity, code.default_severity());
        }
        assert_eq!(RuleCode::OverAllowance.family(), Family::Allowance);
        assert_eq!(RuleCode::LikelyDuplicate.family(), Family::Neighbours);
    }

    #[test]
    fn the_catalogue_in_the_docs_matches_the_code() {
        let docs = include_str!("../../../../docs/rules.md");
        for code in RuleCode::ALL {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", code.as_str())))
                .unwrap_or_else(|| panic!("docs/rules.md lacks {}", code.as_str()));
            assert!(
                row.contains(&format!("| {} |", code.default_severity().as_str())),
                "docs/rules.md gives {} another default severity",
                code.as_str()
            );
        }
    }

    #[test]
    fn a_document_round_trips_and_fills_what_is_missing() {
        let mut settings = RuleSettings::default();
        settings.set(RuleCode::RecordedLate, false, None);
        settings.set(RuleCode::OverAllowance, true, Some(Severity::Blocking));
        settings.late_after_days = 7;
        assert_eq!(
            RuleSettings::from_document(&settings.to_document()),
            Ok(settings.clone())
        );
        let partial = RuleSettingsDocument {
            rules: vec![],
            thresholds: Thresholds::default(),
        };
        assert_eq!(
            RuleSettings::from_document(&partial),
            Ok(RuleSettings::default())
        );
    }

    #[test]
    fn nonsense_thresholds_and_repeated_rules_are_named() {
        let mut document = RuleSettings::default().to_document();
        document.thresholds.min_visit_minutes = 800;
        document.thresholds.max_visit_minutes = 2000;
        document.thresholds.max_transport_kmh = f64::NAN;
        document.rules.push(document.rules[0]);
        let errors = RuleSettings::from_document(&document).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules[16].code",
                "thresholds.max_visit_minutes",
                "thresholds.max_transport_kmh"
            ]
        );
    }
}
