//! `/service-types`: a municipality's catalogue of services (SAD, ADM, social transport...),
//! each with its unit and tariff.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, IfMatch, Page, created, list_envelope, ok_tagged, required_text, sort_by};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::service_type, scope},
    domain::{
        access::{self, Action, Resource},
        roles::OrganizationKind,
        service_record::ServiceUnit,
        values::Money,
    },
    error::{ApiError, FieldError},
    http::extract::ApiQuery,
    state::AppState,
};

/// Longest service code.
const MAX_CODE_CHARS: usize = 32;

/// A kind of service in a municipality's catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceType {
    pub id: Uuid,
    /// The municipality whose catalogue this is.
    pub municipality_id: Uuid,
    /// Short code, unique within the municipality.
    #[schema(max_length = 32, pattern = "^[A-Z0-9_-]{1,32}$", example = "SAD")]
    pub code: String,
    #[schema(max_length = 200, example = "Servizio di assistenza domiciliare")]
    pub name: String,
    /// What a quantity of this service counts.
    pub unit: ServiceUnit,
    /// Price of one unit.
    pub tariff: Money,
    /// Inactive types stay on existing plans and records but cannot be planned anew.
    pub active: bool,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<service_type::Model> for ServiceType {
    fn from(m: service_type::Model) -> Self {
        Self {
            id: m.id,
            municipality_id: m.municipality_id,
            code: m.code,
            name: m.name,
            unit: ServiceUnit::parse(&m.unit).unwrap_or(ServiceUnit::Access),
            tariff: Money::from_cents(m.tariff_cents),
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

list_envelope!(ServiceTypeList, ServiceType, "A page of service types.");

/// A new service type in the caller's municipality.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceType {
    /// Short code, unique within the municipality; cannot change later.
    #[schema(max_length = 32, pattern = "^[A-Z0-9_-]{1,32}$", example = "SAD")]
    pub code: String,
    #[schema(max_length = 200, example = "Servizio di assistenza domiciliare")]
    pub name: String,
    /// What a quantity counts; cannot change later.
    pub unit: ServiceUnit,
    /// Price of one unit; not negative.
    pub tariff: Money,
}

/// Changes to a service type (JSON merge patch). Code and unit are fixed once created, because
/// plans and records depend on them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTypePatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// New price of one unit; not negative.
    pub tariff: Option<Money>,
    pub active: Option<bool>,
}

/// Filters and paging of the service catalogue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceTypeQuery {
    /// Only types with this unit.
    pub unit: Option<ServiceUnit>,
    /// Only active (`true`) or inactive (`false`) types.
    pub active: Option<bool>,
    /// Only types with this code.
    #[param(max_length = 32, pattern = "^[A-Z0-9_-]{1,32}$")]
    pub code: Option<String>,
    /// Sort order; `-` for descending.
    #[param(pattern = "^-?(code|name)$", max_length = 5)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    let allowed = access::allows(&ctx.caller, Resource::ServiceTypes, action)
        // Catalogues belong to municipalities: only their admins write them.
        && (action == Action::Read || ctx.caller.organization_kind == OrganizationKind::Municipality);
    allowed.then_some(()).ok_or(ApiError::Forbidden)
}

