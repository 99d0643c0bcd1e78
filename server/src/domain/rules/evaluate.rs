//! All rules over a batch of records at once: the engine behind a full recomputation and behind
//! the incremental recheck after one change. The caller loads the records the checks need (the
//! context) and says which records' findings to recompute, per family (the targets); findings
//! come back for the targets only.
//!
//! Neighbours are found by a sweep over each operator's visits, and over each beneficiary's
//! visits of a service, sorted by start: each pair is judged once, so a batch costs
//! O(n log n) plus the pairs that actually come near each other.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Finding, RuleSettings,
    allowance::{self, Allowance, Counted},
    neighbours::{self, Visit},
    record::{self, PlanFacts, RecordFacts},
    settings::Family,
};
use crate::domain::{
    civil_time,
    service_record::{MissedReason, RecordStatus, ServiceUnit},
    values::MILLI,
};

/// A stored record, as the rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub operator_id: Uuid,
    pub service_type_id: Uuid,
    pub unit: ServiceUnit,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub quantity_milli: i64,
    pub km_milli: Option<i64>,
    pub has_origin: bool,
    pub has_destination: bool,
    pub position: Option<(f64, f64)>,
    pub missed: bool,
    pub missed_reason: Option<MissedReason>,
    pub status: RecordStatus,
    pub received_at: DateTime<Utc>,
}

/// A plan, as the rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanContext {
    pub municipality_id: Uuid,
    pub beneficiary_id: Uuid,
    pub facts: PlanFacts,
    /// The allowance of each planned service type.
    pub allowances: Vec<(Uuid, Allowance)>,
}

/// Which records to recompute, per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Every record of the batch, every family.
    All,
    /// These records, for these families.
    Some(HashMap<Family, HashSet<Uuid>>),
}

impl Targets {
    fn includes(&self, family: Family, id: Uuid) -> bool {
        match self {
            Targets::All => true,
            Targets::Some(map) => map.get(&family).is_some_and(|ids| ids.contains(&id)),
        }
    }

    fn any(&self, family: Family) -> bool {
        match self {
            Targets::All => true,
            Targets::Some(map) => map.get(&family).is_some_and(|ids| !ids.is_empty()),
        }
    }
}

/// Everything the rules need, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub records: &'a [RecordRow],
    pub plans: &'a HashMap<Uuid, PlanContext>,
    /// Per municipality; a municipality missing here uses the defaults.
    pub settings: &'a HashMap<Uuid, RuleSettings>,
    pub now: DateTime<Utc>,
}

/// The findings of the targets, grouped by record (a target without findings maps to an
/// empty list, so the caller can clear what it had).
pub fn evaluate(batch: Batch<'_>, targets: &Targets) -> HashMap<Uuid, Vec<Finding>> {
    let defaults = RuleSettings::default();
    let settings_of = |plan: &PlanContext| {
        batch
            .settings
            .get(&plan.municipality_id)
            .unwrap_or(&defaults)
    };
    // The three families read the same records and nothing of each other: a full
    // recomputation (a million records) runs them on separate threads, a recheck (a few
    // hundred) on the caller's.
    let (records, neighbours, allowances) = if batch.records.len() >= PARALLEL_FROM {
        std::thread::scope(|scope| {
            let neighbours = scope.spawn(|| neighbour_findings(batch, targets, &settings_of));
            let allowances = scope.spawn(|| allowance_findings(batch, targets, &settings_of));
            let records = record_findings(batch, targets, &settings_of);
            let join = |handle: std::thread::ScopedJoinHandle<'_, Found>| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (records, join(neighbours), join(allowances))
        })
    } else {
        (
            record_findings(batch, targets, &settings_of),
            neighbour_findings(batch, targets, &settings_of),
            allowance_findings(batch, targets, &settings_of),
        )
    };

    let mut found: Found = HashMap::with_capacity(batch.records.len());
    for r in batch.records.iter().filter(|r| {
        [Family::Record, Family::Neighbours, Family::Allowance]
            .into_iter()
            .any(|family| targets.includes(family, r.id))
    }) {
        found.entry(r.id).or_default();
    }
    // Family by family, so each record lists its findings in the same order however run.
    for part in [records, neighbours, allowances] {
        for (id, list) in part {
            found.entry(id).or_default().extend(list);
        }
    }
    found
}

