//! A plan's lifecycle (activate, suspend, resume, close) and its authorized operators.

use actix_web::{HttpResponse, post, put, web};
use chrono::Utc;
use sea_orm::{IntoActiveModel, Set, TransactionTrait};
use uuid::Uuid;

use super::{
    checks::{authorize, check_operators},
    dto::{CarePlan, PlanOperators},
    load::{find, find_editable, render_one, replace_operators, status_of},
};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::care_plan},
    domain::{
        FieldError,
        access::{Action, Resource},
        care_plan::PlanTransition,
    },
    error::ApiError,
    findings,
    http::{ApiJson, IfMatch, OptionalJson, ReasonInput, ok_tagged, text},
    state::AppState,
};

async fn transition(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
    step: PlanTransition,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(ctx, Resource::CarePlans, Action::Write)?;
    let mut errors = Vec::new();
    let reason = text("reason", reason, 500, &mut errors);
    if step.needs_reason() && reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            "a reason is required for this step",
        ));
    }
    let (verb, action) = match step {
        PlanTransition::Activate => ("activate", "care_plan.activate"),
        PlanTransition::Suspend => ("suspend", "care_plan.suspend"),
        PlanTransition::Resume => ("resume", "care_plan.resume"),
        PlanTransition::Close => ("close", "care_plan.close"),
    };
    let txn = state.db.begin().await?;
    let plan = find(&txn, ctx, id).await?;
    if_match.check(plan.version)?;
    let current = status_of(&plan);
    let Some(next) = step.apply(current) else {
        return Err(ApiError::Conflict {
            code: "invalid-transition",
            detail: format!("A plan that is {} cannot {verb}.", current.as_str()),
        });
    };
    ApiError::check(errors)?;
    let now = Utc::now();
    let mut changes = plan.clone().into_active_model();
    changes.status = Set(next.as_str().to_owned());
    changes.status_reason = Set(reason);
    changes.updated_at = Set(now);
    db::update_versioned::<care_plan::Entity, _>(
        &txn,
        care_plan::Column::Id,
        care_plan::Column::Version,
        plan.id,
        plan.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action,
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    db::plan_history::record_status(&txn, plan.id, next, now).await?;
    findings::after_plan_changed(&txn, plan.id, now).await?;
    let updated = find(&txn, ctx, plan.id).await?;
    let body = render_one(&txn, ctx, updated).await?;
    txn.commit().await?;
    state.sync.plan_changed(plan.id).await;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

/// Activates a draft plan: services can then be delivered against it (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "activate_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = Option<ReasonInput>, description = "Optional; may be empty."),
    responses(
        (status = 200, description = "Activated.", body = CarePlan),
        (status = 409, description = "The plan is not a draft (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/activate")]
pub(super) async fn activate_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(
        &state,
        &ctx,
        *id,
        if_match,
        PlanTransition::Activate,
        reason,
    )
    .await
}

/// Suspends an active plan, with a reason (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "suspend_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReasonInput,
    responses(
        (status = 200, description = "Suspended.", body = CarePlan),
        (status = 409, description = "The plan is not active (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/suspend")]
pub(super) async fn suspend_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Suspend, reason).await
}

/// Resumes a suspended plan (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "resume_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = Option<ReasonInput>, description = "Optional; may be empty."),
    responses(
        (status = 200, description = "Resumed.", body = CarePlan),
        (status = 409, description = "The plan is not suspended (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/resume")]
pub(super) async fn resume_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Resume, reason).await
}

/// Closes a plan for good, with a reason (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "close_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReasonInput,
    responses(
        (status = 200, description = "Closed.", body = CarePlan),
        (status = 409, description = "The plan is already closed (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/close")]
pub(super) async fn close_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Close, reason).await
}

/// Replaces the operators authorized on a plan (social workers, the provider's coordinator).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "replace_care_plan_operators",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = PlanOperators,
    responses(
        (status = 200, description = "Updated.", body = CarePlan),
        (status = 409, description = "The plan is closed (`plan-closed`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[put("/care-plans/{id}/operators")]
pub(super) async fn replace_care_plan_operators(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<PlanOperators>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlanOperators, Action::Write)?;
    let txn = state.db.begin().await?;
    let plan = find_editable(&txn, &ctx, *id, if_match).await?;
    let mut errors = Vec::new();
    check_operators(&txn, plan.provider_id, &input.operator_ids, &mut errors).await?;
    ApiError::check(errors)?;
    let mut changes = plan.clone().into_active_model();
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
    replace_operators(&txn, plan.id, &input.operator_ids).await?;
    findings::after_plan_changed(&txn, plan.id, Utc::now()).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.operators",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, plan.id).await?;
    let body = render_one(&txn, &ctx, updated).await?;
    txn.commit().await?;
    state.sync.plan_changed(plan.id).await;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}
