//! The synthetic workload of `findings-bench` (issue 6): municipalities, providers, operators,
//! care plans with their allowances, and service records over ~100 days, generated from a
//! fixed seed so two runs measure the same data.
//!
//! The shape is meant to look like a real register rather than random noise, because the
//! engine's cost depends on it (how many neighbours each visit meets, how many findings are
//! written):
//!
//! - Every operator has a weekly timetable of 6 days x 5 slots (07:30, 09:40, 11:50, 14:00,
//!   16:10 in Europe/Rome, up to 10 minutes late). A slot lasts at most 130 minutes and a visit
//!   30-120, so an operator's regular visits never overlap: overlaps come only from what is
//!   planted.
//! - A plan takes 5-10 weekly slots from 2-4 operators of its provider, never two at the same
//!   weekday and hour (so two operators never visit the same person at once by accident).
//! - Over the window that makes a little more than the records asked for; the surplus is
//!   dropped at random (holidays, visits not done), so the count is exact.
//! - A small fraction is planted so every rule family has work: likely duplicates, operator
//!   and beneficiary overlaps, visits by operators not on the plan, tight allowances (weekly
//!   and monthly), plans that ended or were suspended during the window, late, open, missed
//!   and implausibly short visits, incomplete or implausible transports, visits recorded far
//!   from the beneficiary's address.
//! - 70% of beneficiaries have a geocoded address around Melegnano; half of the visits carry
//!   the device's position, a few dozen metres from it.
//!
//! [`Dataset::contexts`] builds the plans exactly as the server's context loader reads the
//! rows [`super::load`] writes, so the in-memory engine run finds what the database path
//! finds (the benchmark checks the counts are equal).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use taccuino_server::domain::{
    care_plan::PlanStatus,
    civil_time,
    period::AllowancePeriod,
    rules::{
        allowance::Allowance,
        evaluate::{PlanContext, RecordRow},
        record::{Interruption, PlanFacts, PlannedWindow},
    },
    service_record::{MissedReason, RecordStatus, ServiceUnit},
    values::MILLI,
};
use uuid::Uuid;

/// The seed of every dataset (`--seed` overrides it).
pub const SEED: u64 = 0x7ACC_0006_F1D5;

/// splitmix64, as in the demo data: tiny, stable across platforms and crate updates.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1).max(1) as u64) as i64
    }

    /// True `per_10k` times in 10,000.
    pub fn chance(&mut self, per_10k: u64) -> bool {
        self.next_u64() % 10_000 < per_10k
    }

    /// A random (version 4) UUID from this generator, so ids are reproducible too.
    pub fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// How big the dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub records: usize,
    pub plans: usize,
    pub operators: usize,
    /// Length of the window of visits, in days.
    pub days: i64,
    pub municipalities: usize,
    pub providers: usize,
    pub seed: u64,
}

impl Params {
    /// Issue 6's figures: 1,000,000 records, 10,000 plans, ~3,000 operators, ~100 days.
    pub fn issue6(seed: u64) -> Self {
        Self {
            records: 1_000_000,
            plans: 10_000,
            operators: 3_000,
            days: 100,
            municipalities: 10,
            providers: 20,
            seed,
        }
    }
}

/// The service types every municipality has: (code, unit, allowance period).
pub const SERVICE_TYPES: [(&str, ServiceUnit, AllowancePeriod); 3] = [
    ("SAD", ServiceUnit::Hour, AllowancePeriod::Week),
    ("ADM", ServiceUnit::Hour, AllowancePeriod::Month),
    ("TRASP", ServiceUnit::Trip, AllowancePeriod::Month),
];

/// A service type of a municipality.
#[derive(Debug, Clone)]
pub struct ServiceType {
    pub id: Uuid,
    pub municipality: usize,
    pub code: &'static str,
    pub unit: ServiceUnit,
}

/// A planned service of a plan.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: Uuid,
    /// Index into [`SERVICE_TYPES`].
    pub kind: usize,
    pub service_type_id: Uuid,
    pub allowance_milli: i64,
}

/// A care plan and what the database needs about it besides the rules' view.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: Uuid,
    pub municipality: usize,
    pub provider: usize,
    pub beneficiary_id: Uuid,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub operators: Vec<Uuid>,
    pub planned: Vec<Planned>,
    /// A suspension during the window: (from, until).
    pub suspension: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The beneficiary's geocoded address (latitude, longitude), when known.
    pub home: Option<(f64, f64)>,
}

