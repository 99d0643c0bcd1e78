//! Loading what the rules read: records as [`RecordRow`]s and plans as [`PlanContext`]s, with
//! the plan history (suspensions, closure, removed operators) and the municipalities' settings.

use std::collections::HashMap;

use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    db::entities::{
        beneficiary, care_plan, care_plan_operator, care_plan_operator_removal,
        care_plan_status_change, planned_service, rule_setting, service_record, service_type,
    },
    domain::{
        care_plan::PlanStatus,
        period::AllowancePeriod,
        rules::{
            RuleSettings,
            allowance::Allowance,
            evaluate::{PlanContext, RecordRow},
            record::{Interruption, PlanFacts, PlannedWindow},
            settings::RuleSettingsDocument,
        },
        service_record::{MissedReason, RecordStatus, ServiceUnit},
    },
};

/// Rows per `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 500;

/// Records matching `condition`, as the rules read them.
pub async fn records(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> Result<Vec<RecordRow>, DbErr> {
    let rows = service_record::Entity::find()
        .filter(condition)
        .all(db)
        .await?;
    rows_of(db, rows).await
}

/// Records with these ids.
pub async fn records_by_id(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<RecordRow>, DbErr> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            service_record::Entity::find()
                .filter(service_record::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    rows_of(db, rows).await
}

async fn rows_of(
    db: &impl ConnectionTrait,
    rows: Vec<service_record::Model>,
) -> Result<Vec<RecordRow>, DbErr> {
    let units = units(db, &distinct(rows.iter().map(|r| r.service_type_id))).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let unit = units
                .get(&r.service_type_id)
                .copied()
                .unwrap_or(ServiceUnit::Access);
            row(r, unit)
        })
        .collect())
}

/// A stored record as the rules read it.
pub fn row(r: service_record::Model, unit: ServiceUnit) -> RecordRow {
    RecordRow {
        id: r.id,
        care_plan_id: r.care_plan_id,
        operator_id: r.operator_id,
        service_type_id: r.service_type_id,
        unit,
        started_at: r.started_at,
        ended_at: r.ended_at,
        quantity_milli: r.quantity_milli,
        km_milli: r.km_milli,
        has_origin: r.origin.as_deref().is_some_and(|o| !o.trim().is_empty()),
        has_destination: r
            .destination
            .as_deref()
            .is_some_and(|d| !d.trim().is_empty()),
        position: r.latitude.zip(r.longitude),
        missed: r.missed,
        missed_reason: r.missed_reason.as_deref().and_then(MissedReason::parse),
        status: RecordStatus::parse(&r.status).unwrap_or(RecordStatus::Recorded),
        received_at: r.received_at,
    }
}

/// The unit of each service type.
pub async fn units(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, ServiceUnit>, DbErr> {
    let mut units = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for t in service_type::Entity::find()
            .filter(service_type::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            if let Some(unit) = ServiceUnit::parse(&t.unit) {
                units.insert(t.id, unit);
            }
        }
    }
    Ok(units)
}

/// The plans with these ids, with everything the rules read about them.
pub async fn plans(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, PlanContext>, DbErr> {
    let mut plans = Vec::new();
    let mut services = Vec::new();
    let mut operators = Vec::new();
    let mut removals = Vec::new();
    let mut changes = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        plans.extend(
            care_plan::Entity::find()
                .filter(care_plan::Column::Id.is_in(chunk.clone()))
                .all(db)
                .await?,
        );
        services.extend(
            planned_service::Entity::find()
                .filter(planned_service::Column::CarePlanId.is_in(chunk.clone()))
                .all(db)
                .await?,
        );
        operators.extend(
            care_plan_operator::Entity::find()
                .filter(care_plan_operator::Column::CarePlanId.is_in(chunk.clone()))
                .all(db)
                .await?,
        );
        removals.extend(
            care_plan_operator_removal::Entity::find()
                .filter(care_plan_operator_removal::Column::CarePlanId.is_in(chunk.clone()))
                .all(db)
                .await?,
        );
        changes.extend(
            care_plan_status_change::Entity::find()
                .filter(care_plan_status_change::Column::CarePlanId.is_in(chunk))
                .all(db)
                .await?,
        );
    }
    let units = units(db, &distinct(services.iter().map(|s| s.service_type_id))).await?;
    let people = distinct(plans.iter().map(|p| p.beneficiary_id));
    let mut homes: HashMap<Uuid, (f64, f64)> = HashMap::new();
    for chunk in people.chunks(CHUNK) {
        for b in beneficiary::Entity::find()
            .filter(beneficiary::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            if let Some(home) = b.address_latitude.zip(b.address_longitude) {
                homes.insert(b.id, home);
            }
        }
    }
    let mut contexts: HashMap<Uuid, PlanContext> = plans
        .into_iter()
        .map(|p| {
            let status = PlanStatus::parse(&p.status).unwrap_or(PlanStatus::Draft);
            let context = PlanContext {
                municipality_id: p.municipality_id,
                beneficiary_id: p.beneficiary_id,
                facts: PlanFacts {
                    status,
                    interruptions: legacy_interruption(&p, status),
                    operators: Vec::new(),
                    removed_operators: Vec::new(),
                    valid_from: p.valid_from,
                    valid_to: p.valid_to,
                    planned: Vec::new(),
                    address_position: homes.get(&p.beneficiary_id).copied(),
                },
                allowances: Vec::new(),
            };
            (p.id, context)
        })
        .collect();
    for s in services {
        let Some(plan) = contexts.get_mut(&s.care_plan_id) else {
            continue;
        };
        plan.facts.planned.push(PlannedWindow {
            service_type_id: s.service_type_id,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
        });
        let (Some(unit), Some(period)) = (
            units.get(&s.service_type_id),
            AllowancePeriod::parse(&s.allowance_period),
        ) else {
            continue;
        };
        let from = s
            .valid_from
            .unwrap_or(plan.facts.valid_from)
            .max(plan.facts.valid_from);
        let to = s
            .valid_to
            .unwrap_or(plan.facts.valid_to)
            .min(plan.facts.valid_to);
        plan.allowances.push((
            s.service_type_id,
            Allowance {
                planned_service_id: s.id,
                unit: *unit,
                period,
                allowance_milli: s.allowance_milli,
                from,
                to,
            },
        ));
    }
    for o in operators {
        if let Some(plan) = contexts.get_mut(&o.care_plan_id) {
            plan.facts.operators.push(o.operator_id);
        }
    }
    for r in removals {
        if let Some(plan) = contexts.get_mut(&r.care_plan_id) {
            plan.facts
                .removed_operators
                .push((r.operator_id, r.removed_at));
        }
    }
    changes.sort_by_key(|c| (c.care_plan_id, c.changed_at));
    let mut by_plan: HashMap<Uuid, Vec<care_plan_status_change::Model>> = HashMap::new();
    for c in changes {
        by_plan.entry(c.care_plan_id).or_default().push(c);
    }
    for (plan_id, steps) in by_plan {
        if let Some(plan) = contexts.get_mut(&plan_id) {
            plan.facts.interruptions = interruptions(&steps);
        }
    }
    Ok(contexts)
}

