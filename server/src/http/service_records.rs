//! `/service-records`: prestazioni recorded by providers and reviewed by the municipality.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiJson, IfMatch, OptionalJson, Page, created, list_envelope, ok_tagged, required_text,
    sort_by, text,
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{care_plan, care_plan_operator, service_record, service_type, user},
        scope,
    },
    domain::{
        access::{self, Action, RecordView, Resource},
        care_plan::PlanStatus,
        roles::Role,
        service_record::{
            MissedReason, RecordDraft, RecordSource, RecordStatus, ReviewAction, ReviewReason,
            ServiceUnit, check_record, status_after_edit,
        },
        values::{from_milli, to_milli},
    },
    error::{ApiError, FieldError, Problem},
    http::extract::ApiQuery,
    state::AppState,
};

/// Longest origin or destination of a transport.
const PLACE_MAX: usize = 300;
/// Longest free text (notes, review notes).
const NOTE_MAX: usize = 2000;

/// The municipality's latest decision on a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    /// Why the record was rejected or needs clarification; absent for validations and reopenings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<ReviewReason>,
    /// The reviewer's words to the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// The social worker who decided.
    pub reviewed_by: Uuid,
    pub reviewed_at: DateTime<Utc>,
}

/// A prestazione: one delivered (or missed) service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRecord {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub service_type_id: Uuid,
    /// The field operator who delivered the service.
    pub operator_id: Uuid,
    pub started_at: DateTime<Utc>,
    /// Absent while the visit is open.
    pub ended_at: Option<DateTime<Utc>>,
    /// Quantity in the service type's unit (hours, trips, km, accesses), three decimals at most.
    #[schema(format = Double, minimum = 0, example = 1.5)]
    pub quantity: f64,
    /// Kilometres driven, for transports.
    #[schema(format = Double, minimum = 0, example = 12.4)]
    pub km: Option<f64>,
    /// Where a transport started (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300)]
    pub origin: Option<String>,
    /// Where a transport ended (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300)]
    pub destination: Option<String>,
    /// WGS 84 latitude where the visit was recorded (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Double, minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    /// WGS 84 longitude where the visit was recorded (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Double, minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Free text of the operator (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// The visit did not take place; the quantity is then zero.
    pub missed: bool,
    /// Why the visit did not take place.
    pub missed_reason: Option<MissedReason>,
    pub status: RecordStatus,
    /// The latest review decision; omitted when the record was never reviewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// How the record reached the server.
    pub source: RecordSource,
    /// When the server received the record.
    pub received_at: DateTime<Utc>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ServiceRecord {
    /// The record as `view` may see it.
    pub fn new(m: service_record::Model, view: RecordView) -> Self {
        let full = view == RecordView::Full;
        let review = m
            .reviewed_at
            .zip(m.reviewed_by)
            .map(|(reviewed_at, reviewed_by)| Review {
                reason_code: m
                    .review_reason_code
                    .as_deref()
                    .and_then(ReviewReason::parse),
                note: m.review_note,
                reviewed_by,
                reviewed_at,
            });
        Self {
            id: m.id,
            care_plan_id: m.care_plan_id,
            service_type_id: m.service_type_id,
            operator_id: m.operator_id,
            started_at: m.started_at,
            ended_at: m.ended_at,
            quantity: from_milli(m.quantity_milli),
            km: m.km_milli.map(from_milli),
            origin: m.origin.filter(|_| full),
            destination: m.destination.filter(|_| full),
            latitude: m.latitude.filter(|_| full),
            longitude: m.longitude.filter(|_| full),
            notes: m.notes.filter(|_| full),
            missed: m.missed,
            missed_reason: m.missed_reason.as_deref().and_then(MissedReason::parse),
            status: RecordStatus::parse(&m.status).unwrap_or(RecordStatus::Recorded),
            review,
            source: RecordSource::parse(&m.source).unwrap_or(RecordSource::Api),
            received_at: m.received_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<service_record::Model> for ServiceRecord {
    fn from(m: service_record::Model) -> Self {
        Self::new(m, RecordView::Full)
    }
}

list_envelope!(
    ServiceRecordList,
    ServiceRecord,
    "A page of service records."
);

/// A service record sent by a provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceRecord {
    /// Client-generated id, so that a retry never creates a duplicate: resending the same record
    /// with the same id answers 200 with the stored record.
    pub id: Option<Uuid>,
    pub care_plan_id: Uuid,
    /// An active service type of the plan's municipality.
    pub service_type_id: Uuid,
    /// The operator who delivered the service: required for coordinators, implied for operators.
    pub operator_id: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Explicit quantity in the service type's unit; when absent it follows from the times
    /// (hours), the km (km) or is 1 (trips, accesses).
    #[schema(format = Double, minimum = 0, example = 1.5)]
    pub quantity: Option<f64>,
    #[schema(format = Double, minimum = 0, example = 12.4)]
    pub km: Option<f64>,
    #[schema(max_length = 300)]
    pub origin: Option<String>,
    #[schema(max_length = 300)]
    pub destination: Option<String>,
    #[schema(format = Double, minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(format = Double, minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// The visit did not take place.
    #[serde(default)]
    #[schema(default = false)]
    pub missed: bool,
    pub missed_reason: Option<MissedReason>,
}

/// Changes to a service record (JSON merge patch; `null` clears an optional field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRecordPatch {
    pub service_type_id: Option<Uuid>,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Option<DateTime<Utc>>>,
    /// `null` goes back to the quantity that follows from the times, km or unit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = 0)]
    pub quantity: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = 0)]
    pub km: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub origin: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub destination: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = -90, maximum = 90)]
    pub latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = -180, maximum = 180)]
    pub longitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub notes: Option<Option<String>>,
    pub missed: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<MissedReason>)]
    pub missed_reason: Option<Option<MissedReason>>,
}

