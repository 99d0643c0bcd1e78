//! Listing, reading, creating and updating care plans.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait, sea_query::Query,
};
use uuid::Uuid;

use super::{
    checks::{
        ValidService, authorize, check_operators, check_provider, check_services,
        check_social_worker,
    },
    dto::{CarePlan, CarePlanList, CarePlanPatch, CarePlanQuery, NewCarePlan},
    load::{
        find, find_editable, render, render_one, replace_operators, replace_services, status_of,
    },
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{beneficiary, care_plan, care_plan_operator, planned_service},
        scope,
    },
    domain::{
        FieldError,
        access::{self, Action, Resource},
        beneficiary::BeneficiaryStatus,
        care_plan::{PlanStatus, PlannedServiceDraft, check_plan},
    },
    error::ApiError,
    findings,
    http::{ApiJson, IfMatch, Page, created, extract::ApiQuery, ok_tagged, required_text, sort_by},
    state::AppState,
};

/// Lists the care plans visible to the caller.
#[utoipa::path(
    tag = "care-plans",
    operation_id = "list_care_plans",
    params(CarePlanQuery),
    responses((status = 200, description = "A page of care plans.", body = CarePlanList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/care-plans")]
pub(super) async fn list_care_plans(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<CarePlanQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select =
        care_plan::Entity::find().filter(scope::plans(access::plan_scope(&ctx.caller)));
    if let Some(status) = query.status {
        select = select.filter(care_plan::Column::Status.eq(status.as_str()));
    }
    if let Some(id) = query.beneficiary_id {
        select = select.filter(care_plan::Column::BeneficiaryId.eq(id));
    }
    if let Some(id) = query.provider_id {
        select = select.filter(care_plan::Column::ProviderId.eq(id));
    }
    if let Some(id) = query.operator_id {
        select = select.filter(
            care_plan::Column::Id.in_subquery(
                Query::select()
                    .column(care_plan_operator::Column::CarePlanId)
                    .from(care_plan_operator::Entity)
                    .and_where(care_plan_operator::Column::OperatorId.eq(id))
                    .to_owned(),
            ),
        );
    }
    if let Some(day) = query.active_on {
        select = select
            .filter(care_plan::Column::ValidFrom.lte(day))
            .filter(care_plan::Column::ValidTo.gte(day));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "valid_from",
        &[
            ("valid_from", care_plan::Column::ValidFrom),
            ("created_at", care_plan::Column::CreatedAt),
            ("title", care_plan::Column::Title),
        ],
        care_plan::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    let items = render(&state.db, access::beneficiary_view(&ctx.caller), rows).await?;
    Ok(HttpResponse::Ok().json(CarePlanList::new(items, page, total)))
}

/// Reads one care plan.
#[utoipa::path(
    tag = "care-plans",
    operation_id = "show_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id")),
    responses((status = 200, description = "The care plan.", body = CarePlan)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/care-plans/{id}")]
pub(super) async fn show_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Read)?;
    let plan = find(&state.db, &ctx, *id).await?;
    let body = render_one(&state.db, &ctx, plan).await?;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

/// Creates a draft care plan for a beneficiary of the caller's municipality (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "create_care_plan",
    request_body = NewCarePlan,
    responses((status = 201, description = "Created as a draft.", body = CarePlan)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans")]
pub(super) async fn create_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewCarePlan>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Write)?;
    let municipality_id = ctx.caller.organization_id;
    let mut errors = Vec::new();
    let title = required_text("title", input.title, 200, &mut errors);
    let txn = state.db.begin().await?;
    let person = beneficiary::Entity::find_by_id(input.beneficiary_id)
        .filter(beneficiary::Column::MunicipalityId.eq(municipality_id))
        .one(&txn)
        .await?;
    match person {
        None => errors.push(FieldError::new("beneficiary_id", "unknown beneficiary")),
        Some(p) if p.status == BeneficiaryStatus::Archived.as_str() => {
            errors.push(FieldError::new(
                "beneficiary_id",
                "the beneficiary is archived",
            ));
        }
        Some(_) => {}
    }
    check_provider(&txn, input.provider_id, &mut errors).await?;
    let social_worker_id = match input.social_worker_id.or(ctx.caller.user_id()) {
        Some(id) => {
            check_social_worker(&txn, municipality_id, id, &mut errors).await?;
            id
        }
        None => {
            errors.push(FieldError::new(
                "social_worker_id",
                "is required when an API client creates a plan",
            ));
            Uuid::nil()
        }
    };
    let services =
        check_services(&txn, municipality_id, input.planned_services, &mut errors).await?;
    let drafts: Vec<_> = services.iter().map(ValidService::draft).collect();
    errors.extend(check_plan(input.valid_from, input.valid_to, &drafts));
    let operator_ids = input.operator_ids.unwrap_or_default();
    check_operators(&txn, input.provider_id, &operator_ids, &mut errors).await?;
    ApiError::check(errors)?;
    let now = Utc::now();
    let plan = care_plan::ActiveModel {
        id: Set(Uuid::now_v7()),
        municipality_id: Set(municipality_id),
        beneficiary_id: Set(input.beneficiary_id),
        provider_id: Set(input.provider_id),
        social_worker_id: Set(social_worker_id),
        title: Set(title),
        status: Set(PlanStatus::Draft.as_str().to_owned()),
        status_reason: Set(None),
        valid_from: Set(input.valid_from),
        valid_to: Set(input.valid_to),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    replace_services(&txn, plan.id, services).await?;
    replace_operators(&txn, plan.id, &operator_ids).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.create",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(municipality_id),
        },
    )
    .await?;
    let body = render_one(&txn, &ctx, plan).await?;
    txn.commit().await?;
    state.sync.plan_changed(body.id).await;
    let version = body.version;
    Ok(created(
        format!("/api/v1/care-plans/{}", body.id),
        &body,
        version,
    ))
}

