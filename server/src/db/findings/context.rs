//! Loading what the rules read: records as [`RecordRow`]s and plans as [`PlanContext`]s, with
//! the plan history (suspensions, closure, removed operators) and the municipalities' settings.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryResult,
    sea_query::{Expr, Query, SelectStatement, UnionType},
};
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

/// The columns of `service_records` the rules read, in the order [`decode`] takes them.
const RECORD_COLUMNS: [service_record::Column; 16] = [
    service_record::Column::Id,
    service_record::Column::CarePlanId,
    service_record::Column::OperatorId,
    service_record::Column::ServiceTypeId,
    service_record::Column::StartedAt,
    service_record::Column::EndedAt,
    service_record::Column::QuantityMilli,
    service_record::Column::KmMilli,
    service_record::Column::Origin,
    service_record::Column::Destination,
    service_record::Column::Latitude,
    service_record::Column::Longitude,
    service_record::Column::Missed,
    service_record::Column::MissedReason,
    service_record::Column::Status,
    service_record::Column::ReceivedAt,
];

/// `SELECT <the columns the rules read> FROM service_records WHERE condition`: only what the
/// rules need, decoded by position (a million rows are read this way by a full recheck).
fn select_records(condition: Condition) -> SelectStatement {
    Query::select()
        .columns(RECORD_COLUMNS.map(|c| (service_record::Entity, c)))
        .from(service_record::Entity)
        .cond_where(condition)
        .to_owned()
}

/// Records matching `condition`, as the rules read them.
pub async fn records(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> Result<Vec<RecordRow>, DbErr> {
    let rows = db.query_all(&select_records(condition)).await?;
    rows_of(db, &rows).await
}

/// Records with these ids.
pub async fn records_by_id(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<RecordRow>, DbErr> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            db.query_all(&select_records(
                Condition::all().add(service_record::Column::Id.is_in(chunk.iter().copied())),
            ))
            .await?,
        );
    }
    rows_of(db, &rows).await
}

/// Decodes the rows of [`select_records`], with their service types' units (one query).
async fn rows_of(db: &impl ConnectionTrait, rows: &[QueryResult]) -> Result<Vec<RecordRow>, DbErr> {
    let mut records = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let units = units(db, &distinct(records.iter().map(|r| r.service_type_id))).await?;
    for r in &mut records {
        r.unit = units
            .get(&r.service_type_id)
            .copied()
            .unwrap_or(ServiceUnit::Access);
    }
    Ok(records)
}