/// Findings grouped by record.
type Found = HashMap<Uuid, Vec<Finding>>;

/// The municipality's settings of a plan's records.
type SettingsOf<'s, 'a> = dyn Fn(&PlanContext) -> &'a RuleSettings + Sync + 's;

/// Batches from this many records evaluate the rule families in parallel.
const PARALLEL_FROM: usize = 20_000;

fn record_findings<'a>(
    batch: Batch<'a>,
    targets: &Targets,
    settings_of: &SettingsOf<'_, 'a>,
) -> Found {
    let mut found: Found = HashMap::new();
    for r in batch
        .records
        .iter()
        .filter(|r| targets.includes(Family::Record, r.id))
    {
        if let Some(plan) = batch.plans.get(&r.care_plan_id) {
            let list = record::check(&record_facts(r), &plan.facts, settings_of(plan), batch.now);
            if !list.is_empty() {
                found.entry(r.id).or_default().extend(list);
            }
        }
    }
    found
}

fn neighbour_findings<'a>(
    batch: Batch<'a>,
    targets: &Targets,
    settings_of: &SettingsOf<'_, 'a>,
) -> Found {
    let mut found: Found = HashMap::new();
    if targets.any(Family::Neighbours) {
        sweep_neighbours(batch, targets, settings_of, &mut found);
    }
    found
}

fn allowance_findings<'a>(
    batch: Batch<'a>,
    targets: &Targets,
    settings_of: &SettingsOf<'_, 'a>,
) -> Found {
    let mut found: Found = HashMap::new();
    if !targets.any(Family::Allowance) {
        return found;
    }
    let mut groups: HashMap<(Uuid, Uuid), Vec<Counted>> = HashMap::new();
    for r in batch
        .records
        .iter()
        .filter(|r| r.status != RecordStatus::Rejected)
    {
        groups
            .entry((r.care_plan_id, r.service_type_id))
            .or_default()
            .push(Counted {
                id: r.id,
                started_at: r.started_at,
                quantity_milli: r.quantity_milli,
            });
    }
    for ((plan_id, service_type_id), counted) in groups {
        let Some(plan) = batch.plans.get(&plan_id) else {
            continue;
        };
        if !counted
            .iter()
            .any(|c| targets.includes(Family::Allowance, c.id))
        {
            continue;
        }
        for (_, allowance) in plan
            .allowances
            .iter()
            .filter(|(t, _)| *t == service_type_id)
        {
            for (id, finding) in allowance::check(allowance, &counted, settings_of(plan)) {
                if targets.includes(Family::Allowance, id) {
                    found.entry(id).or_default().push(finding);
                }
            }
        }
    }
    found
}

