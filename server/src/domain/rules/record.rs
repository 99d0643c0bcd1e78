//! The rules that need only the record and its plan.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Finding, Measure, RuleCode, RuleSettings};
use crate::domain::{
    care_plan::PlanStatus,
    service_record::{MissedReason, ServiceUnit},
};

/// What the rules look at in a record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFacts {
    pub operator_id: Uuid,
    pub service_type_id: Uuid,
    pub unit: ServiceUnit,
    pub started_at: DateTime<Utc>,
    /// The day the visit started, in the municipality's time zone (plan periods are days).
    pub local_start_date: NaiveDate,
    pub ended_at: Option<DateTime<Utc>>,
    pub km: Option<f64>,
    pub has_origin: bool,
    pub has_destination: bool,
    /// Where the operator was, when captured: (latitude, longitude).
    pub position: Option<(f64, f64)>,
    pub missed: bool,
    pub missed_reason: Option<MissedReason>,
    /// When the server first received it (device clocks lie).
    pub received_at: DateTime<Utc>,
}

/// A planned service's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedWindow {
    pub service_type_id: Uuid,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// A stretch of time when the plan was suspended or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interruption {
    pub status: PlanStatus,
    pub from: DateTime<Utc>,
    /// `None`: still going on.
    pub until: Option<DateTime<Utc>>,
}

impl Interruption {
    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }
}

/// What the rules look at in the record's plan.
///
/// Agreeing a plan covers its whole period, also days before the activation (a visit recorded
/// offline the morning the plan was signed); what makes a plan inactive at a given time is a
/// suspension or the closure, and a plan still in draft is inactive throughout. In the same
/// way an operator is authorized for any visit before their removal from the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFacts {
    pub status: PlanStatus,
    /// Suspensions and the closure, from the plan's status history.
    pub interruptions: Vec<Interruption>,
    /// The operators authorized now.
    pub operators: Vec<Uuid>,
    /// Operators removed from the plan, and when.
    pub removed_operators: Vec<(Uuid, DateTime<Utc>)>,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub planned: Vec<PlannedWindow>,
    /// The beneficiary's address, geocoded, when known: (latitude, longitude).
    pub address_position: Option<(f64, f64)>,
}

