//! Keeping findings current (DESIGN.md §4): after a record, its plan, a neighbouring record or
//! the municipality's settings change, the findings that change can affect are recomputed in
//! the same transaction as the change, so a record is never shown with stale findings.
//!
//! Each recheck loads a context (the records the rules need to see), picks the targets (the
//! records whose findings may have changed, per rule family) and hands both to the pure
//! engine in `domain::rules::evaluate`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::{
    db::{
        entities::{care_plan, finding, service_record},
        findings::{
            context::{self, distinct},
            store,
        },
    },
    domain::{
        civil_time,
        rules::{
            evaluate::{self, Batch, PlanContext, RecordRow, Targets},
            settings::Family,
        },
    },
};

/// Where a record is, or was before a change, in time and in the plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub care_plan_id: Uuid,
    pub operator_id: Uuid,
    pub service_type_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Span {
    /// The span of a stored record.
    pub fn of(m: &service_record::Model) -> Self {
        Self {
            care_plan_id: m.care_plan_id,
            operator_id: m.operator_id,
            service_type_id: m.service_type_id,
            started_at: m.started_at,
            ended_at: m.ended_at,
        }
    }

    fn of_row(r: &RecordRow) -> Self {
        Self {
            care_plan_id: r.care_plan_id,
            operator_id: r.operator_id,
            service_type_id: r.service_type_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }

    fn end(&self) -> DateTime<Utc> {
        self.ended_at
            .unwrap_or(self.started_at)
            .max(self.started_at)
    }

    /// The days whose allowance totals this record counts in: its week and its month.
    fn allowance_window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = civil_time::local_date(self.started_at);
        let (week_from, week_to) = civil_time::week_bounds(day);
        let (month_from, month_to) = civil_time::month_bounds(day);
        let next = |d: chrono::NaiveDate| d + chrono::Duration::days(1);
        (
            civil_time::start_of_day(week_from.min(month_from)),
            civil_time::start_of_day(next(week_to.max(month_to))),
        )
    }
}

/// Rechecks after records were created, changed or removed: `changed` are the records as they
/// are now (removed ones are gone with their findings), `before` where changed and removed
/// records were before.
pub async fn after_records_changed(
    db: &impl ConnectionTrait,
    changed: &[Uuid],
    before: &[Span],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let after = context::records_by_id(db, changed).await?;
    let spans: Vec<Span> = before
        .iter()
        .copied()
        .chain(after.iter().map(Span::of_row))
        .collect();
    let (Some(lo), Some(hi)) = (
        spans.iter().map(|s| s.started_at).min(),
        spans.iter().map(Span::end).max(),
    ) else {
        return Ok(());
    };
    let span_plans = distinct(spans.iter().map(|s| s.care_plan_id));
    let beneficiary_plans: HashMap<Uuid, Uuid> = context::beneficiary_plans(db, &span_plans)
        .await?
        .into_iter()
        .collect();
    let operators = distinct(spans.iter().map(|s| s.operator_id));

    // The context: every record a target's rules may compare it with (the same operator's and
    // the same beneficiary's visits around the changes, and the plans' allowance periods).
    let margin = context::reach() * 2;
    let sibling_plans: Vec<Uuid> = beneficiary_plans.keys().copied().collect();
    let windows: Vec<_> = spans.iter().map(Span::allowance_window).collect();
    let mut near = vec![context::Near {
        operators: &operators,
        plans: &sibling_plans,
        from: lo - margin,
        to: hi + margin,
    }];
    if let (Some(from), Some(to)) = (
        windows.iter().map(|w| w.0).min(),
        windows.iter().map(|w| w.1).max(),
    ) {
        near.push(context::Near {
            operators: &[],
            plans: &span_plans,
            from,
            to,
        });
    }
    let mut rows = context::records_near(db, &near).await?;
    rows.extend(after);
    let rows = dedup(rows);

    // The targets: the changed records, the records near them, and those counted with them.
    let reach = context::reach();
    let mut record_targets: HashSet<Uuid> = changed.iter().copied().collect();
    record_targets.retain(|id| rows.iter().any(|r| r.id == *id));
    let mut neighbour_targets = record_targets.clone();
    let mut allowance_targets = record_targets.clone();
    for r in &rows {
        let beneficiary = beneficiary_plans.get(&r.care_plan_id);
        for (s, window) in spans.iter().zip(&windows) {
            let near = r.started_at >= s.started_at - reach && r.started_at <= s.end() + reach;
            let same_service = r.service_type_id == s.service_type_id
                && beneficiary.is_some()
                && beneficiary == beneficiary_plans.get(&s.care_plan_id);
            if near && (r.operator_id == s.operator_id || same_service) {
                neighbour_targets.insert(r.id);
            }
            if r.care_plan_id == s.care_plan_id
                && r.service_type_id == s.service_type_id
                && r.started_at >= window.0
                && r.started_at < window.1
            {
                allowance_targets.insert(r.id);
            }
        }
    }
    let targets = Targets::Some(HashMap::from([
        (Family::Record, record_targets),
        (Family::Neighbours, neighbour_targets),
        (Family::Allowance, allowance_targets),
    ]));
    // The plans of every row, and of the changes' spans, in one go.
    let plans = context::plans(
        db,
        &distinct(
            span_plans
                .iter()
                .copied()
                .chain(rows.iter().map(|r| r.care_plan_id)),
        ),
    )
    .await?;
    run(db, &rows, plans, &targets, now).await
}