fn sweep_neighbours<'a>(
    batch: Batch<'a>,
    targets: &Targets,
    settings_of: &SettingsOf<'_, 'a>,
    found: &mut Found,
) {
    // (visit, its settings) grouped by operator, and by beneficiary and service.
    let mut by_operator: HashMap<Uuid, Vec<(Visit, &RuleSettings)>> = HashMap::new();
    let mut by_service: HashMap<(Uuid, Uuid), Vec<(Visit, &RuleSettings)>> = HashMap::new();
    // A rejected record will not be paid: it neither overlaps nor duplicates anything, so
    // rejecting the copy of a visit clears the original.
    for r in batch
        .records
        .iter()
        .filter(|r| r.status != RecordStatus::Rejected)
    {
        let Some(plan) = batch.plans.get(&r.care_plan_id) else {
            continue;
        };
        let visit = Visit {
            id: r.id,
            operator_id: r.operator_id,
            beneficiary_id: plan.beneficiary_id,
            service_type_id: r.service_type_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
            missed: r.missed,
        };
        let settings = settings_of(plan);
        by_operator
            .entry(r.operator_id)
            .or_default()
            .push((visit, settings));
        by_service
            .entry((plan.beneficiary_id, r.service_type_id))
            .or_default()
            .push((visit, settings));
    }
    let mut seen: HashSet<(Uuid, Uuid)> = HashSet::new();
    for mut group in by_operator.into_values().chain(by_service.into_values()) {
        group.sort_by_key(|(v, _)| (v.started_at, v.id));
        for (i, (a, settings)) in group.iter().enumerate() {
            let horizon = a.started_at + neighbours::reach(a, settings);
            for (b, _) in group[i + 1..]
                .iter()
                .take_while(|(b, _)| b.started_at <= horizon)
            {
                let key = if a.id < b.id {
                    (a.id, b.id)
                } else {
                    (b.id, a.id)
                };
                let Some(code) = neighbours::relation(a, b, settings) else {
                    continue;
                };
                // The same pair is met in both groupings when one operator serves the same
                // person twice; report it once.
                if !seen.insert(key) {
                    continue;
                }
                for (subject, other) in [(a, b), (b, a)] {
                    if targets.includes(Family::Neighbours, subject.id)
                        && let Some(f) = neighbours::finding(code, other.id, settings)
                    {
                        found.entry(subject.id).or_default().push(f);
                    }
                }
            }
        }
    }
}

