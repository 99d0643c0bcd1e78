//! Listing, reading, recording and correcting service records.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    checks::{
        Content, NOTE_MAX, PLACE_MAX, active_service_type, authorize, instant, milli,
        operator_may_record, requested_operator, unit_of,
    },
    dto::{
        NewServiceRecord, ServiceRecord, ServiceRecordList, ServiceRecordPatch, ServiceRecordQuery,
    },
    load::{find, find_in_scope, render, respond},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{care_plan, service_record, service_type},
        findings::store,
        record_columns::{RecordColumns, content_of_row},
        reviews::{self, HistoryEntry},
        scope, statements,
    },
    domain::{
        access::{self, Action, Resource},
        care_plan::PlanStatus,
        roles::Role,
        service_record::{RecordSource, RecordStatus, status_after_edit},
    },
    error::{ApiError, FieldError, Problem},
    findings::{self, Span},
    http::{ApiJson, IfMatch, Page, created, extract::ApiQuery, sort_by, text},
    state::AppState,
    sync::record_writes::DiaryWrite,
};

/// Lists the service records visible to the caller.
#[utoipa::path(
    tag = "service-records",
    operation_id = "list_service_records",
    params(ServiceRecordQuery),
    responses((status = 200, description = "A page of service records.", body = ServiceRecordList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-records")]
pub(super) async fn list_service_records(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<ServiceRecordQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(ApiError::field("to", "must not be before from"));
    }
    let mut select =
        service_record::Entity::find().filter(scope::records(access::plan_scope(&ctx.caller)));
    if let Some(id) = query.care_plan_id {
        select = select.filter(service_record::Column::CarePlanId.eq(id));
    }
    if let Some(id) = query.operator_id {
        select = select.filter(service_record::Column::OperatorId.eq(id));
    }
    if let Some(id) = query.service_type_id {
        select = select.filter(service_record::Column::ServiceTypeId.eq(id));
    }
    if let Some(status) = query.status {
        select = select.filter(service_record::Column::Status.eq(status.as_str()));
    }
    if let Some(from) = query.from {
        select = select.filter(service_record::Column::StartedAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(service_record::Column::StartedAt.lt(to));
    }
    if let Some(missed) = query.missed {
        select = select.filter(service_record::Column::Missed.eq(missed));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "-started_at",
        &[
            ("started_at", service_record::Column::StartedAt),
            ("received_at", service_record::Column::ReceivedAt),
        ],
        service_record::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(ServiceRecordList::new(
        render(&state.db, &ctx, rows).await?,
        page,
        total,
    )))
}

/// Reads one service record.
#[utoipa::path(
    tag = "service-records",
    operation_id = "show_service_record",
    params(("id" = Uuid, Path, description = "Service record id")),
    responses((status = 200, description = "The service record.", body = ServiceRecord)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-records/{id}")]
pub(super) async fn show_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Read)?;
    let record = find(&state.db, &ctx, *id).await?;
    respond(&state.db, &ctx, record).await
}

fn duplicate_id() -> ApiError {
    ApiError::Conflict {
        code: "duplicate-id",
        detail: "A different service record already has this id: generate a new one.".to_owned(),
    }
}

/// Records a service delivered (or missed) on a care plan.
#[utoipa::path(
    tag = "service-records",
    operation_id = "create_service_record",
    request_body = NewServiceRecord,
    responses(
        (status = 201, description = "Created.", body = ServiceRecord),
        (status = 200, description = "A retry: the record with this id was already stored with the same content.", body = ServiceRecord),
        (status = 409, description = "Another record already has this id (code duplicate-id).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-records")]
pub(super) async fn create_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewServiceRecord>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Write)?;
    let mut errors = Vec::new();
    let content = Content {
        service_type_id: input.service_type_id,
        started_at: instant(input.started_at),
        ended_at: input.ended_at.map(instant),
        quantity_milli: milli("quantity", input.quantity, &mut errors),
        km_milli: milli("km", input.km, &mut errors),
        origin: text("origin", input.origin, PLACE_MAX, &mut errors),
        destination: text("destination", input.destination, PLACE_MAX, &mut errors),
        latitude: input.latitude,
        longitude: input.longitude,
        notes: text("notes", input.notes, NOTE_MAX, &mut errors),
        missed: input.missed,
        missed_reason: input.missed_reason,
    };
    let operator_id = requested_operator(&ctx, input.operator_id, &mut errors);
    ApiError::check(errors)?;
    let operator_id = operator_id.ok_or(ApiError::Forbidden)?;
    // The diary is locked before the transaction begins (see sync::hub).
    let mut diary =
        DiaryWrite::lock(&state.db, &state.sync.hub, input.care_plan_id, operator_id).await?;
    let txn = state.db.begin().await?;

    if let Some(id) = input.id
        && service_record::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .is_some()
    {
        let existing = find_in_scope(&txn, &ctx, id)
            .await?
            .ok_or_else(duplicate_id)?;
        if existing.care_plan_id != input.care_plan_id
            || existing.operator_id != operator_id
            || existing.service_type_id != content.service_type_id
        {
            return Err(duplicate_id());
        }
        let stored_type = service_type::Entity::find_by_id(existing.service_type_id)
            .one(&txn)
            .await?
            .ok_or_else(|| anyhow::anyhow!("service type of record {id} missing"))?;
        let quantity = content.check(unit_of(&stored_type)?, &mut Vec::new());
        return match quantity {
            Some(q) if content.matches(&existing, q) => respond(&txn, &ctx, existing).await,
            _ => Err(duplicate_id()),
        };
    }

    let mut errors = Vec::new();
    let plan = care_plan::Entity::find_by_id(input.care_plan_id)
        .filter(scope::plans(access::plan_scope(&ctx.caller)))
        .one(&txn)
        .await?;
    let mut quantity = None;
    match &plan {
        None => errors.push(FieldError::new("care_plan_id", "unknown care plan")),
        Some(plan) => {
            if PlanStatus::parse(&plan.status) == Some(PlanStatus::Closed) {
                errors.push(FieldError::new("care_plan_id", "the plan is closed"));
            }
            if ctx.caller.role != Role::FieldOperator
                && !operator_may_record(&txn, &ctx, plan.id, operator_id).await?
            {
                errors.push(FieldError::new(
                    "operator_id",
                    "unknown operator, or not authorized on this care plan",
                ));
            }
            match active_service_type(&txn, plan.municipality_id, content.service_type_id).await? {
                None => errors.push(FieldError::new(
                    "service_type_id",
                    "unknown service type, or not active in the plan's municipality",
                )),
                Some(kind) => quantity = content.check(unit_of(&kind)?, &mut errors),
            }
        }
    }
    ApiError::check(errors)?;
    let (Some(plan), Some(quantity)) = (plan, quantity) else {
        return Err(anyhow::anyhow!("validated record without plan or quantity").into());
    };
    statements::ensure_month_unlocked(&txn, &plan, content.started_at).await?;

    let now = Utc::now();
    let mut record = service_record::ActiveModel {
        care_plan_id: Set(plan.id),
        operator_id: Set(operator_id),
        status: Set(RecordStatus::Recorded.as_str().to_owned()),
        review_reason_code: Set(None),
        review_note: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        source: Set(RecordSource::Api.as_str().to_owned()),
        received_at: Set(now),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let id = input.id.unwrap_or_else(Uuid::now_v7);
    record.id = Set(id);
    diary.record(&txn, id, &content, now).await?;
    content.apply(quantity, &mut record);
    let record = match record.insert(&txn).await {
        Ok(record) => record,
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(duplicate_id());
        }
        Err(err) => return Err(err.into()),
    };
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "service_record.create",
            resource_type: "service_record",
            resource_id: Some(record.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    reviews::add_history(
        &txn,
        &ctx.actor(),
        &[HistoryEntry {
            record: record.id,
            action: "created",
            status: RecordStatus::Recorded,
            reason_code: None,
            note: None,
            at: now,
        }],
    )
    .await?;
    findings::after_records_changed(&txn, &[record.id], &[], now).await?;
    txn.commit().await?;
    diary.committed();
    let (version, location) = (
        record.version,
        format!("/api/v1/service-records/{}", record.id),
    );
    let body = render(&state.db, &ctx, vec![record])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a rendered record went missing"))?;
    Ok(created(location, &body, version))
}