/// The findings of the single-record rules, in catalogue order.
pub fn check(
    record: &RecordFacts,
    plan: &PlanFacts,
    settings: &RuleSettings,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut report = |code: RuleCode, it: String, en: String, measured: Option<Measure>| {
        if let Some(setting) = settings.setting(code) {
            found.push(Finding {
                code,
                severity: setting.severity,
                message_it: it,
                message_en: en,
                measured,
                related_record: None,
                planned_service: None,
                period: None,
            });
        }
    };
    let day = record.local_start_date;

    let planned = plan
        .planned
        .iter()
        .find(|p| p.service_type_id == record.service_type_id);
    let from = planned
        .and_then(|p| p.valid_from)
        .unwrap_or(plan.valid_from)
        .max(plan.valid_from);
    let to = planned
        .and_then(|p| p.valid_to)
        .unwrap_or(plan.valid_to)
        .min(plan.valid_to);
    if day < from || day > to {
        report(
            RuleCode::OutsidePlanPeriod,
            format!("Prestazione del {day}, fuori dal periodo previsto (dal {from} al {to})."),
            format!("Delivered on {day}, outside the planned period ({from} to {to})."),
            None,
        );
    }
    let inactive = if plan.status == PlanStatus::Draft {
        Some(PlanStatus::Draft)
    } else {
        plan.interruptions
            .iter()
            .find(|i| i.covers(record.started_at))
            .map(|i| i.status)
    };
    if let Some(status) = inactive {
        let (it, en) = match status {
            PlanStatus::Draft => ("in bozza", "a draft"),
            PlanStatus::Suspended => ("sospeso", "suspended"),
            PlanStatus::Closed => ("chiuso", "closed"),
            PlanStatus::Active => ("attivo", "active"),
        };
        report(
            RuleCode::PlanNotActive,
            format!("Al momento della prestazione il progetto era {it}."),
            format!("When the service was delivered the care plan was {en}."),
            None,
        );
    }
    if planned.is_none() {
        report(
            RuleCode::ServiceNotInPlan,
            "Il tipo di prestazione non è previsto dal progetto.".to_owned(),
            "The service type is not part of the care plan.".to_owned(),
            None,
        );
    }
    let authorized = plan.operators.contains(&record.operator_id)
        || plan
            .removed_operators
            .iter()
            .any(|&(operator, removed_at)| {
                operator == record.operator_id && record.started_at < removed_at
            });
    if !authorized {
        report(
            RuleCode::OperatorNotAuthorized,
            "L'operatore non era autorizzato sul progetto al momento della prestazione.".to_owned(),
            "The operator was not authorized on the care plan when the service was delivered."
                .to_owned(),
            None,
        );
    }
    if record.started_at > now {
        report(
            RuleCode::StartInFuture,
            "La prestazione inizia nel futuro.".to_owned(),
            "The service starts in the future.".to_owned(),
            None,
        );
    }
    if record.missed {
        if record.missed_reason.is_none() {
            report(
                RuleCode::MissedWithoutReason,
                "Accesso mancato senza motivo.".to_owned(),
                "Missed visit without a reason.".to_owned(),
                None,
            );
        }
        // A visit that did not happen has no duration, distance or place to check.
        return found;
    }
    match record.ended_at {
        None if record.unit == ServiceUnit::Hour => report(
            RuleCode::VisitLeftOpen,
            "Accesso iniziato e mai chiuso.".to_owned(),
            "The visit was started and never ended.".to_owned(),
            None,
        ),
        None => {}
        Some(ended_at) => {
            let minutes = (ended_at - record.started_at).num_seconds() as f64 / 60.0;
            let (min, max) = (
                f64::from(settings.min_visit_minutes),
                f64::from(settings.max_visit_minutes.min(24 * 60)),
            );
            if minutes < min || minutes > max {
                let limit = if minutes < min { min } else { max };
                report(
                    RuleCode::ImplausibleDuration,
                    format!("Durata di {minutes:.0} minuti, fuori dai limiti ({min:.0}-{max:.0})."),
                    format!("Lasts {minutes:.0} minutes, outside the bounds ({min:.0}-{max:.0})."),
                    Some(Measure {
                        value: minutes,
                        limit,
                        unit: "minutes",
                    }),
                );
            }
            if let Some(km) = record.km.filter(|_| minutes > 0.0) {
                let kmh = km / (minutes / 60.0);
                if kmh > settings.max_transport_kmh {
                    report(
                        RuleCode::ImplausibleKm,
                        format!("{km:.1} km in {minutes:.0} minuti: {kmh:.0} km/h di media."),
                        format!("{km:.1} km in {minutes:.0} minutes: {kmh:.0} km/h on average."),
                        Some(Measure {
                            value: kmh,
                            limit: settings.max_transport_kmh,
                            unit: "km/h",
                        }),
                    );
                }
            }
        }
    }
    let transport = matches!(record.unit, ServiceUnit::Trip | ServiceUnit::Km);
    if transport && !(record.has_origin && record.has_destination) {
        report(
            RuleCode::TransportIncomplete,
            "Trasporto senza partenza o destinazione.".to_owned(),
            "Transport without origin or destination.".to_owned(),
            None,
        );
    }
    let late_days = (record.received_at - record.started_at).num_seconds() as f64 / 86_400.0;
    if late_days > f64::from(settings.late_after_days) {
        report(
            RuleCode::RecordedLate,
            format!("Ricevuta {late_days:.0} giorni dopo la prestazione."),
            format!("Received {late_days:.0} days after the service."),
            Some(Measure {
                value: late_days,
                limit: f64::from(settings.late_after_days),
                unit: "days",
            }),
        );
    }
    if let (Some(at), Some(home)) = (record.position, plan.address_position) {
        let metres = distance_m(at, home);
        if metres > settings.max_distance_m {
            report(
                RuleCode::FarFromAddress,
                format!("Registrata a {metres:.0} m dall'indirizzo del beneficiario."),
                format!("Recorded {metres:.0} m from the beneficiary's address."),
                Some(Measure {
                    value: metres,
                    limit: settings.max_distance_m,
                    unit: "m",
                }),
            );
        }
    }
    found
}

