//! The municipality's review of a record: validate, reject, request clarification, reopen.

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use sea_orm::{EntityTrait, IntoActiveModel, Set, TransactionTrait};
use uuid::Uuid;

use super::{
    checks::{NOTE_MAX, authorize},
    dto::{ReviewDecision, ReviewNote, ServiceRecord},
    load::{find, respond},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{care_plan, service_record},
    },
    domain::{
        access::{Action, Resource},
        service_record::{RecordStatus, ReviewAction, ReviewReason},
    },
    error::{ApiError, Problem},
    http::{ApiJson, IfMatch, OptionalJson, required_text, text},
    state::AppState,
};

/// Applies a review decision to a record in the caller's scope.
async fn review(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
    action: ReviewAction,
    reason_code: Option<ReviewReason>,
    note: Option<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(ctx, Resource::Reviews, Action::Write)?;
    let mut errors = Vec::new();
    let note = if action.needs_reason() {
        Some(required_text(
            "note",
            note.unwrap_or_default(),
            NOTE_MAX,
            &mut errors,
        ))
    } else {
        text("note", note, NOTE_MAX, &mut errors)
    };
    ApiError::check(errors)?;
    let reviewer = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let (verb, audit_action) = match action {
        ReviewAction::Validate => ("validated", "service_record.validate"),
        ReviewAction::Reject => ("rejected", "service_record.reject"),
        ReviewAction::RequestClarification => (
            "sent back for clarification",
            "service_record.request_clarification",
        ),
        ReviewAction::Reopen => ("reopened", "service_record.reopen"),
    };

    let txn = state.db.begin().await?;
    let record = find(&txn, ctx, id).await?;
    if_match.check(record.version)?;
    let current = RecordStatus::parse(&record.status)
        .ok_or_else(|| anyhow::anyhow!("record {} has an unknown status", record.id))?;
    let next = action.apply(current).ok_or_else(|| ApiError::Conflict {
        code: "invalid-transition",
        detail: format!("A record in status {} cannot be {verb}.", current.as_str()),
    })?;
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("plan of record {} missing", record.id))?;
    let now = Utc::now();
    let mut changes = record.clone().into_active_model();
    changes.status = Set(next.as_str().to_owned());
    changes.review_reason_code = Set(reason_code.map(|r| r.as_str().to_owned()));
    changes.review_note = Set(note);
    changes.reviewed_by = Set(Some(reviewer));
    changes.reviewed_at = Set(Some(now));
    changes.updated_at = Set(now);
    db::update_versioned::<service_record::Entity, _>(
        &txn,
        service_record::Column::Id,
        service_record::Column::Version,
        record.id,
        record.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: audit_action,
            resource_type: "service_record",
            resource_id: Some(record.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, ctx, record.id).await?;
    txn.commit().await?;
    state.sync.review_changed(record.id).await;
    Ok(respond(ctx, updated))
}

/// Validates a service record: it will be paid.
#[utoipa::path(
    tag = "service-records",
    operation_id = "validate_service_record",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ReviewNote, description = "An optional note; the body may be omitted."),
    responses(
        (status = 200, description = "Validated.", body = ServiceRecord),
        (status = 409, description = "The record's status does not allow it (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/validate")]
pub(super) async fn validate_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReviewNote>,
) -> Result<HttpResponse, ApiError> {
    let input = input.unwrap_or_default();
    review(
        &state,
        &ctx,
        *id,
        if_match,
        ReviewAction::Validate,
        None,
        input.note,
    )
    .await
}

/// Rejects a service record, with a reason: it will not be paid.
#[utoipa::path(
    tag = "service-records",
    operation_id = "reject_service_record",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReviewDecision,
    responses(
        (status = 200, description = "Rejected.", body = ServiceRecord),
        (status = 409, description = "The record's status does not allow it (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/reject")]
pub(super) async fn reject_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ReviewDecision>,
) -> Result<HttpResponse, ApiError> {
    let action = ReviewAction::Reject;
    review(
        &state,
        &ctx,
        *id,
        if_match,
        action,
        Some(input.reason_code),
        Some(input.note),
    )
    .await
}

/// Asks the provider to clarify a service record.
#[utoipa::path(
    tag = "service-records",
    operation_id = "request_service_record_clarification",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReviewDecision,
    responses(
        (status = 200, description = "Clarification requested.", body = ServiceRecord),
        (status = 409, description = "The record's status does not allow it (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/request-clarification")]
pub(super) async fn request_service_record_clarification(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ReviewDecision>,
) -> Result<HttpResponse, ApiError> {
    let action = ReviewAction::RequestClarification;
    review(
        &state,
        &ctx,
        *id,
        if_match,
        action,
        Some(input.reason_code),
        Some(input.note),
    )
    .await
}

/// Reopens a reviewed service record, undoing the decision.
#[utoipa::path(
    tag = "service-records",
    operation_id = "reopen_service_record",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ReviewNote, description = "An optional note; the body may be omitted."),
    responses(
        (status = 200, description = "Reopened.", body = ServiceRecord),
        (status = 409, description = "The record's status does not allow it (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/reopen")]
pub(super) async fn reopen_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReviewNote>,
) -> Result<HttpResponse, ApiError> {
    let input = input.unwrap_or_default();
    review(
        &state,
        &ctx,
        *id,
        if_match,
        ReviewAction::Reopen,
        None,
        input.note,
    )
    .await
}