/// A record's facts for the single-record rules.
pub fn record_facts(r: &RecordRow) -> RecordFacts {
    RecordFacts {
        operator_id: r.operator_id,
        service_type_id: r.service_type_id,
        unit: r.unit,
        started_at: r.started_at,
        local_start_date: civil_time::local_date(r.started_at),
        ended_at: r.ended_at,
        km: r.km_milli.map(|km| km as f64 / MILLI as f64),
        has_origin: r.has_origin,
        has_destination: r.has_destination,
        position: r.position,
        missed: r.missed,
        missed_reason: r.missed_reason,
        received_at: r.received_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        care_plan::PlanStatus,
        period::AllowancePeriod,
        rules::{RuleCode, record::PlannedWindow},
    };
    use chrono::NaiveDate;

    const PLAN: Uuid = Uuid::from_u128(100);
    const OTHER_PLAN: Uuid = Uuid::from_u128(101);
    const MUNICIPALITY: Uuid = Uuid::from_u128(200);
    const ANNA: Uuid = Uuid::from_u128(10);
    const BRUNO: Uuid = Uuid::from_u128(11);
    const SAD: Uuid = Uuid::from_u128(1);

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn plan(beneficiary: u128, operators: Vec<Uuid>) -> PlanContext {
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let to = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
        PlanContext {
            municipality_id: MUNICIPALITY,
            beneficiary_id: Uuid::from_u128(beneficiary),
            facts: PlanFacts {
                status: PlanStatus::Active,
                interruptions: vec![],
                operators,
                removed_operators: vec![],
                valid_from: from,
                valid_to: to,
                planned: vec![PlannedWindow {
                    service_type_id: SAD,
                    valid_from: None,
                    valid_to: None,
                }],
                address_position: None,
            },
            allowances: vec![(
                SAD,
                Allowance {
                    planned_service_id: Uuid::from_u128(300),
                    unit: ServiceUnit::Hour,
                    period: AllowancePeriod::Week,
                    allowance_milli: 3 * MILLI,
                    from,
                    to,
                },
            )],
        }
    }

    fn row(id: u128, plan: Uuid, operator: Uuid, from: &str, to: &str) -> RecordRow {
        let started_at = at(&format!("2026-11-{from}:00Z"));
        let ended_at = at(&format!("2026-11-{to}:00Z"));
        RecordRow {
            id: Uuid::from_u128(id),
            care_plan_id: plan,
            operator_id: operator,
            service_type_id: SAD,
            unit: ServiceUnit::Hour,
            started_at,
            ended_at: Some(ended_at),
            quantity_milli: (ended_at - started_at).num_minutes() * MILLI / 60,
            km_milli: None,
            has_origin: false,
            has_destination: false,
            position: None,
            missed: false,
            missed_reason: None,
            status: RecordStatus::Recorded,
            received_at: ended_at,
        }
    }

    fn run(records: &[RecordRow], targets: &Targets) -> Vec<(u128, RuleCode)> {
        let plans = HashMap::from([
            (PLAN, plan(1, vec![ANNA, BRUNO])),
            (OTHER_PLAN, plan(2, vec![ANNA])),
        ]);
        let settings = HashMap::new();
        let batch = Batch {
            records,
            plans: &plans,
            settings: &settings,
            now: at("2026-12-01T00:00:00Z"),
        };
        let mut out: Vec<(u128, RuleCode)> = evaluate(batch, targets)
            .into_iter()
            .flat_map(|(id, fs)| fs.into_iter().map(move |f| (id.as_u128(), f.code)))
            .collect();
        out.sort_by_key(|(id, code)| (*id, code.as_str()));
        out
    }

    fn week() -> Vec<RecordRow> {
        vec![
            row(1, PLAN, ANNA, "23T08:00", "23T09:30"),
            // Anna at another beneficiary's home at the same time.
            row(2, OTHER_PLAN, ANNA, "23T09:00", "23T10:00"),
            // Bruno with the first beneficiary, overlapping Anna's visit.
            row(3, PLAN, BRUNO, "23T09:15", "23T10:15"),
            // The week's allowance of 3 hours passes with this one.
            row(4, PLAN, ANNA, "25T08:00", "25T09:00"),
            // Entered twice.
            row(5, PLAN, ANNA, "25T08:05", "25T09:00"),
        ]
    }

    #[test]
    fn a_full_run_finds_every_family() {
        assert_eq!(
            run(&week(), &Targets::All),
            vec![
                (1, RuleCode::BeneficiaryOverlap),
                (1, RuleCode::OperatorOverlap),
                (2, RuleCode::OperatorOverlap),
                (3, RuleCode::BeneficiaryOverlap),
                (4, RuleCode::LikelyDuplicate),
                (4, RuleCode::OverAllowance),
                (5, RuleCode::LikelyDuplicate),
                (5, RuleCode::OverAllowance),
            ]
        );
    }

    #[test]
    fn targets_limit_what_is_recomputed_but_not_what_is_seen() {
        let only = |family, ids: &[u128]| {
            Targets::Some(HashMap::from([(
                family,
                ids.iter().map(|&i| Uuid::from_u128(i)).collect(),
            )]))
        };
        assert_eq!(
            run(&week(), &only(Family::Neighbours, &[2])),
            vec![(2, RuleCode::OperatorOverlap)]
        );
        assert_eq!(
            run(&week(), &only(Family::Allowance, &[1, 5])),
            vec![(1, RuleCode::OverAllowance), (5, RuleCode::OverAllowance)]
                .into_iter()
                .filter(|(id, _)| *id == 5)
                .collect::<Vec<_>>()
        );
        // A target without findings is still listed, so its old findings can be cleared.
        let plans = HashMap::from([(PLAN, plan(1, vec![ANNA, BRUNO]))]);
        let settings = HashMap::new();
        let records = vec![row(9, PLAN, ANNA, "20T08:00", "20T09:00")];
        let batch = Batch {
            records: &records,
            plans: &plans,
            settings: &settings,
            now: at("2026-12-01T00:00:00Z"),
        };
        assert_eq!(
            evaluate(batch, &only(Family::Record, &[9])).get(&Uuid::from_u128(9)),
            Some(&vec![])
        );
    }

    #[test]
    fn a_rejected_copy_no_longer_duplicates_the_original() {
        let mut records = week();
        records[4].status = RecordStatus::Rejected;
        let found = run(&records, &Targets::All);
        assert!(
            !found
                .iter()
                .any(|(_, code)| *code == RuleCode::LikelyDuplicate)
        );
    }

    #[test]
    fn rejected_records_do_not_count_against_the_allowance() {
        let mut records = week();
        records[0].status = RecordStatus::Rejected;
        records.truncate(4);
        assert!(
            !run(&records, &Targets::All)
                .iter()
                .any(|(_, code)| *code == RuleCode::OverAllowance)
        );
    }
}