/// An operator and their provider (index into `providers`).
#[derive(Debug, Clone, Copy)]
pub struct Operator {
    pub id: Uuid,
    pub provider: usize,
}

/// How many of each planted problem the dataset holds (rows planted, not findings).
#[derive(Debug, Clone, Copy, Default)]
pub struct Planted {
    pub duplicates: usize,
    pub operator_overlaps: usize,
    pub beneficiary_overlaps: usize,
    pub unauthorized: usize,
    pub late: usize,
    pub open: usize,
    pub missed: usize,
    pub missed_without_reason: usize,
    pub short: usize,
    pub transport_incomplete: usize,
    pub implausible_km: usize,
    pub far_from_address: usize,
    pub tight_allowance_plans: usize,
    pub ended_plans: usize,
    pub suspended_plans: usize,
}

/// Everything generated.
#[derive(Debug)]
pub struct Dataset {
    pub params: Params,
    /// The first day of the window (a Monday).
    pub start: NaiveDate,
    /// The instant the findings are computed at: the day after the window, at noon.
    pub now: DateTime<Utc>,
    pub municipalities: Vec<Uuid>,
    /// One social worker per municipality (plans need one).
    pub social_workers: Vec<Uuid>,
    pub providers: Vec<Uuid>,
    pub operators: Vec<Operator>,
    /// `SERVICE_TYPES.len()` per municipality, in order.
    pub service_types: Vec<ServiceType>,
    pub plans: Vec<Plan>,
    pub records: Vec<RecordRow>,
    pub planted: Planted,
}

/// Minutes from local midnight of each slot's start.
const SLOTS: [i64; 5] = [450, 580, 710, 840, 970];
/// Working days a week (Monday to Saturday).
const WORKDAYS: usize = 6;

/// A weekly slot of an operator given to a plan.
#[derive(Debug, Clone, Copy)]
struct Assignment {
    plan: usize,
    operator: Uuid,
    weekday: usize,
    slot: usize,
    /// Index into the plan's `planned`.
    planned: usize,
}

