//! `/api-clients`: vendors' systems that call the API with OAuth2 client credentials, each bound
//! to one organization. Admins only.

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
    auth::{caller::Ctx, secrets},
    db::{
        self, audit,
        entities::{api_client, organization},
        scope,
    },
    domain::access::{self, Action, Resource},
    error::{ApiError, FieldError},
    http::extract::ApiQuery,
    state::AppState,
};

/// Prefix of every public client id, so that leaked ids are recognizable.
const CLIENT_ID_PREFIX: &str = "tcc_";
/// Random characters after the prefix.
const CLIENT_ID_RANDOM_CHARS: usize = 24;

/// A vendor's system. Its secret is never returned after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClient {
    pub id: Uuid,
    /// The organization the client acts for.
    pub organization_id: Uuid,
    #[schema(max_length = 200, example = "Gestionale Cooperativa Il Girasole")]
    pub name: String,
    /// The public `client_id` of the OAuth2 client credentials grant.
    #[schema(
        max_length = 64,
        pattern = "^tcc_[A-Za-z0-9_-]{24}$",
        example = "tcc_Qm9uZ2lvcm5vIGEgdHV0dGkx"
    )]
    pub client_id: String,
    /// Inactive clients cannot obtain tokens.
    pub active: bool,
    /// When the client last obtained a token.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<api_client::Model> for ApiClient {
    fn from(m: api_client::Model) -> Self {
        Self {
            id: m.id,
            organization_id: m.organization_id,
            name: m.name,
            client_id: m.client_id,
            active: m.active,
            last_used_at: m.last_used_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A newly created API client with its secret, which is shown only in this response: the server
/// keeps a digest and cannot show it again. Store it in the vendor's system at once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiClientCredentials {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[schema(max_length = 200, example = "Gestionale Cooperativa Il Girasole")]
    pub name: String,
    /// The public `client_id` of the OAuth2 client credentials grant.
    #[schema(
        max_length = 64,
        pattern = "^tcc_[A-Za-z0-9_-]{24}$",
        example = "tcc_Qm9uZ2lvcm5vIGEgdHV0dGkx"
    )]
    pub client_id: String,
    /// The `client_secret`, shown once: it cannot be read again.
    #[schema(max_length = 64, pattern = "^[A-Za-z0-9_-]{43}$")]
    pub client_secret: String,
    pub active: bool,
    pub last_used_at: Option<DateTime<Utc>>,
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NewApiClientCredentials {
    fn new(m: api_client::Model, client_secret: String) -> Self {
        Self {
            id: m.id,
            organization_id: m.organization_id,
            name: m.name,
            client_id: m.client_id,
            client_secret,
            active: m.active,
            last_used_at: m.last_used_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

list_envelope!(ApiClientList, ApiClient, "A page of API clients.");

/// A new API client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    /// The organization the client acts for: yours, or a provider.
    pub organization_id: Uuid,
    /// A name that says which system this is.
    #[schema(max_length = 200, example = "Gestionale Cooperativa Il Girasole")]
    pub name: String,
}

/// Changes to an API client (JSON merge patch).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiClientPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// `false` stops the client from obtaining new tokens.
    pub active: Option<bool>,
}

/// Filters and paging of the API client list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiClientQuery {
    /// Only clients of this organization.
    pub organization_id: Option<Uuid>,
    /// Only active (`true`) or inactive (`false`) clients.
    pub active: Option<bool>,
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

fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::ApiClients, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

fn visible(ctx: &Ctx) -> sea_orm::Condition {
    scope::organizations(
        api_client::Column::OrganizationId,
        access::organization_scope(&ctx.caller),
    )
}

/// Lists the API clients of the organizations visible to the caller.
#[utoipa::path(
    tag = "api-clients",
    operation_id = "list_api_clients",
    params(ApiClientQuery),
    responses((status = 200, description = "A page of API clients.", body = ApiClientList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/api-clients")]
pub async fn list_api_clients(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<ApiClientQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select = api_client::Entity::find().filter(visible(&ctx));
    if let Some(organization_id) = query.organization_id {
        select = select.filter(api_client::Column::OrganizationId.eq(organization_id));
    }
    if let Some(active) = query.active {
        select = select.filter(api_client::Column::Active.eq(active));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "name",
        &[
            ("name", api_client::Column::Name),
            ("created_at", api_client::Column::CreatedAt),
        ],
        api_client::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(ApiClientList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<api_client::Model, ApiError> {
    api_client::Entity::find_by_id(id)
        .filter(visible(ctx))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads one API client (without its secret).
#[utoipa::path(
    tag = "api-clients",
    operation_id = "show_api_client",
    params(("id" = Uuid, Path, description = "API client id")),
    responses((status = 200, description = "The API client.", body = ApiClient)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/api-clients/{id}")]
pub async fn show_api_client(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let client = find(&state.db, &ctx, *id).await?;
    let version = client.version;
    Ok(ok_tagged(&ApiClient::from(client), version))
}

/// Registers an API client and returns its secret, once.
#[utoipa::path(
    tag = "api-clients",
    operation_id = "create_api_client",
    request_body = NewApiClient,
    responses((status = 201, description = "Created; the response holds the client secret, shown only this once.", body = NewApiClientCredentials)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/api-clients")]
pub async fn create_api_client(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewApiClient>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let mut errors = Vec::new();
    let name = required_text("name", input.name, 200, &mut errors);
    let organization_visible = organization::Entity::find_by_id(input.organization_id)
        .filter(scope::organizations(
            organization::Column::Id,
            access::organization_scope(&ctx.caller),
        ))
        .one(&state.db)
        .await?
        .is_some();
    if !organization_visible {
        errors.push(FieldError::new("organization_id", "unknown organization"));
    }
    ApiError::check(errors)?;
    let client_id = format!(
        "{CLIENT_ID_PREFIX}{}",
        secrets::generate()
            .chars()
            .take(CLIENT_ID_RANDOM_CHARS)
            .collect::<String>()
    );
    let client_secret = secrets::generate();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let client = api_client::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(input.organization_id),
        name: Set(name),
        client_id: Set(client_id),
        secret_hash: Set(secrets::digest(&client_secret)),
        active: Set(true),
        last_used_at: Set(None),
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
            action: "api_client.create",
            resource_type: "api_client",
            resource_id: Some(client.id),
            organization_id: Some(client.organization_id),
        },
    )
    .await?;
    txn.commit().await?;
    let version = client.version;
    Ok(created(
        format!("/api/v1/api-clients/{}", client.id),
        &NewApiClientCredentials::new(client, client_secret),
        version,
    ))
}

/// Renames an API client or (de)activates it.
#[utoipa::path(
    tag = "api-clients",
    operation_id = "update_api_client",
    params(("id" = Uuid, Path, description = "API client id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = ApiClientPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated.", body = ApiClient)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/api-clients/{id}")]
pub async fn update_api_client(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<ApiClientPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let txn = state.db.begin().await?;
    let client = find(&txn, &ctx, *id).await?;
    if_match.check(client.version)?;
    let mut errors = Vec::new();
    let mut changes = client.clone().into_active_model();
    if let Some(name) = input.name {
        changes.name = Set(required_text("name", name, 200, &mut errors));
    }
    if let Some(active) = input.active {
        changes.active = Set(active);
    }
    ApiError::check(errors)?;
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<api_client::Entity, _>(
        &txn,
        api_client::Column::Id,
        api_client::Column::Version,
        client.id,
        client.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "api_client.update",
            resource_type: "api_client",
            resource_id: Some(client.id),
            organization_id: Some(client.organization_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, client.id).await?;
    txn.commit().await?;
    let version = updated.version;
    Ok(ok_tagged(&ApiClient::from(updated), version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_api_clients)
        .service(create_api_client)
        .service(show_api_client)
        .service(update_api_client);
}