/// A row of [`select_records`] as the rules read it (the unit is filled in by the caller).
fn decode(r: &QueryResult) -> Result<RecordRow, DbErr> {
    let origin: Option<String> = r.try_get_by_index(8)?;
    let destination: Option<String> = r.try_get_by_index(9)?;
    let latitude: Option<f64> = r.try_get_by_index(10)?;
    let longitude: Option<f64> = r.try_get_by_index(11)?;
    let missed_reason: Option<String> = r.try_get_by_index(13)?;
    let status: String = r.try_get_by_index(14)?;
    Ok(RecordRow {
        id: r.try_get_by_index(0)?,
        care_plan_id: r.try_get_by_index(1)?,
        operator_id: r.try_get_by_index(2)?,
        service_type_id: r.try_get_by_index(3)?,
        unit: ServiceUnit::Access,
        started_at: r.try_get_by_index(4)?,
        ended_at: r.try_get_by_index(5)?,
        quantity_milli: r.try_get_by_index(6)?,
        km_milli: r.try_get_by_index(7)?,
        has_origin: origin.as_deref().is_some_and(|o| !o.trim().is_empty()),
        has_destination: destination.as_deref().is_some_and(|d| !d.trim().is_empty()),
        position: latitude.zip(longitude),
        missed: r.try_get_by_index(12)?,
        missed_reason: missed_reason.as_deref().and_then(MissedReason::parse),
        status: RecordStatus::parse(&status).unwrap_or(RecordStatus::Recorded),
        received_at: r.try_get_by_index(15)?,
    })
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

/// The plans with these ids, with everything the rules read about them: five statements a
/// chunk (the plans with their beneficiaries' addresses, the planned services with their units,
/// the operators, the removals, the lifecycle steps).
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
        let select = Query::select()
            .columns(
                [
                    care_plan::Column::Id,
                    care_plan::Column::MunicipalityId,
                    care_plan::Column::BeneficiaryId,
                    care_plan::Column::Status,
                    care_plan::Column::ValidFrom,
                    care_plan::Column::ValidTo,
                    care_plan::Column::UpdatedAt,
                ]
                .map(|c| (care_plan::Entity, c)),
            )
            .columns(
                [
                    beneficiary::Column::AddressLatitude,
                    beneficiary::Column::AddressLongitude,
                ]
                .map(|c| (beneficiary::Entity, c)),
            )
            .from(care_plan::Entity)
            .left_join(
                beneficiary::Entity,
                sea_orm::ExprTrait::equals(
                    Expr::col((beneficiary::Entity, beneficiary::Column::Id)),
                    (care_plan::Entity, care_plan::Column::BeneficiaryId),
                ),
            )
            .and_where(care_plan::Column::Id.is_in(chunk.clone()))
            .to_owned();
        for r in db.query_all(&select).await? {
            plans.push(plan_row(&r)?);
        }
        let select = Query::select()
            .columns(
                [
                    planned_service::Column::Id,
                    planned_service::Column::CarePlanId,
                    planned_service::Column::ServiceTypeId,
                    planned_service::Column::AllowanceMilli,
                    planned_service::Column::AllowancePeriod,
                    planned_service::Column::ValidFrom,
                    planned_service::Column::ValidTo,
                ]
                .map(|c| (planned_service::Entity, c)),
            )
            .column((service_type::Entity, service_type::Column::Unit))
            .from(planned_service::Entity)
            .left_join(
                service_type::Entity,
                sea_orm::ExprTrait::equals(
                    Expr::col((service_type::Entity, service_type::Column::Id)),
                    (
                        planned_service::Entity,
                        planned_service::Column::ServiceTypeId,
                    ),
                ),
            )
            .and_where(planned_service::Column::CarePlanId.is_in(chunk.clone()))
            .to_owned();
        for r in db.query_all(&select).await? {
            services.push(service_row(&r)?);
        }
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
    let mut contexts: HashMap<Uuid, PlanContext> = plans
        .into_iter()
        .map(|p| {
            let status = PlanStatus::parse(&p.status).unwrap_or(PlanStatus::Draft);
            let context = PlanContext {
                municipality_id: p.municipality_id,
                beneficiary_id: p.beneficiary_id,
                facts: PlanFacts {
                    status,
                    interruptions: legacy_interruption(p.updated_at, status),
                    operators: Vec::new(),
                    removed_operators: Vec::new(),
                    valid_from: p.valid_from,
                    valid_to: p.valid_to,
                    planned: Vec::new(),
                    address_position: p.address_position,
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
            s.unit.as_deref().and_then(ServiceUnit::parse),
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
                unit,
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

/// What [`plans`] reads of a plan and its beneficiary.
struct PlanRow {
    id: Uuid,
    municipality_id: Uuid,
    beneficiary_id: Uuid,
    status: String,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
    updated_at: DateTime<Utc>,
    address_position: Option<(f64, f64)>,
}

fn plan_row(r: &QueryResult) -> Result<PlanRow, DbErr> {
    let latitude: Option<f64> = r.try_get_by_index(7)?;
    let longitude: Option<f64> = r.try_get_by_index(8)?;
    Ok(PlanRow {
        id: r.try_get_by_index(0)?,
        municipality_id: r.try_get_by_index(1)?,
        beneficiary_id: r.try_get_by_index(2)?,
        status: r.try_get_by_index(3)?,
        valid_from: r.try_get_by_index(4)?,
        valid_to: r.try_get_by_index(5)?,
        updated_at: r.try_get_by_index(6)?,
        address_position: latitude.zip(longitude),
    })
}

/// What [`plans`] reads of a planned service and its service type.
struct ServiceRow {
    id: Uuid,
    care_plan_id: Uuid,
    service_type_id: Uuid,
    allowance_milli: i64,
    allowance_period: String,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    unit: Option<String>,
}

fn service_row(r: &QueryResult) -> Result<ServiceRow, DbErr> {
    Ok(ServiceRow {
        id: r.try_get_by_index(0)?,
        care_plan_id: r.try_get_by_index(1)?,
        service_type_id: r.try_get_by_index(2)?,
        allowance_milli: r.try_get_by_index(3)?,
        allowance_period: r.try_get_by_index(4)?,
        valid_from: r.try_get_by_index(5)?,
        valid_to: r.try_get_by_index(6)?,
        unit: r.try_get_by_index(7)?,
    })
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
fn legacy_interruption(updated_at: DateTime<Utc>, status: PlanStatus) -> Vec<Interruption> {
    match status {
        PlanStatus::Suspended | PlanStatus::Closed => vec![Interruption {
            status,
            from: updated_at,
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

/// The plans of the beneficiaries of these plans, with their beneficiary (a beneficiary's
/// services may come from several plans): one statement a chunk.
pub async fn beneficiary_plans(
    db: &impl ConnectionTrait,
    plans: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let mut found = Vec::new();
    for chunk in plans.chunks(CHUNK) {
        let select = Query::select()
            .columns([care_plan::Column::Id, care_plan::Column::BeneficiaryId])
            .from(care_plan::Entity)
            .and_where(
                care_plan::Column::BeneficiaryId.in_subquery(
                    Query::select()
                        .column(care_plan::Column::BeneficiaryId)
                        .from(care_plan::Entity)
                        .and_where(care_plan::Column::Id.is_in(chunk.iter().copied()))
                        .to_owned(),
                ),
            )
            .to_owned();
        for r in db.query_all(&select).await? {
            found.push((r.try_get_by_index(0)?, r.try_get_by_index(1)?));
        }
    }
    Ok(found)
}

/// Records of these operators, or of these plans, starting within `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Near<'a> {
    pub operators: &'a [Uuid],
    pub plans: &'a [Uuid],
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Arms of one `UNION ALL` in [`records_near`].
const ARMS: usize = 8;

/// The records of these windows (a record may come more than once). One `UNION ALL` arm per
/// side and window, so each uses its index (`operator_id, started_at`; `care_plan_id,
/// started_at`) rather than a scan for an `OR`, and one statement for all of them (plus one
/// for the units).
pub async fn records_near(
    db: &impl ConnectionTrait,
    windows: &[Near<'_>],
) -> Result<Vec<RecordRow>, DbErr> {
    let mut arms = Vec::new();
    for w in windows {
        let window = || {
            Condition::all()
                .add(service_record::Column::StartedAt.gte(w.from))
                .add(service_record::Column::StartedAt.lt(w.to))
        };
        for chunk in w.operators.chunks(CHUNK) {
            arms.push(select_records(window().add(
                service_record::Column::OperatorId.is_in(chunk.iter().copied()),
            )));
        }
        for chunk in w.plans.chunks(CHUNK) {
            arms.push(select_records(window().add(
                service_record::Column::CarePlanId.is_in(chunk.iter().copied()),
            )));
        }
    }
    let mut rows = Vec::new();
    for group in arms.chunks(ARMS) {
        let mut group = group.iter().cloned();
        let Some(mut select) = group.next() else {
            continue;
        };
        for arm in group {
            select.union(UnionType::All, arm);
        }
        rows.extend(db.query_all(&select).await?);
    }
    rows_of(db, &rows).await
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