impl Dataset {
    /// The first day of the window: a fixed Monday, so the dataset does not depend on the
    /// day it is generated.
    pub fn default_start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 8, 3).unwrap_or_default()
    }

    /// Generates the dataset. Fails only when the parameters leave too few slots for the
    /// records asked.
    pub fn generate(params: Params) -> anyhow::Result<Self> {
        let mut rng = Rng::new(params.seed);
        let start = Self::default_start();
        let end = start + Duration::days(params.days);
        let now = civil_time::start_of_day(end + Duration::days(1)) + Duration::hours(12);

        let municipalities: Vec<Uuid> = (0..params.municipalities).map(|_| rng.uuid()).collect();
        let social_workers: Vec<Uuid> = (0..params.municipalities).map(|_| rng.uuid()).collect();
        let providers: Vec<Uuid> = (0..params.providers).map(|_| rng.uuid()).collect();
        let operators: Vec<Operator> = (0..params.operators)
            .map(|i| Operator {
                id: rng.uuid(),
                provider: i % params.providers,
            })
            .collect();
        let service_types: Vec<ServiceType> = (0..params.municipalities)
            .flat_map(|m| {
                SERVICE_TYPES
                    .iter()
                    .map(move |&(code, unit, _)| (m, code, unit))
            })
            .map(|(municipality, code, unit)| ServiceType {
                id: rng.uuid(),
                municipality,
                code,
                unit,
            })
            .collect();

        let mut planted = Planted::default();
        let (mut plans, assignments) = plans_and_timetables(
            &params,
            start,
            &operators,
            &service_types,
            &mut rng,
            &mut planted,
        );

        // The regular visits, from the timetables.
        let mut by_weekday: Vec<Vec<Assignment>> = vec![Vec::new(); 7];
        for a in assignments {
            by_weekday[a.weekday].push(a);
        }
        let mut records = Vec::new();
        for d in 0..params.days {
            let date = start + Duration::days(d);
            let weekday = date.weekday().num_days_from_monday() as usize;
            let midnight = civil_time::start_of_day(date);
            for a in &by_weekday[weekday] {
                let plan = &plans[a.plan];
                let planned = &plan.planned[a.planned];
                let started = midnight + Duration::minutes(SLOTS[a.slot] + rng.range(0, 10));
                let minutes = rng.range(30, 120);
                records.push(visit(
                    &mut rng, plan, planned, a.operator, started, minutes, now,
                ));
            }
        }

        // Planted rows come on top of the regular ones; the surplus of regular ones goes.
        let extras = plant_extra_rows(&params, &plans, &operators, &records, now, &mut rng);
        let base = params.records.saturating_sub(extras.len());
        anyhow::ensure!(
            records.len() >= base,
            "the timetables give {} visits, fewer than the {base} asked: more operators or days",
            records.len()
        );
        while records.len() > base {
            let i = rng.below(records.len());
            records.swap_remove(i);
        }
        for r in &mut records {
            mutate(r, &mut rng, &mut planted);
        }
        count_extras(&extras, &mut planted);
        records.extend(extras.into_iter().map(|(_, r)| r));
        rng.shuffle(&mut records);

        // Statuses: most of what is older than a month was reviewed.
        let reviewed_before = now - Duration::days(30);
        for r in &mut records {
            if r.started_at < reviewed_before {
                r.status = match rng.below(100) {
                    0..=1 => RecordStatus::Rejected,
                    2..=91 => RecordStatus::Validated,
                    _ => RecordStatus::Recorded,
                };
            }
        }
        plans.shrink_to_fit();
        Ok(Self {
            params,
            start,
            now,
            municipalities,
            social_workers,
            providers,
            operators,
            service_types,
            plans,
            records,
            planted,
        })
    }

    /// The plans as the rules read them.
    pub fn contexts(&self) -> HashMap<Uuid, PlanContext> {
        self.plans
            .iter()
            .map(|p| {
                let municipality = self.municipalities[p.municipality];
                (p.id, context(p, municipality, &self.service_types))
            })
            .collect()
    }

    /// `n` new visits, as a device would send them today: each of a random plan, by one of
    /// its operators, in the evening of one of the window's last 14 days (after the last
    /// slot, so most of them are clean), 30-90 minutes.
    pub fn new_records(&self, n: usize, seed: u64) -> Vec<RecordRow> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let plan = &self.plans[rng.below(self.plans.len())];
                let operator = plan.operators[rng.below(plan.operators.len())];
                let day = self.start + Duration::days(self.params.days - 1 - rng.range(0, 13));
                let started = civil_time::start_of_day(day)
                    + Duration::minutes(19 * 60 + 30 + rng.range(0, 30));
                let minutes = rng.range(30, 90);
                let mut r = visit(
                    &mut rng,
                    plan,
                    &plan.planned[0],
                    operator,
                    started,
                    minutes,
                    self.now,
                );
                r.received_at = r.ended_at.unwrap_or(r.started_at) + Duration::minutes(1);
                r
            })
            .collect()
    }
}

