//! `/organizations`: municipalities and the registry of providers.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiJson, IfMatch, Page, created, list_envelope, ok_tagged, required_text, sort_by, text,
};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::organization, scope},
    domain::{
        access::{self, Action, Resource},
        roles::OrganizationKind,
    },
    error::ApiError,
    http::extract::ApiQuery,
    state::AppState,
};

/// A municipality or a provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub kind: OrganizationKind,
    #[schema(max_length = 200, example = "Cooperativa Sociale Il Girasole")]
    pub name: String,
    /// Codice fiscale or partita IVA of the organization.
    #[schema(max_length = 16, example = "01234567890")]
    pub tax_code: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// Inactive organizations keep their history but their users cannot log in.
    pub active: bool,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<organization::Model> for Organization {
    fn from(m: organization::Model) -> Self {
        Self {
            id: m.id,
            kind: OrganizationKind::parse(&m.kind).unwrap_or(OrganizationKind::Provider),
            name: m.name,
            tax_code: m.tax_code,
            email: m.email,
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

list_envelope!(OrganizationList, Organization, "A page of organizations.");

/// A new provider (municipalities are created when a deployment is set up).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    /// Must be `provider`.
    pub kind: OrganizationKind,
    #[schema(max_length = 200, example = "Cooperativa Sociale Il Girasole")]
    pub name: String,
    #[schema(max_length = 16, pattern = "^[0-9A-Z]{11,16}$")]
    pub tax_code: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
}

/// Changes to an organization (JSON merge patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 16, pattern = "^[0-9A-Z]{11,16}$")]
    pub tax_code: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub active: Option<bool>,
}

/// Filters and paging of the organization list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrganizationQuery {
    /// Only organizations of this kind.
    pub kind: Option<OrganizationKind>,
    /// Sort order; `-` for descending.
    #[param(pattern = "^-?(name|created_at)$", max_length = 11)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

fn check_tax_code(value: &Option<String>, errors: &mut Vec<crate::error::FieldError>) {
    if value.as_ref().is_some_and(|v| {
        !(11..=16).contains(&v.len())
            || !v
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    }) {
        errors.push(crate::error::FieldError::new(
            "tax_code",
            "must be a partita IVA (11 digits) or a codice fiscale (16 characters)",
        ));
    }
}

fn check_email(field: &str, value: &Option<String>, errors: &mut Vec<crate::error::FieldError>) {
    if value.as_ref().is_some_and(|v| !is_email(v)) {
        errors.push(crate::error::FieldError::new(
            field,
            "is not an email address",
        ));
    }
}

/// A deliberately loose email check: one `@`, something on both sides, a dot in the domain.
pub fn is_email(value: &str) -> bool {
    value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !value.contains(char::is_whitespace)
        })
}

fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::Organizations, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

/// Lists the organizations visible to the caller.
#[utoipa::path(
    tag = "organizations",
    operation_id = "list_organizations",
    params(OrganizationQuery),
    responses((status = 200, description = "A page of organizations.", body = OrganizationList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<OrganizationQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select = organization::Entity::find().filter(scope::organizations(
        organization::Column::Id,
        access::organization_scope(&ctx.caller),
    ));
    if let Some(kind) = query.kind {
        select = select.filter(organization::Column::Kind.eq(kind.as_str()));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "name",
        &[
            ("name", organization::Column::Name),
            ("created_at", organization::Column::CreatedAt),
        ],
        organization::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(OrganizationList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

async fn find(
    db: &impl sea_orm::ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(id)
        .filter(scope::organizations(
            organization::Column::Id,
            access::organization_scope(&ctx.caller),
        ))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads one organization.
#[utoipa::path(
    tag = "organizations",
    operation_id = "show_organization",
    params(("id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, description = "The organization.", body = Organization)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/organizations/{id}")]
pub async fn show_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let org = find(&state.db, &ctx, *id).await?;
    let version = org.version;
    Ok(ok_tagged(&Organization::from(org), version))
}

/// Registers a provider.
#[utoipa::path(
    tag = "organizations",
    operation_id = "create_organization",
    request_body = NewOrganization,
    responses((status = 201, description = "Created.", body = Organization)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewOrganization>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let mut errors = Vec::new();
    if input.kind != OrganizationKind::Provider {
        errors.push(crate::error::FieldError::new(
            "kind",
            "only providers can be registered; municipalities are set up with the deployment",
        ));
    }
    let name = required_text("name", input.name, 200, &mut errors);
    let email = text("email", input.email, 254, &mut errors);
    check_email("email", &email, &mut errors);
    check_tax_code(&input.tax_code, &mut errors);
    ApiError::check(errors)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let org = organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(input.kind.as_str().to_owned()),
        name: Set(name),
        tax_code: Set(input.tax_code),
        email: Set(email.map(|e| e.to_lowercase())),
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
            action: "organization.create",
            resource_type: "organization",
            resource_id: Some(org.id),
            organization_id: Some(org.id),
        },
    )
    .await?;
    txn.commit().await?;
    let version = org.version;
    Ok(created(
        format!("/api/v1/organizations/{}", org.id),
        &Organization::from(org),
        version,
    ))
}

/// Updates an organization (admins: their municipality and providers).
#[utoipa::path(
    tag = "organizations",
    operation_id = "update_organization",
    params(("id" = Uuid, Path, description = "Organization id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = OrganizationPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated.", body = Organization)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/organizations/{id}")]
pub async fn update_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<OrganizationPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let txn = state.db.begin().await?;
    let org = find(&txn, &ctx, *id).await?;
    if_match.check(org.version)?;
    let mut errors = Vec::new();
    let mut changes = org.clone().into_active_model();
    if let Some(name) = input.name {
        changes.name = Set(required_text("name", name, 200, &mut errors));
    }
    if input.tax_code.is_some() {
        check_tax_code(&input.tax_code, &mut errors);
        changes.tax_code = Set(input.tax_code);
    }
    if input.email.is_some() {
        let email = text("email", input.email, 254, &mut errors);
        check_email("email", &email, &mut errors);
        changes.email = Set(email.map(|e| e.to_lowercase()));
    }
    if let Some(active) = input.active {
        if !active && org.id == ctx.caller.organization_id {
            errors.push(crate::error::FieldError::new(
                "active",
                "you cannot deactivate your own organization",
            ));
        }
        changes.active = Set(active);
    }
    ApiError::check(errors)?;
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<organization::Entity, _>(
        &txn,
        organization::Column::Id,
        organization::Column::Version,
        org.id,
        org.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "organization.update",
            resource_type: "organization",
            resource_id: Some(org.id),
            organization_id: Some(org.id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, org.id).await?;
    txn.commit().await?;
    let version = updated.version;
    Ok(ok_tagged(&Organization::from(updated), version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_organizations)
        .service(create_organization)
        .service(show_organization)
        .service(update_organization);
}
