//! The municipality's review of a record: validate, reject, request clarification, reopen.

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use sea_orm::{EntityTrait, IntoActiveModel, Set, TransactionTrait};
use uuid::Uuid;

use super::{
    checks::{NOTE_MAX, authorize},
    dto::{ReviewDecision, ReviewNote, ServiceRecord, ValidationInput},
    load::{find, respond},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{care_plan, service_record},
        findings::store,
        reviews::{self, HistoryEntry},
        statements,
    },
    domain::{
        access::{Action, Resource},
        review::{self, AcknowledgementKind, Refusal},
        service_record::{RecordStatus, ReviewAction, ReviewReason},
    },
    error::{ApiError, Problem},
    findings,
    http::{ApiJson, IfMatch, OptionalJson, required_text, text},
    state::AppState,
};

/// What a reviewer decides about one record.
struct Decision {
    action: ReviewAction,
    reason_code: Option<ReviewReason>,
    note: Option<String>,
    /// Sets the blocking findings aside (validations only).
    override_reason: Option<String>,
}

/// Applies a review decision to a record in the caller's scope.
async fn review(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    authorize(ctx, Resource::Reviews, Action::Write)?;
    let Decision {
        action,
        reason_code,
        note,
        override_reason,
    } = decision;
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
    let override_reason = text("override_reason", override_reason, NOTE_MAX, &mut errors);
    ApiError::check(errors)?;
    let reviewer = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let (verb, audit_action, step) = match action {
        ReviewAction::Validate => ("validated", "service_record.validate", "validated"),
        ReviewAction::Reject => ("rejected", "service_record.reject", "rejected"),
        ReviewAction::RequestClarification => (
            "sent back for clarification",
            "service_record.request_clarification",
            "clarification_requested",
        ),
        ReviewAction::Reopen => ("reopened", "service_record.reopen", "reopened"),
    };

    let txn = state.db.begin().await?;
    let record = find(&txn, ctx, id).await?;
    if_match.check(record.version)?;
    statements::ensure_unlocked(&txn, &record).await?;
    let current = RecordStatus::parse(&record.status)
        .ok_or_else(|| anyhow::anyhow!("record {} has an unknown status", record.id))?;
    let next = action.apply(current).ok_or_else(|| ApiError::Conflict {
        code: "invalid-transition",
        detail: format!("A record in status {} cannot be {verb}.", current.as_str()),
    })?;
    let now = Utc::now();
    let mut steps = Vec::new();
    if action == ReviewAction::Validate {
        let findings = reviews::finding_states(&txn, &[record.id])
            .await?
            .remove(&record.id)
            .unwrap_or_default();
        let overridden =
            review::validation(current, &findings, override_reason.is_some()).map_err(refused)?;
        if let Some(reason) = override_reason.as_deref() {
            for code in &overridden {
                store::acknowledge(
                    &txn,
                    store::Acknowledgement {
                        record: record.id,
                        code: *code,
                        kind: AcknowledgementKind::Overridden.as_str(),
                        reason,
                        by: reviewer,
                        at: now,
                    },
                )
                .await?;
                steps.push(HistoryEntry {
                    record: record.id,
                    action: "overridden",
                    status: current,
                    reason_code: Some(code.as_str()),
                    note: Some(reason),
                    at: now,
                });
            }
        }
    }
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("plan of record {} missing", record.id))?;
    let mut changes = record.clone().into_active_model();
    changes.status = Set(next.as_str().to_owned());
    changes.review_reason_code = Set(reason_code.map(|r| r.as_str().to_owned()));
    changes.review_note = Set(note.clone());
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
    steps.push(HistoryEntry {
        record: record.id,
        action: step,
        status: next,
        reason_code: reason_code.map(ReviewReason::as_str),
        note: note.as_deref(),
        at: now,
    });
    reviews::add_history(&txn, &ctx.actor(), &steps).await?;
    // A rejected record stops counting against the allowance; a reopened one counts again.
    findings::after_records_changed(&txn, &[record.id], &[], now).await?;
    crate::mail::notify::record_reviewed(&txn, &state.config, record.id, action).await?;
    let updated = find(&txn, ctx, record.id).await?;
    txn.commit().await?;
    state.sync.review_changed(record.id).await;
    respond(&state.db, ctx, updated).await
}

/// The answer to a validation that something stands in the way of.
pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Status(status) => ApiError::Conflict {
            code: "invalid-transition",
            detail: format!(
                "A record in status {} cannot be validated.",
                status.as_str()
            ),
        },
        Refusal::Blocking(codes) => ApiError::Conflict {
            code: "blocking-findings",
            detail: format!(
                "The record has blocking findings ({}); validate it with an override_reason to set them aside.",
                codes
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Refusal::Locked => ApiError::Conflict {
            code: "month-locked",
            detail: "The record's month is in an approved statement.".to_owned(),
        },
    }
}

/// Validates a service record: it will be paid.
#[utoipa::path(
    tag = "service-records",
    operation_id = "validate_service_record",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ValidationInput, description = "An optional note, and the reason for setting blocking findings aside; the body may be omitted."),
    responses(
        (status = 200, description = "Validated.", body = ServiceRecord),
        (status = 409, description = "The record's status does not allow it (`invalid-transition`), it has blocking findings and no `override_reason` (`blocking-findings`), or its month is in an approved statement (`month-locked`).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/validate")]
pub(super) async fn validate_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ValidationInput>,
) -> Result<HttpResponse, ApiError> {
    let input = input.unwrap_or_default();
    let decision = Decision {
        action: ReviewAction::Validate,
        reason_code: None,
        note: input.note,
        override_reason: input.override_reason,
    };
    review(&state, &ctx, *id, if_match, decision).await
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
    let decision = Decision {
        action: ReviewAction::Reject,
        reason_code: Some(input.reason_code),
        note: Some(input.note),
        override_reason: None,
    };
    review(&state, &ctx, *id, if_match, decision).await
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
    let decision = Decision {
        action: ReviewAction::RequestClarification,
        reason_code: Some(input.reason_code),
        note: Some(input.note),
        override_reason: None,
    };
    review(&state, &ctx, *id, if_match, decision).await
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
    let decision = Decision {
        action: ReviewAction::Reopen,
        reason_code: None,
        note: input.note,
        override_reason: None,
    };
    review(&state, &ctx, *id, if_match, decision).await
}
