//! The rules that compare a record with the records near it in time: overlaps and likely
//! duplicates. The caller passes the neighbours (records of the same operator, or of the same
//! beneficiary, whose times come near the record's); missed visits take no time and never
//! overlap.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Finding, RuleCode, RuleSettings};

/// What these rules look at in a record and in each neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub id: Uuid,
    pub operator_id: Uuid,
    pub beneficiary_id: Uuid,
    pub service_type_id: Uuid,
    pub started_at: DateTime<Utc>,
    /// `None`: still open (it overlaps nothing until it ends).
    pub ended_at: Option<DateTime<Utc>>,
    pub missed: bool,
}

impl Visit {
    fn overlaps(&self, other: &Visit) -> bool {
        match (self.ended_at, other.ended_at) {
            (Some(end), Some(other_end)) if !self.missed && !other.missed => {
                self.started_at < other_end && other.started_at < end
            }
            _ => false,
        }
    }
}

/// How two visits relate, if they conflict. The relation is symmetric, so a sweep over
/// visits sorted by start can judge each pair once and report it on both.
pub fn relation(a: &Visit, b: &Visit, settings: &RuleSettings) -> Option<RuleCode> {
    if a.id == b.id {
        return None;
    }
    let window = chrono::Duration::minutes(i64::from(settings.duplicate_window_minutes));
    let same_operator = a.operator_id == b.operator_id;
    let same_service =
        a.service_type_id == b.service_type_id && a.beneficiary_id == b.beneficiary_id;
    if same_operator
        && same_service
        && a.missed == b.missed
        && (a.started_at - b.started_at).abs() <= window
    {
        Some(RuleCode::LikelyDuplicate)
    } else if same_operator && a.overlaps(b) {
        Some(RuleCode::OperatorOverlap)
    } else if !same_operator && same_service && a.overlaps(b) {
        Some(RuleCode::BeneficiaryOverlap)
    } else {
        None
    }
}

/// The finding `code` names on a visit about `other`, if the rule runs.
pub fn finding(code: RuleCode, other: Uuid, settings: &RuleSettings) -> Option<Finding> {
    let setting = settings.setting(code)?;
    let (it, en) = match code {
        RuleCode::LikelyDuplicate => (
            "Probabile doppia registrazione della stessa prestazione.",
            "Probably the same service recorded twice.",
        ),
        RuleCode::OperatorOverlap => (
            "L'operatore risulta impegnato in un'altra prestazione nello stesso orario.",
            "The operator is recorded on another service at the same time.",
        ),
        _ => (
            "La stessa prestazione per lo stesso beneficiario è registrata da un altro operatore nello stesso orario.",
            "Another operator recorded the same service for the same beneficiary at the same time.",
        ),
    };
    Some(Finding {
        code,
        severity: setting.severity,
        message_it: it.to_owned(),
        message_en: en.to_owned(),
        measured: None,
        related_record: Some(other),
        planned_service: None,
        period: None,
    })
}

/// How far after a visit's start another visit may start and still relate to it: its length
/// or the duplicate window, whichever is longer.
pub fn reach(visit: &Visit, settings: &RuleSettings) -> chrono::Duration {
    let window = chrono::Duration::minutes(i64::from(settings.duplicate_window_minutes));
    let length = visit
        .ended_at
        .filter(|_| !visit.missed)
        .map_or(chrono::Duration::zero(), |end| end - visit.started_at);
    length.max(window)
}

/// The findings of `visit` against `neighbours` (the visit itself, if among them, is ignored).
pub fn check(visit: &Visit, neighbours: &[Visit], settings: &RuleSettings) -> Vec<Finding> {
    neighbours
        .iter()
        .filter_map(|other| {
            relation(visit, other, settings).and_then(|code| finding(code, other.id, settings))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNA: Uuid = Uuid::from_u128(10);
    const BRUNO: Uuid = Uuid::from_u128(11);
    const GIOVANNA: Uuid = Uuid::from_u128(20);
    const PIETRO: Uuid = Uuid::from_u128(21);
    const SAD: Uuid = Uuid::from_u128(1);
    const ADM: Uuid = Uuid::from_u128(2);

    fn visit(id: u128, operator: Uuid, beneficiary: Uuid, from: &str, to: &str) -> Visit {
        let at = |t: &str| -> DateTime<Utc> {
            format!("2026-11-20T{t}:00Z").parse().expect("an instant")
        };
        Visit {
            id: Uuid::from_u128(id),
            operator_id: operator,
            beneficiary_id: beneficiary,
            service_type_id: SAD,
            started_at: at(from),
            ended_at: Some(at(to)),
            missed: false,
        }
    }

    fn codes(v: &Visit, neighbours: &[Visit]) -> Vec<(RuleCode, Uuid)> {
        check(v, neighbours, &RuleSettings::default())
            .into_iter()
            .map(|f| (f.code, f.related_record.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn overlaps_and_duplicates_name_the_other_record() {
        let morning = visit(1, ANNA, GIOVANNA, "08:00", "09:30");
        let cases = [
            ("itself", visit(1, ANNA, GIOVANNA, "08:00", "09:30"), vec![]),
            (
                "the next visit",
                visit(2, ANNA, PIETRO, "09:30", "10:30"),
                vec![],
            ),
            (
                "Anna elsewhere at 9",
                visit(2, ANNA, PIETRO, "09:00", "10:00"),
                vec![(RuleCode::OperatorOverlap, Uuid::from_u128(2))],
            ),
            (
                "Bruno with Giovanna at 9",
                visit(2, BRUNO, GIOVANNA, "09:00", "10:00"),
                vec![(RuleCode::BeneficiaryOverlap, Uuid::from_u128(2))],
            ),
            (
                "Anna, Giovanna, ten minutes later",
                visit(2, ANNA, GIOVANNA, "08:10", "09:40"),
                vec![(RuleCode::LikelyDuplicate, Uuid::from_u128(2))],
            ),
            (
                "Bruno with Pietro",
                visit(2, BRUNO, PIETRO, "08:00", "09:30"),
                vec![],
            ),
        ];
        for (name, other, expected) in cases {
            assert_eq!(codes(&morning, &[other]), expected, "{name}");
        }
    }

    #[test]
    fn another_service_for_the_same_person_at_once_is_no_overlap_of_the_service() {
        let mut education = visit(2, BRUNO, GIOVANNA, "08:30", "09:00");
        education.service_type_id = ADM;
        assert_eq!(
            codes(&visit(1, ANNA, GIOVANNA, "08:00", "09:30"), &[education]),
            vec![]
        );
    }

    #[test]
    fn missed_and_open_visits_take_no_time() {
        let morning = visit(1, ANNA, GIOVANNA, "08:00", "09:30");
        let mut missed = visit(2, ANNA, PIETRO, "08:30", "09:00");
        missed.missed = true;
        let mut open = visit(3, ANNA, PIETRO, "08:30", "09:00");
        open.ended_at = None;
        assert_eq!(codes(&morning, &[missed, open]), vec![]);
    }
}