/// Updates a care plan that is not closed (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "update_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = CarePlanPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated.", body = CarePlan),
        (status = 409, description = "The plan is closed (`plan-closed`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/care-plans/{id}")]
pub(super) async fn update_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<CarePlanPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Write)?;
    let txn = state.db.begin().await?;
    let plan = find_editable(&txn, &ctx, *id, if_match).await?;
    let mut errors = Vec::new();
    let mut changes = plan.clone().into_active_model();
    if let Some(title) = input.title {
        changes.title = Set(required_text("title", title, 200, &mut errors));
    }
    if let Some(worker) = input.social_worker_id {
        check_social_worker(&txn, plan.municipality_id, worker, &mut errors).await?;
        changes.social_worker_id = Set(worker);
    }
    let provider_changed = input.provider_id.is_some_and(|p| p != plan.provider_id);
    if let Some(provider) = input.provider_id.filter(|_| provider_changed) {
        if status_of(&plan) != PlanStatus::Draft {
            errors.push(FieldError::new(
                "provider_id",
                "can change only while the plan is a draft",
            ));
        } else {
            check_provider(&txn, provider, &mut errors).await?;
            changes.provider_id = Set(provider);
        }
    }
    let valid_from = input.valid_from.unwrap_or(plan.valid_from);
    let valid_to = input.valid_to.unwrap_or(plan.valid_to);
    changes.valid_from = Set(valid_from);
    changes.valid_to = Set(valid_to);
    let new_services = match input.planned_services {
        Some(list) => Some(check_services(&txn, plan.municipality_id, list, &mut errors).await?),
        None => None,
    };
    let drafts: Vec<PlannedServiceDraft> = match &new_services {
        Some(list) => list.iter().map(ValidService::draft).collect(),
        None => planned_service::Entity::find()
            .filter(planned_service::Column::CarePlanId.eq(plan.id))
            .order_by_asc(planned_service::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| PlannedServiceDraft {
                allowance_milli: s.allowance_milli,
                valid_from: s.valid_from,
                valid_to: s.valid_to,
            })
            .collect(),
    };
    errors.extend(check_plan(valid_from, valid_to, &drafts));
    ApiError::check(errors)?;
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<care_plan::Entity, _>(
        &txn,
        care_plan::Column::Id,
        care_plan::Column::Version,
        plan.id,
        plan.version,
        changes,
    )
    .await?;
    if let Some(services) = new_services {
        replace_services(&txn, plan.id, services).await?;
    }
    if provider_changed {
        // The operators belong to the previous provider: the new one assigns its own.
        replace_operators(&txn, plan.id, &[]).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.update",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    findings::after_plan_changed(&txn, plan.id, Utc::now()).await?;
    let updated = find(&txn, &ctx, plan.id).await?;
    let body = render_one(&txn, &ctx, updated).await?;
    txn.commit().await?;
    state.sync.plan_changed(plan.id).await;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}