/// A merge-patch field: absent is `None`, `null` is `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An optional note to a validation or a reopening.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewNote {
    /// Words for the provider; the body itself may be omitted.
    #[schema(max_length = 2000, example = "Verificato con la famiglia")]
    pub note: Option<String>,
}

/// A rejection or a request for clarification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    pub reason_code: ReviewReason,
    /// What is wrong, in words the provider will read.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "L'orario non corrisponde al piano"
    )]
    pub note: String,
}

/// Filters and paging of the service record list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceRecordQuery {
    /// Only records of this care plan.
    pub care_plan_id: Option<Uuid>,
    /// Only records of this operator.
    pub operator_id: Option<Uuid>,
    /// Only records of this service type.
    pub service_type_id: Option<Uuid>,
    /// Only records in this status.
    pub status: Option<RecordStatus>,
    /// Only records started at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// Only records started before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// Only missed (`true`) or delivered (`false`) visits.
    pub missed: Option<bool>,
    /// Sort order; `-` for descending (default `-started_at`).
    #[param(pattern = "^-?(started_at|received_at)$", max_length = 12)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0)]
    pub offset: Option<u64>,
}

/// The provider-editable content of a record, after merging and trimming.
#[derive(Debug, Clone, PartialEq)]
struct Content {
    service_type_id: Uuid,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    /// Explicit quantity, when stated.
    quantity_milli: Option<i64>,
    km_milli: Option<i64>,
    origin: Option<String>,
    destination: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    notes: Option<String>,
    missed: bool,
    missed_reason: Option<MissedReason>,
}

impl Content {
    /// Checks the content against the rules of `unit`, returning the quantity to store.
    fn check(&self, unit: ServiceUnit, errors: &mut Vec<FieldError>) -> Option<i64> {
        if !self.missed && self.missed_reason.is_some() {
            errors.push(FieldError::new(
                "missed_reason",
                "only a missed visit has a reason",
            ));
        }
        let draft = RecordDraft {
            unit,
            started_at: self.started_at,
            ended_at: self.ended_at,
            quantity_milli: self.quantity_milli,
            km_milli: self.km_milli,
            missed: self.missed,
            latitude: self.latitude,
            longitude: self.longitude,
        };
        check_record(&draft).map_err(|e| errors.extend(e)).ok()
    }

