//! The social worker's review queue and the bulk validation of what nothing stands against.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{Condition, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    checks::{NOTE_MAX, authorize},
    dto::ServiceRecordList,
    load::render,
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::service_record,
        findings::context,
        reviews::{self, QueueFilter, SharedStep},
        scope,
    },
    domain::{
        access::{self, Action, Resource},
        review::{self, BULK_LIMIT, Candidate, Refusal},
        rules::{RuleCode, Severity},
        service_record::RecordStatus,
    },
    error::{ApiError, Problem},
    http::{ApiJson, Page, extract::ApiQuery, text},
    state::AppState,
};

/// The queue's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReviewQueueQuery {
    /// Only records of this care plan.
    pub(super) care_plan_id: Option<Uuid>,
    /// Only records of this provider's plans.
    pub(super) provider_id: Option<Uuid>,
    /// Only records of this operator.
    pub(super) operator_id: Option<Uuid>,
    /// Only records started at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(super) from: Option<DateTime<Utc>>,
    /// Only records started before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(super) to: Option<DateTime<Utc>>,
    /// Only records in this status (default: waiting for a decision, `recorded` and `amended`).
    pub(super) status: Option<RecordStatus>,
    /// Only records with a finding of this rule.
    pub(super) finding: Option<RuleCode>,
    /// Only records with a finding of this severity.
    pub(super) severity: Option<Severity>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}

/// What a bulk validation takes: the queue's filters, and a note for every record validated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkValidation {
    pub(super) care_plan_id: Option<Uuid>,
    pub(super) provider_id: Option<Uuid>,
    pub(super) operator_id: Option<Uuid>,
    pub(super) from: Option<DateTime<Utc>>,
    pub(super) to: Option<DateTime<Utc>>,
    /// Default: the records waiting for a decision (`recorded` and `amended`).
    pub(super) status: Option<RecordStatus>,
    pub(super) finding: Option<RuleCode>,
    pub(super) severity: Option<Severity>,
    /// Words for the provider on every record validated.
    #[schema(max_length = 2000, example = "Verifica mensile")]
    pub(super) note: Option<String>,
}

/// What a bulk validation did.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BulkOutcome {
    /// The records validated.
    #[schema(max_items = 20000)]
    pub(super) validated: Vec<Uuid>,
    /// The records left as they were, with why.
    #[schema(max_items = 20000)]
    pub(super) skipped: Vec<Skipped>,
}

/// A record a bulk validation left alone.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Skipped {
    pub(super) id: Uuid,
    /// `blocking_findings`, `status` or `month_locked`.
    #[schema(max_length = 32, example = "blocking_findings")]
    pub(super) reason: String,
    /// The blocking findings, for `blocking_findings`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 20)]
    pub(super) findings: Vec<RuleCode>,
}

fn filter(
    care_plan_id: Option<Uuid>,
    provider_id: Option<Uuid>,
    operator_id: Option<Uuid>,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    status: Option<RecordStatus>,
    (finding, severity): (Option<RuleCode>, Option<Severity>),
) -> Result<QueueFilter, ApiError> {
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ApiError::field("to", "must not be before from"));
    }
    Ok(QueueFilter {
        care_plan_id,
        provider_id,
        operator_id,
        from,
        to,
        statuses: status.into_iter().collect(),
        finding,
        severity,
    })
}

/// The review queue: the records waiting for the municipality's decision, oldest first, with
/// their findings (social workers).
#[utoipa::path(
    tag = "reviews",
    operation_id = "list_review_queue",
    params(ReviewQueueQuery),
    responses((status = 200, description = "A page of records to review.", body = ServiceRecordList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/reviews")]
pub(super) async fn list_review_queue(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ReviewQueueQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Reviews, Action::Read)?;
    let page = Page::new(q.limit, q.offset)?;
    let filter = filter(
        q.care_plan_id,
        q.provider_id,
        q.operator_id,
        (q.from, q.to),
        q.status,
        (q.finding, q.severity),
    )?;
    let select = service_record::Entity::find()
        .filter(scope::records(access::plan_scope(&ctx.caller)))
        .filter(reviews::queue(&filter))
        .order_by_asc(service_record::Column::StartedAt)
        .order_by_asc(service_record::Column::Id);
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(ServiceRecordList::new(
        render(&state.db, &ctx, rows).await?,
        page,
        total,
    )))
}