/// Suspensions and closures from a plan's lifecycle steps, in order.
fn interruptions(steps: &[care_plan_status_change::Model]) -> Vec<Interruption> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let status = PlanStatus::parse(&step.status)?;
            matches!(status, PlanStatus::Suspended | PlanStatus::Closed).then(|| Interruption {
                status,
                from: step.changed_at,
                until: steps.get(i + 1).map(|next| next.changed_at),
            })
        })
        .collect()
}

/// A plan suspended or closed before its steps were recorded: since its last update is the
/// best the database knows.
fn legacy_interruption(plan: &care_plan::Model, status: PlanStatus) -> Vec<Interruption> {
    match status {
        PlanStatus::Suspended | PlanStatus::Closed => vec![Interruption {
            status,
            from: plan.updated_at,
            until: None,
        }],
        _ => Vec::new(),
    }
}

/// The settings of these municipalities; those that never changed them get the defaults.
pub async fn settings(
    db: &impl ConnectionTrait,
    municipalities: &[Uuid],
) -> Result<HashMap<Uuid, RuleSettings>, DbErr> {
    let mut settings = HashMap::new();
    for chunk in municipalities.chunks(CHUNK) {
        for row in rule_setting::Entity::find()
            .filter(rule_setting::Column::MunicipalityId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            settings.insert(row.municipality_id, parse_settings(&row)?);
        }
    }
    Ok(settings)
}

/// Stored settings; a document we wrote and cannot read back is a server fault.
pub fn parse_settings(row: &rule_setting::Model) -> Result<RuleSettings, DbErr> {
    serde_json::from_str::<RuleSettingsDocument>(&row.document)
        .ok()
        .and_then(|d| RuleSettings::from_document(&d).ok())
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "unreadable rule settings of municipality {}",
                row.municipality_id
            ))
        })
}

/// The plans of these beneficiaries (a beneficiary's services may come from several plans).
pub async fn plans_of_beneficiaries(
    db: &impl ConnectionTrait,
    beneficiaries: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let mut plans = Vec::new();
    for chunk in beneficiaries.chunks(CHUNK) {
        plans.extend(
            care_plan::Entity::find()
                .filter(care_plan::Column::BeneficiaryId.is_in(chunk.iter().copied()))
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.beneficiary_id)),
        );
    }
    Ok(plans)
}

/// Records of these operators, or of these plans, starting within `[from, to)`. One query per
/// side, so each uses its index (`operator_id, started_at`; `care_plan_id, started_at`) rather
/// than a scan for the `OR`.
pub async fn records_near(
    db: &impl ConnectionTrait,
    operators: &[Uuid],
    plans: &[Uuid],
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<RecordRow>, DbErr> {
    let window = || {
        Condition::all()
            .add(service_record::Column::StartedAt.gte(from))
            .add(service_record::Column::StartedAt.lt(to))
    };
    let mut rows = Vec::new();
    for chunk in operators.chunks(CHUNK) {
        rows.extend(
            records(
                db,
                window().add(service_record::Column::OperatorId.is_in(chunk.iter().copied())),
            )
            .await?,
        );
    }
    for chunk in plans.chunks(CHUNK) {
        rows.extend(
            records(
                db,
                window().add(service_record::Column::CarePlanId.is_in(chunk.iter().copied())),
            )
            .await?,
        );
    }
    Ok(rows)
}

/// The ids, each once, sorted.
pub fn distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The provider of each of these plans.
pub async fn providers(
    db: &impl ConnectionTrait,
    plans: &[Uuid],
) -> Result<HashMap<Uuid, Uuid>, DbErr> {
    let mut providers = HashMap::new();
    for chunk in plans.chunks(CHUNK) {
        for plan in care_plan::Entity::find()
            .filter(care_plan::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            providers.insert(plan.id, plan.provider_id);
        }
    }
    Ok(providers)
}

/// How much earlier than a changed visit a related visit may start: a visit lasts at most a
/// day before it is implausible, plus the widest duplicate window the settings allow.
pub fn reach() -> Duration {
    Duration::hours(24) + Duration::minutes(240)
}