/// Rechecks a plan's records after the plan changed (status, period, planned services,
/// operators): the rules about the plan and its allowances. Overlaps do not depend on it.
pub async fn after_plan_changed(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = context::records(
        db,
        Condition::all().add(service_record::Column::CarePlanId.eq(plan_id)),
    )
    .await?;
    let ids: HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
    let targets = Targets::Some(HashMap::from([
        (Family::Record, ids.clone()),
        (Family::Allowance, ids),
    ]));
    let plans = context::plans(db, &[plan_id]).await?;
    run(db, &rows, plans, &targets, now).await
}

/// Rechecks every record of a municipality after its rule settings changed.
pub async fn after_settings_changed(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let plan_ids: Vec<Uuid> = care_plan::Entity::find()
        .filter(care_plan::Column::MunicipalityId.eq(municipality_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut rows = Vec::new();
    for chunk in plan_ids.chunks(500) {
        rows.extend(
            context::records(
                db,
                Condition::all()
                    .add(service_record::Column::CarePlanId.is_in(chunk.iter().copied())),
            )
            .await?,
        );
    }
    let ids: HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
    // Operators also work for other municipalities: their visits there can overlap.
    let operators = distinct(rows.iter().map(|r| r.operator_id));
    if let (Some(lo), Some(hi)) = (
        rows.iter().map(|r| r.started_at).min(),
        rows.iter()
            .map(|r| r.ended_at.unwrap_or(r.started_at))
            .max(),
    ) {
        let margin = context::reach() * 2;
        let near = context::Near {
            operators: &operators,
            plans: &[],
            from: lo - margin,
            to: hi + margin,
        };
        rows.extend(context::records_near(db, &[near]).await?);
    }
    let rows = dedup(rows);
    let plans = context::plans(db, &distinct(rows.iter().map(|r| r.care_plan_id))).await?;
    let targets = Targets::Some(HashMap::from([
        (Family::Record, ids.clone()),
        (Family::Neighbours, ids.clone()),
        (Family::Allowance, ids),
    ]));
    run(db, &rows, plans, &targets, now).await
}

/// Recomputes every finding from scratch (`taccuino recheck-findings`; after the demo load).
/// Returns how many records and findings there are.
pub async fn recheck_all(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(usize, usize), DbErr> {
    // Every plan, before the records: on SQLite the first statements after a million-row
    // read run slowly for a while (measured: 100 small ones took 2 s instead of 0.3 s).
    let plan_ids: Vec<Uuid> = care_plan::Entity::find()
        .select_only()
        .column(care_plan::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let plans = context::plans(db, &plan_ids).await?;
    let rows = context::records(db, Condition::all()).await?;
    finding::Entity::delete_many().exec(db).await?;
    let found = evaluate_batch(db, &rows, &plans, &Targets::All, now).await?;
    // Every finding is gone already: only the inserts of `store::replace` are left to do.
    store::insert(db, &found, now).await?;
    Ok((rows.len(), found.values().map(Vec::len).sum()))
}

async fn run(
    db: &impl ConnectionTrait,
    rows: &[RecordRow],
    mut plans: HashMap<Uuid, PlanContext>,
    targets: &Targets,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let missing: Vec<Uuid> = distinct(rows.iter().map(|r| r.care_plan_id))
        .into_iter()
        .filter(|id| !plans.contains_key(id))
        .collect();
    if !missing.is_empty() {
        plans.extend(context::plans(db, &missing).await?);
    }
    let found = evaluate_batch(db, rows, &plans, targets, now).await?;
    store::replace(db, targets, &found, now).await
}

async fn evaluate_batch(
    db: &impl ConnectionTrait,
    rows: &[RecordRow],
    plans: &HashMap<Uuid, PlanContext>,
    targets: &Targets,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<crate::domain::rules::Finding>>, DbErr> {
    let municipalities = distinct(plans.values().map(|p| p.municipality_id));
    let settings = context::settings(db, &municipalities).await?;
    Ok(evaluate::evaluate(
        Batch {
            records: rows,
            plans,
            settings: &settings,
            now,
        },
        targets,
    ))
}

fn dedup(rows: Vec<RecordRow>) -> Vec<RecordRow> {
    let mut seen = HashSet::new();
    rows.into_iter().filter(|r| seen.insert(r.id)).collect()
}