    /// Whether `m` stores exactly this content with `quantity_milli`.
    fn matches(&self, m: &service_record::Model, quantity_milli: i64) -> bool {
        self.service_type_id == m.service_type_id
            && self.started_at == m.started_at
            && self.ended_at == m.ended_at
            && quantity_milli == m.quantity_milli
            && self.km_milli == m.km_milli
            && self.origin == m.origin
            && self.destination == m.destination
            && self.latitude == m.latitude
            && self.longitude == m.longitude
            && self.notes == m.notes
            && self.missed == m.missed
            && self.missed_reason.map(MissedReason::as_str) == m.missed_reason.as_deref()
    }

    /// Writes the content and its quantity into `changes`.
    fn apply(self, quantity_milli: i64, changes: &mut service_record::ActiveModel) {
        changes.service_type_id = Set(self.service_type_id);
        changes.started_at = Set(self.started_at);
        changes.ended_at = Set(self.ended_at);
        changes.quantity_milli = Set(quantity_milli);
        changes.km_milli = Set(self.km_milli);
        changes.origin = Set(self.origin);
        changes.destination = Set(self.destination);
        changes.latitude = Set(self.latitude);
        changes.longitude = Set(self.longitude);
        changes.notes = Set(self.notes);
        changes.missed = Set(self.missed);
        changes.missed_reason = Set(self.missed_reason.map(|r| r.as_str().to_owned()));
    }
}

/// Thousandths of a wire quantity; non-finite or huge values are a field error.
fn milli(field: &str, value: Option<f64>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let value = value?;
    let milli = to_milli(value);
    if milli.is_none() {
        errors.push(FieldError::new(
            field,
            "must be a finite number below one trillion",
        ));
    }
    milli
}

/// Timestamps are stored with microseconds (PostgreSQL's precision), so that a retried create
/// compares equal to what was stored.
fn instant(value: DateTime<Utc>) -> DateTime<Utc> {
    value.trunc_subsecs(6)
}

fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

fn unit_of(service_type: &service_type::Model) -> Result<ServiceUnit, ApiError> {
    ServiceUnit::parse(&service_type.unit).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "service type {} has an unknown unit",
            service_type.id
        ))
    })
}

/// An active service type of `municipality_id`.
async fn active_service_type(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    id: Uuid,
) -> Result<Option<service_type::Model>, ApiError> {
    Ok(service_type::Entity::find_by_id(id)
        .filter(service_type::Column::MunicipalityId.eq(municipality_id))
        .filter(service_type::Column::Active.eq(true))
        .one(db)
        .await?)
}