/// The plans and the weekly slots their operators give them.
fn plans_and_timetables(
    params: &Params,
    start: NaiveDate,
    operators: &[Operator],
    service_types: &[ServiceType],
    rng: &mut Rng,
    planted: &mut Planted,
) -> (Vec<Plan>, Vec<Assignment>) {
    let end = start + Duration::days(params.days);
    let mut pool: Vec<Vec<usize>> = vec![Vec::new(); params.providers];
    for (i, o) in operators.iter().enumerate() {
        pool[o.provider].push(i);
    }
    // Each operator's free (weekday, slot) pairs, in random order.
    let mut free: Vec<Vec<(usize, usize)>> = operators
        .iter()
        .map(|_| {
            let mut slots: Vec<(usize, usize)> = (0..WORKDAYS)
                .flat_map(|d| (0..SLOTS.len()).map(move |s| (d, s)))
                .collect();
            rng.shuffle(&mut slots);
            slots
        })
        .collect();

    let mut plans = Vec::with_capacity(params.plans);
    let mut assignments = Vec::new();
    for j in 0..params.plans {
        let municipality = j % params.municipalities;
        let provider = j % params.providers;
        let types = &service_types[municipality * SERVICE_TYPES.len()..];
        let tight = rng.chance(300);
        planted.tight_allowance_plans += usize::from(tight);
        let mut kinds = vec![0];
        if rng.chance(4_000) {
            kinds.push(1);
        }
        if rng.chance(2_000) {
            kinds.push(2);
        }
        let candidates = &pool[provider];
        let mut team: Vec<usize> = Vec::new();
        let size = rng.range(2, 4) as usize;
        while team.len() < size.min(candidates.len()) {
            let o = candidates[rng.below(candidates.len())];
            if !team.contains(&o) {
                team.push(o);
            }
        }
        // Weekly visits, spread over the team, one service type each.
        let weekly = rng.range(5, 10) as usize;
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut slots_of_kind = [0i64; SERVICE_TYPES.len()];
        for v in 0..weekly {
            let Some((o, weekday, slot)) = (0..team.len()).find_map(|k| {
                let o = team[(v + k) % team.len()];
                let at = free[o].iter().rposition(|s| !taken.contains(s))?;
                let (weekday, slot) = free[o].swap_remove(at);
                Some((o, weekday, slot))
            }) else {
                break;
            };
            taken.push((weekday, slot));
            let kind = if v == 0 {
                0
            } else {
                kinds[rng.below(kinds.len())]
            };
            slots_of_kind[kind] += 1;
            let planned = kinds.iter().position(|&k| k == kind).unwrap_or(0);
            assignments.push(Assignment {
                plan: j,
                operator: operators[o].id,
                weekday,
                slot,
                planned,
            });
        }
        // Allowances that the regular visits never pass (every visit at its longest), or
        // about the average for the tight plans, so some of their weeks and months go over.
        let planned = kinds
            .iter()
            .map(|&kind| {
                let n = slots_of_kind[kind].max(1);
                let allowance_milli = match (kind, tight) {
                    (0, false) => n * 2 * MILLI,
                    (0, true) => n * MILLI,
                    (1, false) => n * 5 * 2 * MILLI,
                    (1, true) => n * 4 * MILLI,
                    (_, false) => n * 5 * MILLI,
                    (_, true) => n * 4 * MILLI,
                };
                Planned {
                    id: rng.uuid(),
                    kind,
                    service_type_id: types[kind].id,
                    allowance_milli,
                }
            })
            .collect();
        let valid_from = start - Duration::days(rng.range(0, 60));
        let valid_to = if rng.chance(100) {
            planted.ended_plans += 1;
            end - Duration::days(rng.range(5, 15))
        } else {
            end + Duration::days(rng.range(30, 200))
        };
        let suspension = rng.chance(100).then(|| {
            planted.suspended_plans += 1;
            let from = civil_time::start_of_day(start + Duration::days(rng.range(20, 70)));
            (from, from + Duration::days(7))
        });
        let home = rng.chance(7_000).then(|| {
            (
                45.3585 + rng.range(-200, 200) as f64 * 1e-4,
                9.3232 + rng.range(-200, 200) as f64 * 1e-4,
            )
        });
        plans.push(Plan {
            id: rng.uuid(),
            home,
            municipality,
            provider,
            beneficiary_id: rng.uuid(),
            valid_from,
            valid_to,
            operators: team.iter().map(|&o| operators[o].id).collect(),
            planned,
            suspension,
        });
    }
    (plans, assignments)
}

/// A regular, clean visit.
fn visit(
    rng: &mut Rng,
    plan: &Plan,
    planned: &Planned,
    operator: Uuid,
    started_at: DateTime<Utc>,
    minutes: i64,
    now: DateTime<Utc>,
) -> RecordRow {
    let (_, unit, _) = SERVICE_TYPES[planned.kind];
    let ended_at = started_at + Duration::minutes(minutes);
    let transport = unit == ServiceUnit::Trip;
    // Within about 60 m of the address (1e-4 degrees is 11 m of latitude, 8 m of longitude).
    let position = plan.home.filter(|_| rng.chance(5_000)).map(|(lat, lon)| {
        (
            lat + rng.range(-5, 5) as f64 * 1e-4,
            lon + rng.range(-5, 5) as f64 * 1e-4,
        )
    });
    RecordRow {
        id: rng.uuid(),
        care_plan_id: plan.id,
        operator_id: operator,
        service_type_id: planned.service_type_id,
        unit,
        started_at,
        ended_at: Some(ended_at),
        quantity_milli: quantity(unit, started_at, Some(ended_at)),
        km_milli: transport.then(|| rng.range(3, 40) * MILLI),
        has_origin: transport,
        has_destination: transport,
        position,
        missed: false,
        missed_reason: None,
        status: RecordStatus::Recorded,
        received_at: (ended_at + Duration::minutes(rng.range(5, 36 * 60))).min(now),
    }
}

/// The quantity the server would store: hours for hours, one for a trip.
fn quantity(unit: ServiceUnit, started_at: DateTime<Utc>, ended_at: Option<DateTime<Utc>>) -> i64 {
    match (unit, ended_at) {
        (ServiceUnit::Hour, Some(end)) => (end - started_at).num_minutes() * MILLI / 60,
        (ServiceUnit::Hour, None) => 0,
        _ => MILLI,
    }
}

