//! Plans in the caller's scope with their children (beneficiary, planned services, operators),
//! and the replacement of those children.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::{
    checks::{ValidService, plan_closed},
    dto::{CarePlan, PlanBeneficiary, PlannedService},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self,
        entities::{beneficiary, care_plan, care_plan_operator, planned_service, service_type},
        scope,
    },
    domain::{
        access::{self, BeneficiaryView},
        care_plan::PlanStatus,
        period::AllowancePeriod,
        service_record::ServiceUnit,
        values::from_milli,
    },
    error::ApiError,
    http::IfMatch,
};

/// Plans, with their beneficiaries, services and operators loaded in one query each.
pub(super) async fn render(
    db: &impl ConnectionTrait,
    view: BeneficiaryView,
    plans: Vec<care_plan::Model>,
) -> Result<Vec<CarePlan>, ApiError> {
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    let plan_ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
    let beneficiary_ids: HashSet<Uuid> = plans.iter().map(|p| p.beneficiary_id).collect();
    let people: HashMap<Uuid, beneficiary::Model> = beneficiary::Entity::find()
        .filter(beneficiary::Column::Id.is_in(beneficiary_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let services = planned_service::Entity::find()
        .filter(planned_service::Column::CarePlanId.is_in(plan_ids.clone()))
        .order_by_asc(planned_service::Column::Id)
        .all(db)
        .await?;
    let type_ids: HashSet<Uuid> = services.iter().map(|s| s.service_type_id).collect();
    let types: HashMap<Uuid, service_type::Model> = if type_ids.is_empty() {
        HashMap::new()
    } else {
        service_type::Entity::find()
            .filter(service_type::Column::Id.is_in(type_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    };
    let operators = care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.is_in(plan_ids))
        .order_by_asc(care_plan_operator::Column::OperatorId)
        .all(db)
        .await?;
    let mut services_by_plan: HashMap<Uuid, Vec<PlannedService>> = HashMap::new();
    for s in services {
        let kind = types.get(&s.service_type_id);
        services_by_plan
            .entry(s.care_plan_id)
            .or_default()
            .push(PlannedService {
                id: s.id,
                service_type_id: s.service_type_id,
                service_type_code: kind.map(|t| t.code.clone()).unwrap_or_default(),
                unit: kind
                    .and_then(|t| ServiceUnit::parse(&t.unit))
                    .unwrap_or(ServiceUnit::Hour),
                allowance: from_milli(s.allowance_milli),
                allowance_period: AllowancePeriod::parse(&s.allowance_period)
                    .unwrap_or(AllowancePeriod::Week),
                valid_from: s.valid_from,
                valid_to: s.valid_to,
                notes: s.notes,
            });
    }
    let mut operators_by_plan: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for o in operators {
        operators_by_plan
            .entry(o.care_plan_id)
            .or_default()
            .push(o.operator_id);
    }
    Ok(plans
        .into_iter()
        .map(|p| {
            let person = people.get(&p.beneficiary_id);
            let named = view != BeneficiaryView::Pseudonymous;
            CarePlan {
                id: p.id,
                municipality_id: p.municipality_id,
                beneficiary_id: p.beneficiary_id,
                beneficiary: PlanBeneficiary {
                    pseudonym: person.map(|b| b.pseudonym.clone()).unwrap_or_default(),
                    given_name: person.filter(|_| named).map(|b| b.given_name.clone()),
                    family_name: person.filter(|_| named).map(|b| b.family_name.clone()),
                },
                provider_id: p.provider_id,
                social_worker_id: p.social_worker_id,
                title: p.title,
                status: PlanStatus::parse(&p.status).unwrap_or(PlanStatus::Draft),
                status_reason: p.status_reason,
                valid_from: p.valid_from,
                valid_to: p.valid_to,
                planned_services: services_by_plan.remove(&p.id).unwrap_or_default(),
                operator_ids: operators_by_plan.remove(&p.id).unwrap_or_default(),
                version: p.version,
                created_at: p.created_at,
                updated_at: p.updated_at,
            }
        })
        .collect())
}

pub(super) async fn render_one(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    plan: care_plan::Model,
) -> Result<CarePlan, ApiError> {
    render(db, access::beneficiary_view(&ctx.caller), vec![plan])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

pub(super) async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<care_plan::Model, ApiError> {
    care_plan::Entity::find_by_id(id)
        .filter(scope::plans(access::plan_scope(&ctx.caller)))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A plan in the caller's scope that may still be edited: the version the caller read (412
/// otherwise) and not closed (409 otherwise).
pub(super) async fn find_editable(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
) -> Result<care_plan::Model, ApiError> {
    let plan = find(db, ctx, id).await?;
    if_match.check(plan.version)?;
    if status_of(&plan) == PlanStatus::Closed {
        return Err(plan_closed());
    }
    Ok(plan)
}

pub(super) fn status_of(plan: &care_plan::Model) -> PlanStatus {
    PlanStatus::parse(&plan.status).unwrap_or(PlanStatus::Draft)
}

pub(super) async fn replace_services(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    services: Vec<ValidService>,
) -> Result<(), ApiError> {
    planned_service::Entity::delete_many()
        .filter(planned_service::Column::CarePlanId.eq(plan_id))
        .exec(db)
        .await?;
    for s in services {
        planned_service::ActiveModel {
            id: Set(Uuid::now_v7()),
            care_plan_id: Set(plan_id),
            service_type_id: Set(s.service_type_id),
            allowance_milli: Set(s.allowance_milli),
            allowance_period: Set(s.period.as_str().to_owned()),
            valid_from: Set(s.valid_from),
            valid_to: Set(s.valid_to),
            notes: Set(s.notes),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub(super) async fn replace_operators(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    let now = Utc::now();
    let removed: Vec<Uuid> = care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.eq(plan_id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.operator_id)
        .filter(|o| !ids.contains(o))
        .collect();
    // Their past visits stay authorized; later ones are not (docs/rules.md).
    db::plan_history::record_removals(db, plan_id, &removed, now).await?;
    care_plan_operator::Entity::delete_many()
        .filter(care_plan_operator::Column::CarePlanId.eq(plan_id))
        .exec(db)
        .await?;
    for id in ids {
        care_plan_operator::ActiveModel {
            care_plan_id: Set(plan_id),
            operator_id: Set(*id),
            added_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
