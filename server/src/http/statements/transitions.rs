//! A statement's lifecycle: submit (provider), approve (municipality's administrative office),
//! reopen (municipality, with a reason).

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use sea_orm::{IntoActiveModel, Set, TransactionTrait};
use uuid::Uuid;

use super::{
    dto::Statement,
    load::{authorize, find, month_of, render, status_of},
};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::statement, statements},
    domain::{
        FieldError,
        access::Action,
        statement::{self as rules, StatementStep},
    },
    error::{ApiError, Problem},
    http::{IfMatch, OptionalJson, ReasonInput, ok_tagged, text},
    mail,
    state::AppState,
};

async fn transition(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
    step: StatementStep,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(ctx, Action::Write)?;
    if !rules::may_take(&ctx.caller, step) {
        return Err(ApiError::Forbidden);
    }
    let mut errors = Vec::new();
    let reason = text("reason", reason, 500, &mut errors);
    if step.needs_reason() && reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            "a reason is required for this step",
        ));
    }
    let txn = state.db.begin().await?;
    let found = find(&txn, ctx, id).await?;
    if_match.check(found.version)?;
    let current = status_of(&found)?;
    let Some(next) = step.apply(current) else {
        return Err(ApiError::Conflict {
            code: "invalid-transition",
            detail: format!(
                "A statement that is {} cannot {}.",
                current.as_str(),
                step.as_str()
            ),
        });
    };
    ApiError::check(errors)?;
    let now = Utc::now();
    let mut changes = found.clone().into_active_model();
    changes.status = Set(next.as_str().to_owned());
    changes.updated_at = Set(now);
    match step {
        StatementStep::Submit => {
            changes.submitted_at = Set(Some(now));
            changes.status_reason = Set(None);
        }
        StatementStep::Approve => changes.approved_at = Set(Some(now)),
        StatementStep::Reopen => {
            changes.status_reason = Set(reason.clone());
            changes.submitted_at = Set(None);
            changes.approved_at = Set(None);
        }
    }
    // The row is written first: on PostgreSQL this waits for record changes that checked the
    // month's lock before us, so the figures read below include them (db::statements).
    db::update_versioned::<statement::Entity, _>(
        &txn,
        statement::Column::Id,
        statement::Column::Version,
        found.id,
        found.version,
        changes,
    )
    .await?;
    let month = month_of(&found)?;
    match step {
        StatementStep::Submit => {
            let live =
                statements::live_figures(&txn, found.municipality_id, found.provider_id, month)
                    .await?;
            statements::freeze(&txn, found.id, &live.lines).await?;
        }
        StatementStep::Approve => {
            let live =
                statements::live_figures(&txn, found.municipality_id, found.provider_id, month)
                    .await?;
            let submitted = statements::frozen_lines(&txn, found.id).await?;
            if !statements::same_figures(&submitted, &live.lines) {
                return Err(ApiError::Conflict {
                    code: "statement-outdated",
                    detail: "The month's records changed since the statement was submitted: \
                             reopen it so that the provider submits it again."
                        .to_owned(),
                });
            }
            // Enqueued in this transaction: the provider hears of it exactly when it holds.
            mail::notify::statement_approved(
                &txn,
                &state.config,
                found.provider_id,
                found.municipality_id,
                month.first_day(),
                found.id,
            )
            .await?;
        }
        StatementStep::Reopen => statements::thaw(&txn, found.id).await?,
    }
    let actor = ctx.actor();
    statements::record_event(&txn, found.id, step.as_str(), next, reason, &actor).await?;
    let action = format!("statement.{}", step.as_str());
    audit::record(
        &txn,
        &actor,
        audit::Event {
            action: &action,
            resource_type: "statement",
            resource_id: Some(found.id),
            organization_id: Some(found.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, ctx, found.id).await?;
    let body = render(&txn, updated).await?;
    txn.commit().await?;
    if step == StatementStep::Reopen {
        state
            .sync
            .month_unlocked(found.municipality_id, found.provider_id)
            .await;
    }
    Ok(ok_tagged(&body, body.version))
}

/// Submits a draft to the municipality: its figures are frozen as they stand (the provider).
#[utoipa::path(
    tag = "statements",
    operation_id = "submit_statement",
    params(("id" = Uuid, Path, description = "Statement id"), ("If-Match" = String, Header, description = "The ETag read")),
    responses(
        (status = 200, description = "Submitted.", body = Statement),
        (status = 409, description = "The statement is not a draft (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/statements/{id}/submit")]
pub(super) async fn submit_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    transition(&state, &ctx, *id, if_match, StatementStep::Submit, None).await
}

/// Approves a submitted statement: the month's records of the provider for the municipality
/// are locked until a reopening (the municipality's administrative office).
#[utoipa::path(
    tag = "statements",
    operation_id = "approve_statement",
    params(("id" = Uuid, Path, description = "Statement id"), ("If-Match" = String, Header, description = "The ETag read")),
    responses(
        (status = 200, description = "Approved.", body = Statement),
        (status = 409, description = "The statement is not submitted (code invalid-transition), or the records changed since it was (code statement-outdated).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/statements/{id}/approve")]
pub(super) async fn approve_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    transition(&state, &ctx, *id, if_match, StatementStep::Approve, None).await
}

/// Reopens a submitted or approved statement as a draft, unlocking the month's records; the
/// reason is required and kept in the statement's history (a social worker or the
/// administrative office of the municipality, in person).
#[utoipa::path(
    tag = "statements",
    operation_id = "reopen_statement",
    params(("id" = Uuid, Path, description = "Statement id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReasonInput,
    responses(
        (status = 200, description = "Reopened as a draft.", body = Statement),
        (status = 409, description = "The statement is a draft already (code invalid-transition).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/statements/{id}/reopen")]
pub(super) async fn reopen_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, StatementStep::Reopen, reason).await
}