/// The single-record problems, planted on regular visits at fixed rates.
fn mutate(r: &mut RecordRow, rng: &mut Rng, planted: &mut Planted) {
    match rng.below(10_000) {
        0..50 => {
            r.received_at = r.ended_at.unwrap_or(r.started_at) + Duration::days(rng.range(6, 20));
            planted.late += 1;
        }
        50..60 if r.unit == ServiceUnit::Hour => {
            r.ended_at = None;
            r.quantity_milli = 0;
            planted.open += 1;
        }
        60..165 => {
            r.missed = true;
            r.ended_at = None;
            r.quantity_milli = 0;
            r.km_milli = None;
            if rng.chance(9_500) {
                r.missed_reason = Some(MissedReason::BeneficiaryAbsent);
                planted.missed += 1;
            } else {
                planted.missed_without_reason += 1;
            }
        }
        165..170 if r.unit == ServiceUnit::Hour => {
            r.ended_at = Some(r.started_at + Duration::minutes(3));
            r.quantity_milli = quantity(r.unit, r.started_at, r.ended_at);
            planted.short += 1;
        }
        _ => {}
    }
    if let Some((lat, lon)) = r.position.filter(|_| rng.chance(60)) {
        // About 1.1 km away: the visit was recorded somewhere else.
        r.position = Some((lat + 0.01, lon));
        planted.far_from_address += 1;
    }
    if r.unit == ServiceUnit::Trip && !r.missed {
        if rng.chance(200) {
            r.has_destination = false;
            planted.transport_incomplete += 1;
        } else if rng.chance(10) {
            r.km_milli = Some(250 * MILLI);
            planted.implausible_km += 1;
        }
    }
}

/// What a planted extra row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    Duplicate,
    OperatorOverlap,
    BeneficiaryOverlap,
    Unauthorized,
}

/// Rows added on top of the regular visits: 0.2% duplicates, 0.2% operator overlaps, 0.1%
/// beneficiary overlaps (in pairs, on Sundays, when nobody works), 0.05% visits by operators
/// not on the plan (Sundays too).
fn plant_extra_rows(
    params: &Params,
    plans: &[Plan],
    operators: &[Operator],
    records: &[RecordRow],
    now: DateTime<Utc>,
    rng: &mut Rng,
) -> Vec<(Extra, RecordRow)> {
    let per = |per_10k: usize| params.records * per_10k / 10_000;
    let plan_index: HashMap<Uuid, usize> =
        plans.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut plans_of: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for (i, p) in plans.iter().enumerate() {
        for o in &p.operators {
            plans_of.entry(*o).or_default().push(i);
        }
    }
    let start = Dataset::default_start();
    let sunday = |rng: &mut Rng| {
        let weeks = (params.days / 7).max(1);
        civil_time::start_of_day(start + Duration::days(7 * rng.range(0, weeks - 1) + 6))
    };
    let mut extras = Vec::new();
    if records.is_empty() || plans.is_empty() {
        return extras;
    }
    for _ in 0..per(20) {
        let r = &records[rng.below(records.len())];
        let mut copy = r.clone();
        copy.id = rng.uuid();
        copy.started_at += Duration::minutes(rng.range(2, 10));
        copy.quantity_milli = quantity(copy.unit, copy.started_at, copy.ended_at);
        copy.received_at = (copy.received_at + Duration::hours(2)).min(now);
        extras.push((Extra::Duplicate, copy));
    }
    for _ in 0..per(20) {
        let r = &records[rng.below(records.len())];
        let Some(others) = plans_of.get(&r.operator_id) else {
            continue;
        };
        let Some(&other) = others
            .iter()
            .find(|&&p| Some(&p) != plan_index.get(&r.care_plan_id))
        else {
            continue;
        };
        let plan = &plans[other];
        let mut row = visit(
            rng,
            plan,
            &plan.planned[0],
            r.operator_id,
            r.started_at + Duration::minutes(15),
            30,
            now,
        );
        row.received_at = now.min(row.received_at);
        extras.push((Extra::OperatorOverlap, row));
    }
    for _ in 0..per(5) {
        let plan = &plans[rng.below(plans.len())];
        if plan.operators.len() < 2 {
            continue;
        }
        let at = sunday(rng) + Duration::hours(10);
        for (k, offset) in [(0usize, 0i64), (1, 30)] {
            let row = visit(
                rng,
                plan,
                &plan.planned[0],
                plan.operators[k],
                at + Duration::minutes(offset),
                60,
                now,
            );
            extras.push((Extra::BeneficiaryOverlap, row));
        }
    }
    for _ in 0..per(5) {
        let plan = &plans[rng.below(plans.len())];
        let stranger = (0..20).find_map(|_| {
            let o = operators[rng.below(operators.len())];
            (o.provider == plan.provider && !plan.operators.contains(&o.id)).then_some(o.id)
        });
        let Some(stranger) = stranger else {
            continue;
        };
        let at = sunday(rng) + Duration::hours(15);
        let row = visit(rng, plan, &plan.planned[0], stranger, at, 60, now);
        extras.push((Extra::Unauthorized, row));
    }
    extras
}