/// Great-circle distance in metres (haversine; plenty for "is it near the address").
pub fn distance_m((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::{RuleSetting, Severity};

    const SAD: Uuid = Uuid::from_u128(1);
    const TRANSPORT: Uuid = Uuid::from_u128(2);
    const MELEGNANO: (f64, f64) = (45.3585, 9.3232);
    const ANNA: Uuid = Uuid::from_u128(10);
    const BRUNO: Uuid = Uuid::from_u128(11);

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("an instant")
    }

    fn plan() -> PlanFacts {
        PlanFacts {
            status: PlanStatus::Active,
            interruptions: vec![],
            operators: vec![ANNA],
            removed_operators: vec![(BRUNO, at("2026-11-01T00:00:00Z"))],
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            valid_to: NaiveDate::from_ymd_opt(2026, 12, 31).expect("date"),
            planned: vec![
                PlannedWindow {
                    service_type_id: SAD,
                    valid_from: None,
                    valid_to: None,
                },
                PlannedWindow {
                    service_type_id: TRANSPORT,
                    valid_from: NaiveDate::from_ymd_opt(2026, 6, 1),
                    valid_to: None,
                },
            ],
            address_position: Some(MELEGNANO),
        }
    }

    /// A clean hour and a half of home care on 20 November, synced the same evening.
    fn visit() -> RecordFacts {
        RecordFacts {
            operator_id: ANNA,
            service_type_id: SAD,
            unit: ServiceUnit::Hour,
            started_at: at("2026-11-20T08:00:00Z"),
            local_start_date: NaiveDate::from_ymd_opt(2026, 11, 20).expect("date"),
            ended_at: Some(at("2026-11-20T09:30:00Z")),
            km: None,
            has_origin: false,
            has_destination: false,
            position: Some(MELEGNANO),
            missed: false,
            missed_reason: None,
            received_at: at("2026-11-20T19:00:00Z"),
        }
    }

    fn codes(record: &RecordFacts, plan: &PlanFacts) -> Vec<RuleCode> {
        check(
            record,
            plan,
            &RuleSettings::default(),
            at("2026-11-23T10:00:00Z"),
        )
        .into_iter()
        .map(|f| f.code)
        .collect()
    }

    #[test]
    fn a_clean_visit_has_no_findings() {
        assert_eq!(codes(&visit(), &plan()), vec![]);
    }

    #[test]
    fn each_rule_fires_on_its_case_and_only_there() {
        type Case = (
            &'static str,
            fn(&mut RecordFacts, &mut PlanFacts),
            Vec<RuleCode>,
        );
        let cases: Vec<Case> = vec![
            (
                "after the plan ended",
                |r, p| {
                    p.valid_to = NaiveDate::from_ymd_opt(2026, 11, 19).expect("date");
                    let _ = r;
                },
                vec![RuleCode::OutsidePlanPeriod],
            ),
            (
                "before the planned service's own window",
                |r, _| {
                    r.service_type_id = TRANSPORT;
                    r.unit = ServiceUnit::Trip;
                    r.has_origin = true;
                    r.has_destination = true;
                    r.local_start_date = NaiveDate::from_ymd_opt(2026, 5, 31).expect("date");
                },
                vec![RuleCode::OutsidePlanPeriod],
            ),
            (
                "during a suspension",
                |_, p| {
                    p.status = PlanStatus::Suspended;
                    p.interruptions.push(Interruption {
                        status: PlanStatus::Suspended,
                        from: at("2026-11-18T10:00:00Z"),
                        until: None,
                    });
                },
                vec![RuleCode::PlanNotActive],
            ),
            (
                "after a suspension ended",
                |_, p| {
                    p.interruptions.push(Interruption {
                        status: PlanStatus::Suspended,
                        from: at("2026-11-10T10:00:00Z"),
                        until: Some(at("2026-11-20T07:00:00Z")),
                    });
                },
                vec![],
            ),
            (
                "before the plan was suspended",
                |_, p| {
                    p.status = PlanStatus::Suspended;
                    p.interruptions.push(Interruption {
                        status: PlanStatus::Suspended,
                        from: at("2026-11-21T10:00:00Z"),
                        until: None,
                    });
                },
                vec![],
            ),
            (
                "after the plan was closed",
                |_, p| {
                    p.status = PlanStatus::Closed;
                    p.interruptions.push(Interruption {
                        status: PlanStatus::Closed,
                        from: at("2026-11-19T10:00:00Z"),
                        until: None,
                    });
                },
                vec![RuleCode::PlanNotActive],
            ),
            (
                "on a plan still in draft",
                |_, p| p.status = PlanStatus::Draft,
                vec![RuleCode::PlanNotActive],
            ),
            (
                "by an operator never on the plan",
                |r, _| r.operator_id = Uuid::from_u128(12),
                vec![RuleCode::OperatorNotAuthorized],
            ),
            (
                "by an operator removed before the visit",
                |r, _| r.operator_id = BRUNO,
                vec![RuleCode::OperatorNotAuthorized],
            ),
            (
                "by an operator removed after the visit",
                |r, p| {
                    r.operator_id = BRUNO;
                    p.removed_operators = vec![(BRUNO, at("2026-11-21T00:00:00Z"))];
                },
                vec![],
            ),
            (
                "service not planned",
                |r, _| r.service_type_id = Uuid::from_u128(9),
                vec![RuleCode::ServiceNotInPlan],
            ),
            (
                "in the future",
                |r, _| {
                    r.started_at = at("2026-11-24T08:00:00Z");
                    r.ended_at = Some(at("2026-11-24T09:00:00Z"));
                    r.received_at = r.started_at;
                },
                vec![RuleCode::StartInFuture],
            ),
            (
                "nine hours",
                |r, _| r.ended_at = Some(at("2026-11-20T17:00:00Z")),
                vec![],
            ),
            (
                "eleven hours",
                |r, _| r.ended_at = Some(at("2026-11-20T19:00:00Z")),
                vec![RuleCode::ImplausibleDuration],
            ),
            (
                "two minutes",
                |r, _| r.ended_at = Some(at("2026-11-20T08:02:00Z")),
                vec![RuleCode::ImplausibleDuration],
            ),
            (
                "left open",
                |r, _| r.ended_at = None,
                vec![RuleCode::VisitLeftOpen],
            ),
            (
                "missed with a reason",
                |r, _| {
                    r.missed = true;
                    r.missed_reason = Some(MissedReason::BeneficiaryAbsent);
                    r.ended_at = None;
                },
                vec![],
            ),
            (
                "missed without a reason",
                |r, _| {
                    r.missed = true;
                    r.ended_at = None;
                },
                vec![RuleCode::MissedWithoutReason],
            ),
            (
                "transport without destination",
                |r, _| {
                    r.service_type_id = TRANSPORT;
                    r.unit = ServiceUnit::Trip;
                    r.has_origin = true;
                },
                vec![RuleCode::TransportIncomplete],
            ),
            (
                "300 km in 20 minutes",
                |r, _| {
                    r.service_type_id = TRANSPORT;
                    r.unit = ServiceUnit::Km;
                    r.has_origin = true;
                    r.has_destination = true;
                    r.km = Some(300.0);
                    r.ended_at = Some(at("2026-11-20T08:20:00Z"));
                },
                vec![RuleCode::ImplausibleKm],
            ),
            (
                "ten days late",
                |r, _| r.received_at = at("2026-11-30T08:00:00Z"),
                vec![RuleCode::RecordedLate],
            ),
            (
                "three days late is normal",
                |r, _| r.received_at = at("2026-11-23T08:00:00Z"),
                vec![],
            ),
            (
                "two kilometres from home",
                |r, _| r.position = Some((45.3765, 9.3232)),
                vec![RuleCode::FarFromAddress],
            ),
            (
                "no address to compare with",
                |r, p| {
                    r.position = Some((45.3765, 9.3232));
                    p.address_position = None;
                },
                vec![],
            ),
        ];
        for (name, edit, expected) in cases {
            let (mut record, mut plan) = (visit(), plan());
            edit(&mut record, &mut plan);
            assert_eq!(codes(&record, &plan), expected, "{name}");
        }
    }

    #[test]
    fn settings_decide_whether_a_rule_runs_and_how_heavy_it_is() {
        let mut record = visit();
        record.received_at = at("2026-11-30T08:00:00Z");
        let mut settings = RuleSettings::default();
        let now = at("2026-12-01T00:00:00Z");
        let found = check(&record, &plan(), &settings, now);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        let measured = found[0].measured.expect("the lateness is measured");
        assert!((measured.value - 10.0).abs() < 0.01 && measured.limit == 5.0);

        settings.late_after_days = 10;
        assert!(check(&record, &plan(), &settings, now).is_empty());
        settings.late_after_days = 5;
        for (code, setting) in &mut settings.rules {
            if *code == RuleCode::RecordedLate {
                *setting = RuleSetting {
                    enabled: true,
                    severity: Severity::Blocking,
                };
            }
        }
        assert_eq!(
            check(&record, &plan(), &settings, now)[0].severity,
            Severity::Blocking
        );
        settings
            .rules
            .retain(|(code, _)| *code != RuleCode::RecordedLate);
        assert!(check(&record, &plan(), &settings, now).is_empty());
    }

    #[test]
    fn distances_are_right_to_a_few_metres() {
        // One minute of latitude is a nautical mile, 1,852 m.
        let d = distance_m((45.0, 9.0), (45.0 + 1.0 / 60.0, 9.0));
        assert!((d - 1_852.0).abs() < 10.0, "{d}");
        assert_eq!(distance_m(MELEGNANO, MELEGNANO), 0.0);
    }
}
