//! A record's findings and history: acknowledging a warning, reading the steps it went through.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use sea_orm::{EntityTrait, IntoActiveModel, Set, TransactionTrait};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    checks::{NOTE_MAX, authorize},
    dto::{HistoryStep, RecordHistory, ServiceRecord},
    load::{find, respond},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{care_plan, service_record},
        findings::store,
        reviews::{self, HistoryEntry},
    },
    domain::{
        access::{self, Action, Resource},
        review::{self, AcknowledgementKind},
        rules::{RuleCode, Severity},
        service_record::RecordStatus,
    },
    error::{ApiError, Problem},
    http::{ApiJson, IfMatch, required_text},
    state::AppState,
};

/// Why a reviewer accepts a warning.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcknowledgementInput {
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "Sincronizzato in ritardo per assenza di rete, confermato dal coordinatore"
    )]
    pub(super) reason: String,
}

/// Acknowledges a warning on a record, with a reason (social workers). Blocking findings are
/// not acknowledged: they are overridden when validating.
#[utoipa::path(
    tag = "service-records",
    operation_id = "acknowledge_service_record_finding",
    params(
        ("id" = Uuid, Path, description = "Service record id"),
        ("code" = RuleCode, Path, description = "The finding's rule code"),
        ("If-Match" = String, Header, description = "The ETag read"),
    ),
    request_body = AcknowledgementInput,
    responses(
        (status = 200, description = "Acknowledged.", body = ServiceRecord),
        (status = 404, description = "No such record in scope, or it has no finding with this code.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The finding is blocking (`finding-blocking`): override it when validating.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records/{id}/findings/{code}/acknowledge")]
pub(super) async fn acknowledge_service_record_finding(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(Uuid, String)>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<AcknowledgementInput>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Reviews, Action::Write)?;
    let (id, code) = path.into_inner();
    let code = RuleCode::parse(&code).ok_or(ApiError::NotFound)?;
    let mut errors = Vec::new();
    let reason = required_text("reason", input.reason, NOTE_MAX, &mut errors);
    ApiError::check(errors)?;
    let reviewer = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let txn = state.db.begin().await?;
    let record = find(&txn, &ctx, id).await?;
    if_match.check(record.version)?;
    let findings = reviews::finding_states(&txn, &[record.id])
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    match review::may_acknowledge(&findings, code) {
        Ok(()) => {}
        Err(Some(Severity::Blocking)) => {
            return Err(ApiError::Conflict {
                code: "finding-blocking",
                detail: format!(
                    "The finding {} is blocking: set it aside with an override_reason when validating.",
                    code.as_str()
                ),
            });
        }
        Err(_) => return Err(ApiError::NotFound),
    }
    let now = Utc::now();
    store::acknowledge(
        &txn,
        store::Acknowledgement {
            record: record.id,
            code,
            kind: AcknowledgementKind::Acknowledged.as_str(),
            reason: &reason,
            by: reviewer,
            at: now,
        },
    )
    .await?;
    // The record reads differently now: a new version, so concurrent reviewers notice.
    let mut changes = record.clone().into_active_model();
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
    let status = RecordStatus::parse(&record.status).unwrap_or(RecordStatus::Recorded);
    reviews::add_history(
        &txn,
        &ctx.actor(),
        &[HistoryEntry {
            record: record.id,
            action: "acknowledged",
            status,
            reason_code: Some(code.as_str()),
            note: Some(&reason),
            at: now,
        }],
    )
    .await?;
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("plan of record {} missing", record.id))?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "service_record.acknowledge_finding",
            resource_type: "service_record",
            resource_id: Some(record.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, record.id).await?;
    txn.commit().await?;
    respond(&state.db, &ctx, updated).await
}

/// A record's history: creation, corrections, synced changes, review steps, acknowledgements
/// and overrides, with the reasons given.
#[utoipa::path(
    tag = "service-records",
    operation_id = "show_service_record_history",
    params(("id" = Uuid, Path, description = "Service record id")),
    responses((status = 200, description = "The steps, oldest first.", body = RecordHistory)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-records/{id}/history")]
pub(super) async fn show_service_record_history(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Read)?;
    let record = find(&state.db, &ctx, *id).await?;
    let view = access::record_view(&ctx.caller);
    let items = reviews::history(&state.db, record.id)
        .await?
        .into_iter()
        .map(|e| HistoryStep::new(e, view))
        .collect();
    Ok(HttpResponse::Ok().json(RecordHistory { items }))
}