/// Corrects a service record; a reviewed record goes back to review as `amended`.
#[utoipa::path(
    tag = "service-records",
    operation_id = "update_service_record",
    params(("id" = Uuid, Path, description = "Service record id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ServiceRecordPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated.", body = ServiceRecord)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/service-records/{id}")]
pub(super) async fn update_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ServiceRecordPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Write)?;
    let mut diary = match service_record::Entity::find_by_id(*id)
        .one(&state.db)
        .await?
    {
        Some(row) => Some(
            DiaryWrite::lock(
                &state.db,
                &state.sync.hub,
                row.care_plan_id,
                row.operator_id,
            )
            .await?,
        ),
        None => None,
    };
    let txn = state.db.begin().await?;
    let record = find(&txn, &ctx, *id).await?;
    if_match.check(record.version)?;
    statements::ensure_unlocked(&txn, &record).await?;
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("plan of record {} missing", record.id))?;
    let stored_type = service_type::Entity::find_by_id(record.service_type_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service type of record {} missing", record.id))?;

    let mut errors = Vec::new();
    let old = content_of_row(&record, unit_of(&stored_type)?);
    let mut new = old.clone();
    let mut kind = stored_type;
    if let Some(service_type_id) = input
        .service_type_id
        .filter(|id| *id != record.service_type_id)
    {
        match active_service_type(&txn, plan.municipality_id, service_type_id).await? {
            Some(found) => kind = found,
            None => errors.push(FieldError::new(
                "service_type_id",
                "unknown service type, or not active in the plan's municipality",
            )),
        }
        new.service_type_id = service_type_id;
    }
    if let Some(started_at) = input.started_at {
        new.started_at = instant(started_at);
    }
    if let Some(ended_at) = input.ended_at {
        new.ended_at = ended_at.map(instant);
    }
    if let Some(quantity) = input.quantity {
        new.quantity_milli = milli("quantity", quantity, &mut errors);
    }
    if let Some(km) = input.km {
        new.km_milli = milli("km", km, &mut errors);
    }
    if let Some(origin) = input.origin {
        new.origin = text("origin", origin, PLACE_MAX, &mut errors);
    }
    if let Some(destination) = input.destination {
        new.destination = text("destination", destination, PLACE_MAX, &mut errors);
    }
    if let Some(latitude) = input.latitude {
        new.latitude = latitude;
    }
    if let Some(longitude) = input.longitude {
        new.longitude = longitude;
    }
    if let Some(notes) = input.notes {
        new.notes = text("notes", notes, NOTE_MAX, &mut errors);
    }
    if let Some(missed) = input.missed {
        new.missed = missed;
    }
    if let Some(missed_reason) = input.missed_reason {
        new.missed_reason = missed_reason;
    }
    let quantity = new.check(unit_of(&kind)?, &mut errors);
    ApiError::check(errors)?;
    let quantity = quantity.ok_or_else(|| anyhow::anyhow!("validated record without quantity"))?;
    if new.matches(&record, quantity) {
        // Nothing changes: no new version, no audit event, the review stands.
        return respond(&txn, &ctx, record).await;
    }
    if new.started_at != record.started_at {
        // Moved to another month: that month must not be locked either.
        statements::ensure_month_unlocked(&txn, &plan, new.started_at).await?;
    }

    let current = RecordStatus::parse(&record.status)
        .ok_or_else(|| anyhow::anyhow!("record {} has an unknown status", record.id))?;
    let mut changes = record.clone().into_active_model();
    // The row and the diary move together; a diary can only be missing if the record was
    // created between the lock and this transaction (then the projection catches up).
    if let Some(diary) = diary.as_mut() {
        diary.record(&txn, record.id, &new, Utc::now()).await?;
    }
    new.apply(quantity, &mut changes);
    changes.status = Set(status_after_edit(current).as_str().to_owned());
    changes.updated_at = Set(Utc::now());
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
            action: "service_record.update",
            resource_type: "service_record",
            resource_id: Some(record.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    // What a reviewer acknowledged was the record before this correction.
    store::forget_acknowledgements(&txn, &[record.id]).await?;
    reviews::add_history(
        &txn,
        &ctx.actor(),
        &[HistoryEntry {
            record: record.id,
            action: "corrected",
            status: status_after_edit(current),
            reason_code: None,
            note: None,
            at: Utc::now(),
        }],
    )
    .await?;
    findings::after_records_changed(&txn, &[record.id], &[Span::of(&record)], Utc::now()).await?;
    let updated = find(&txn, &ctx, record.id).await?;
    txn.commit().await?;
    if let Some(diary) = diary {
        diary.committed();
    }
    respond(&state.db, &ctx, updated).await
}