fn is_code(value: &str) -> bool {
    (1..=MAX_CODE_CHARS).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn tariff_cents(tariff: &Money, errors: &mut Vec<FieldError>) -> i64 {
    match tariff.to_cents() {
        Ok(cents) if cents < 0 => {
            errors.push(FieldError::new("tariff", "must not be negative"));
            0
        }
        Ok(cents) => cents,
        Err(why) => {
            errors.push(FieldError::new("tariff", why));
            0
        }
    }
}

/// Lists the service types visible to the caller.
#[utoipa::path(
    tag = "service-types",
    operation_id = "list_service_types",
    params(ServiceTypeQuery),
    responses((status = 200, description = "A page of service types.", body = ServiceTypeList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-types")]
pub async fn list_service_types(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<ServiceTypeQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select =
        service_type::Entity::find().filter(scope::catalogue(access::catalogue_scope(&ctx.caller)));
    if let Some(unit) = query.unit {
        select = select.filter(service_type::Column::Unit.eq(unit.as_str()));
    }
    if let Some(active) = query.active {
        select = select.filter(service_type::Column::Active.eq(active));
    }
    if let Some(code) = query.code {
        if code.chars().count() > MAX_CODE_CHARS {
            return Err(ApiError::field("code", "must be at most 32 characters"));
        }
        select = select.filter(service_type::Column::Code.eq(code));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "code",
        &[
            ("code", service_type::Column::Code),
            ("name", service_type::Column::Name),
        ],
        service_type::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(ServiceTypeList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<service_type::Model, ApiError> {
    service_type::Entity::find_by_id(id)
        .filter(scope::catalogue(access::catalogue_scope(&ctx.caller)))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads one service type.
#[utoipa::path(
    tag = "service-types",
    operation_id = "show_service_type",
    params(("id" = Uuid, Path, description = "Service type id")),
    responses((status = 200, description = "The service type.", body = ServiceType)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/service-types/{id}")]
pub async fn show_service_type(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let version = found.version;
    Ok(ok_tagged(&ServiceType::from(found), version))
}

/// Adds a service type to the caller's municipal catalogue.
#[utoipa::path(
    tag = "service-types",
    operation_id = "create_service_type",
    request_body = NewServiceType,
    responses((status = 201, description = "Created.", body = ServiceType)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/service-types")]
pub async fn create_service_type(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewServiceType>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let mut errors = Vec::new();
    if !is_code(&input.code) {
        errors.push(FieldError::new(
            "code",
            "must be 1-32 uppercase letters, digits, _ or -",
        ));
    }
    let name = required_text("name", input.name, 200, &mut errors);
    let tariff = tariff_cents(&input.tariff, &mut errors);
    ApiError::check(errors)?;
    let municipality_id = ctx.caller.organization_id;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if service_type::Entity::find()
        .filter(service_type::Column::MunicipalityId.eq(municipality_id))
        .filter(service_type::Column::Code.eq(input.code.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict {
            code: "duplicate-code",
            detail: format!(
                "The catalogue already has a service type with code {}.",
                input.code
            ),
        });
    }
    let new = service_type::ActiveModel {
        id: Set(Uuid::now_v7()),
        municipality_id: Set(municipality_id),
        code: Set(input.code),
        name: Set(name),
        unit: Set(input.unit.as_str().to_owned()),
        tariff_cents: Set(tariff),
        active: Set(true),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "service_type.create",
            resource_type: "service_type",
            resource_id: Some(new.id),
            organization_id: Some(new.municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    let version = new.version;
    Ok(created(
        format!("/api/v1/service-types/{}", new.id),
        &ServiceType::from(new),
        version,
    ))
}

/// Renames a service type, changes its tariff, or (de)activates it.
#[utoipa::path(
    tag = "service-types",
    operation_id = "update_service_type",
    params(("id" = Uuid, Path, description = "Service type id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ServiceTypePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated.", body = ServiceType)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/service-types/{id}")]
pub async fn update_service_type(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ServiceTypePatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let txn = state.db.begin().await?;
    let found = find(&txn, &ctx, *id).await?;
    if_match.check(found.version)?;
    let mut errors = Vec::new();
    let mut changes = found.clone().into_active_model();
    if let Some(name) = input.name {
        changes.name = Set(required_text("name", name, 200, &mut errors));
    }
    if let Some(tariff) = &input.tariff {
        changes.tariff_cents = Set(tariff_cents(tariff, &mut errors));
    }
    if let Some(active) = input.active {
        changes.active = Set(active);
    }
    ApiError::check(errors)?;
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<service_type::Entity, _>(
        &txn,
        service_type::Column::Id,
        service_type::Column::Version,
        found.id,
        found.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "service_type.update",
            resource_type: "service_type",
            resource_id: Some(found.id),
            organization_id: Some(found.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, found.id).await?;
    txn.commit().await?;
    let version = updated.version;
    Ok(ok_tagged(&ServiceType::from(updated), version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_service_types)
        .service(create_service_type)
        .service(show_service_type)
        .service(update_service_type);
}