/// Whether `operator_id` is an active field operator of the caller's organization authorized on
/// `plan_id`.
async fn operator_may_record(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    plan_id: Uuid,
    operator_id: Uuid,
) -> Result<bool, ApiError> {
    let operator = user::Entity::find_by_id(operator_id)
        .filter(user::Column::OrganizationId.eq(ctx.caller.organization_id))
        .filter(user::Column::Role.eq(Role::FieldOperator.as_str()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?;
    if operator.is_none() {
        return Ok(false);
    }
    Ok(care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.eq(plan_id))
        .filter(care_plan_operator::Column::OperatorId.eq(operator_id))
        .one(db)
        .await?
        .is_some())
}

/// The operator a new record is for: operators record for themselves, coordinators name one.
fn requested_operator(
    ctx: &Ctx,
    operator_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Option<Uuid> {
    match ctx.caller.role {
        Role::FieldOperator => {
            let own = ctx.caller.user_id();
            if operator_id.is_some() && operator_id != own {
                errors.push(FieldError::new(
                    "operator_id",
                    "field operators record their own services",
                ));
            }
            own
        }
        _ => {
            if operator_id.is_none() {
                errors.push(FieldError::new("operator_id", "is required"));
            }
            operator_id
        }
    }
}

/// Lists the service records visible to the caller.
#[utoipa::path(
    tag = "service-records",
    operation_id = "list_service_records",
    params(ServiceRecordQuery),
    responses((status = 200, description = "A page of service records.", body = ServiceRecordList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-records")]
pub async fn list_service_records(
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
    let view = access::record_view(&ctx.caller);
    Ok(HttpResponse::Ok().json(ServiceRecordList::new(
        rows.into_iter()
            .map(|m| ServiceRecord::new(m, view))
            .collect(),
        page,
        total,
    )))
}

async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<service_record::Model, ApiError> {
    find_in_scope(db, ctx, id).await?.ok_or(ApiError::NotFound)
}

async fn find_in_scope(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<Option<service_record::Model>, ApiError> {
    Ok(service_record::Entity::find_by_id(id)
        .filter(scope::records(access::plan_scope(&ctx.caller)))
        .one(db)
        .await?)
}

fn respond(ctx: &Ctx, record: service_record::Model) -> HttpResponse {
    let version = record.version;
    ok_tagged(
        &ServiceRecord::new(record, access::record_view(&ctx.caller)),
        version,
    )
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
pub async fn show_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Read)?;
    let record = find(&state.db, &ctx, *id).await?;
    Ok(respond(&ctx, record))
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
pub async fn create_service_record(
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
            Some(q) if content.matches(&existing, q) => Ok(respond(&ctx, existing)),
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

    let now = Utc::now();
    let mut record = service_record::ActiveModel {
        id: Set(input.id.unwrap_or_else(Uuid::now_v7)),
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
    txn.commit().await?;
    let version = record.version;
    Ok(created(
        format!("/api/v1/service-records/{}", record.id),
        &ServiceRecord::new(record, access::record_view(&ctx.caller)),
        version,
    ))
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
pub async fn update_service_record(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ServiceRecordPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::ServiceRecords, Action::Write)?;
    let txn = state.db.begin().await?;
    let record = find(&txn, &ctx, *id).await?;
    if_match.check(record.version)?;
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("plan of record {} missing", record.id))?;
    let stored_type = service_type::Entity::find_by_id(record.service_type_id)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service type of record {} missing", record.id))?;

    let mut errors = Vec::new();
    let old = Content {
        service_type_id: record.service_type_id,
        started_at: record.started_at,
        ended_at: record.ended_at,
        quantity_milli: None,
        km_milli: record.km_milli,
        origin: record.origin.clone(),
        destination: record.destination.clone(),
        latitude: record.latitude,
        longitude: record.longitude,
        notes: record.notes.clone(),
        missed: record.missed,
        missed_reason: record
            .missed_reason
            .as_deref()
            .and_then(MissedReason::parse),
    };
    // The table keeps only the resulting quantity: it was explicit when it differs from the
    // one the record's own values give.
    let derived = old.check(unit_of(&stored_type)?, &mut Vec::new());
    let explicit = (derived != Some(record.quantity_milli)).then_some(record.quantity_milli);

    let mut new = old.clone();
    new.quantity_milli = explicit;
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
        return Ok(respond(&ctx, record));
    }

    let current = RecordStatus::parse(&record.status)
        .ok_or_else(|| anyhow::anyhow!("record {} has an unknown status", record.id))?;
    let mut changes = record.clone().into_active_model();
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
    let updated = find(&txn, &ctx, record.id).await?;
    txn.commit().await?;
    Ok(respond(&ctx, updated))
}

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
pub async fn validate_service_record(
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
pub async fn reject_service_record(
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
pub async fn request_service_record_clarification(
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
pub async fn reopen_service_record(
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

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_service_records)
        .service(create_service_record)
        .service(show_service_record)
        .service(update_service_record)
        .service(validate_service_record)
        .service(reject_service_record)
        .service(request_service_record_clarification)
        .service(reopen_service_record);
}