/// Validates, in one transaction, every record of the filter that nothing stands against: no
/// blocking finding left without an override, a status that allows it, a month not locked by
/// an approved statement. The others are listed with why (social workers).
#[utoipa::path(
    tag = "reviews",
    operation_id = "bulk_validate_service_records",
    request_body = BulkValidation,
    responses(
        (status = 200, description = "What was validated and what was skipped.", body = BulkOutcome),
        (status = 422, description = "Invalid filters, or more than 20,000 records match (`validation-failed`): narrow the filter.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/reviews/bulk-validate")]
pub(super) async fn bulk_validate_service_records(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<BulkValidation>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::Reviews, Action::Write)?;
    let mut errors = Vec::new();
    let note = text("note", input.note, NOTE_MAX, &mut errors);
    ApiError::check(errors)?;
    let filter = filter(
        input.care_plan_id,
        input.provider_id,
        input.operator_id,
        (input.from, input.to),
        input.status,
        (input.finding, input.severity),
    )?;
    let reviewer = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let municipality = ctx.caller.organization_id;
    let now = Utc::now();

    let txn = state.db.begin().await?;
    let records = reviews::matching(
        &txn,
        Condition::all()
            .add(scope::records(access::plan_scope(&ctx.caller)))
            .add(reviews::queue(&filter)),
    )
    .await?;
    if records.len() > BULK_LIMIT {
        return Err(ApiError::field(
            "filter",
            format!(
                "{} records match; a bulk validation takes at most {BULK_LIMIT}: narrow the filter",
                records.len()
            ),
        ));
    }
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let mut findings = reviews::finding_states(&txn, &ids).await?;
    let locked = reviews::locked_months(&txn, &[municipality]).await?;
    let providers = context::providers(
        &txn,
        &context::distinct(records.iter().map(|r| r.care_plan_id)),
    )
    .await?;
    let candidates = records
        .iter()
        .map(|r| Candidate {
            id: r.id,
            status: RecordStatus::parse(&r.status).unwrap_or(RecordStatus::Recorded),
            locked: providers
                .get(&r.care_plan_id)
                .is_some_and(|p| reviews::is_locked(&locked, municipality, *p, r.started_at)),
            findings: findings.remove(&r.id).unwrap_or_default(),
        })
        .collect();
    let (validated, skipped) = review::bulk(candidates);
    reviews::validate_many(&txn, &validated, reviewer, note.as_deref(), now).await?;
    let step = SharedStep {
        action: "validated",
        status: RecordStatus::Validated,
        reason_code: None,
        note: note.as_deref(),
        at: now,
    };
    reviews::add_history_each(&txn, &ctx.actor(), step, &validated).await?;
    let event = audit::Event {
        action: "service_record.validate",
        resource_type: "service_record",
        resource_id: None,
        organization_id: Some(municipality),
    };
    audit::record_each(&txn, &ctx.actor(), event, &validated).await?;
    // Validated and pending records count alike against the allowances: no recheck needed.
    txn.commit().await?;
    state.sync.reviews_changed(&validated).await;
    let skipped = skipped
        .into_iter()
        .map(|(id, refusal)| match refusal {
            Refusal::Blocking(codes) => Skipped {
                id,
                reason: "blocking_findings".to_owned(),
                findings: codes,
            },
            Refusal::Status(_) => Skipped {
                id,
                reason: "status".to_owned(),
                findings: Vec::new(),
            },
            Refusal::Locked => Skipped {
                id,
                reason: "month_locked".to_owned(),
                findings: Vec::new(),
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(BulkOutcome { validated, skipped }))
}