fn count_extras(extras: &[(Extra, RecordRow)], planted: &mut Planted) {
    for (kind, _) in extras {
        match kind {
            Extra::Duplicate => planted.duplicates += 1,
            Extra::OperatorOverlap => planted.operator_overlaps += 1,
            Extra::BeneficiaryOverlap => planted.beneficiary_overlaps += 1,
            Extra::Unauthorized => planted.unauthorized += 1,
        }
    }
}

/// A plan as the rules read it, as `db::findings::context::plans` would build it from the
/// rows the loader writes.
fn context(plan: &Plan, municipality_id: Uuid, service_types: &[ServiceType]) -> PlanContext {
    let unit_of = |id: Uuid| {
        service_types
            .iter()
            .find(|t| t.id == id)
            .map_or(ServiceUnit::Hour, |t| t.unit)
    };
    PlanContext {
        municipality_id,
        beneficiary_id: plan.beneficiary_id,
        facts: PlanFacts {
            status: PlanStatus::Active,
            interruptions: plan
                .suspension
                .map(|(from, until)| Interruption {
                    status: PlanStatus::Suspended,
                    from,
                    until: Some(until),
                })
                .into_iter()
                .collect(),
            operators: plan.operators.clone(),
            removed_operators: Vec::new(),
            valid_from: plan.valid_from,
            valid_to: plan.valid_to,
            planned: plan
                .planned
                .iter()
                .map(|p| PlannedWindow {
                    service_type_id: p.service_type_id,
                    valid_from: None,
                    valid_to: None,
                })
                .collect(),
            address_position: plan.home,
        },
        allowances: plan
            .planned
            .iter()
            .map(|p| {
                let (_, _, period) = SERVICE_TYPES[p.kind];
                (
                    p.service_type_id,
                    Allowance {
                        planned_service_id: p.id,
                        unit: unit_of(p.service_type_id),
                        period,
                        allowance_milli: p.allowance_milli,
                        from: plan.valid_from,
                        to: plan.valid_to,
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Params {
        Params {
            records: 20_000,
            plans: 200,
            operators: 60,
            days: 100,
            municipalities: 2,
            providers: 3,
            seed: SEED,
        }
    }

    #[test]
    fn the_count_is_exact_and_the_data_reproducible() -> anyhow::Result<()> {
        let a = Dataset::generate(small())?;
        let b = Dataset::generate(small())?;
        assert_eq!(a.records.len(), 20_000);
        assert_eq!(a.records, b.records);
        Ok(())
    }

    #[test]
    fn every_rule_family_has_work() -> anyhow::Result<()> {
        use std::collections::HashSet;
        use taccuino_server::domain::rules::{
            RuleCode,
            evaluate::{Batch, Targets, evaluate},
        };
        let data = Dataset::generate(small())?;
        let plans = data.contexts();
        let settings = HashMap::new();
        let found = evaluate(
            Batch {
                records: &data.records,
                plans: &plans,
                settings: &settings,
                now: data.now,
            },
            &Targets::All,
        );
        let codes: HashSet<RuleCode> = found.values().flatten().map(|f| f.code).collect();
        for code in [
            RuleCode::LikelyDuplicate,
            RuleCode::OperatorOverlap,
            RuleCode::BeneficiaryOverlap,
            RuleCode::OverAllowance,
            RuleCode::OperatorNotAuthorized,
            RuleCode::RecordedLate,
            RuleCode::VisitLeftOpen,
            RuleCode::OutsidePlanPeriod,
            RuleCode::PlanNotActive,
            RuleCode::FarFromAddress,
        ] {
            assert!(codes.contains(&code), "no {code:?}");
        }
        // Regular visits are clean: findings stay a small share of the records.
        let flagged = found.values().filter(|f| !f.is_empty()).count();
        assert!(
            flagged * 10 < data.records.len(),
            "{flagged} records flagged"
        );
        Ok(())
    }
}
