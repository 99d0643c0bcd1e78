//! `/audit-events`: the append-only audit log, read by admins. There are no write endpoints:
//! events are recorded by the changes themselves and never updated or deleted.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Page, list_envelope, sort_order};
use crate::{
    auth::caller::Ctx,
    db::{self, entities::audit_event, scope},
    domain::access::{self, Action, Resource},
    error::{ApiError, FieldError},
    http::extract::ApiQuery,
    state::AppState,
};

/// Who did what to which record, when and from where.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    /// When the server recorded the change.
    pub occurred_at: DateTime<Utc>,
    /// The tenant the record belongs to.
    pub organization_id: Option<Uuid>,
    /// The user who acted, when a person did.
    pub actor_user_id: Option<Uuid>,
    /// The API client that acted, when a vendor's system did.
    pub actor_client_id: Option<Uuid>,
    /// The actor's role at the time.
    #[schema(max_length = 32, example = "admin")]
    pub actor_role: String,
    /// Dotted verb.
    #[schema(max_length = 64, example = "user.create")]
    pub action: String,
    #[schema(max_length = 32, example = "user")]
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    /// The request's `X-Request-ID`.
    #[schema(max_length = 64)]
    pub request_id: Option<String>,
    /// The peer's IP address.
    #[schema(max_length = 64, example = "192.0.2.10")]
    pub client_ip: Option<String>,
}

impl From<audit_event::Model> for AuditEvent {
    fn from(m: audit_event::Model) -> Self {
        Self {
            id: m.id,
            occurred_at: m.occurred_at,
            organization_id: m.organization_id,
            actor_user_id: m.actor_user_id,
            actor_client_id: m.actor_client_id,
            actor_role: m.actor_role,
            action: m.action,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            request_id: m.request_id,
            client_ip: m.client_ip,
        }
    }
}

list_envelope!(AuditEventList, AuditEvent, "A page of audit events.");

/// Filters and paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditEventQuery {
    /// Only events about this resource type (e.g. `care_plan`).
    #[param(max_length = 32)]
    pub resource_type: Option<String>,
    /// Only events about this record.
    pub resource_id: Option<Uuid>,
    /// Only events by this user.
    pub actor_user_id: Option<Uuid>,
    /// Only events with this action (e.g. `user.update`).
    #[param(max_length = 64)]
    pub action: Option<String>,
    /// Only events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only events before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Sort order; newest first (`-occurred_at`) by default.
    #[param(pattern = "^-?occurred_at$", max_length = 12)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::AuditEvents, Action::Read)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

fn visible(ctx: &Ctx) -> sea_orm::Condition {
    scope::organizations(
        audit_event::Column::OrganizationId,
        access::organization_scope(&ctx.caller),
    )
}

/// Lists the audit events of the organizations visible to the caller, newest first.
#[utoipa::path(
    tag = "audit-events",
    operation_id = "list_audit_events",
    params(AuditEventQuery),
    responses((status = 200, description = "A page of audit events.", body = AuditEventList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<AuditEventQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut errors = Vec::new();
    if query
        .resource_type
        .as_ref()
        .is_some_and(|v| v.chars().count() > 32)
    {
        errors.push(FieldError::new(
            "resource_type",
            "must be at most 32 characters",
        ));
    }
    if query
        .action
        .as_ref()
        .is_some_and(|v| v.chars().count() > 64)
    {
        errors.push(FieldError::new("action", "must be at most 64 characters"));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        errors.push(FieldError::new("to", "must not be before from"));
    }
    // Checked with the other fields, so that one answer names every invalid one.
    let sort = sort_order(
        query.sort.as_deref(),
        "-occurred_at",
        &[("occurred_at", audit_event::Column::OccurredAt)],
    )
    .map_err(|error| errors.push(error));
    ApiError::check(errors)?;
    let mut select = audit_event::Entity::find().filter(visible(&ctx));
    if let Some(resource_type) = query.resource_type {
        select = select.filter(audit_event::Column::ResourceType.eq(resource_type));
    }
    if let Some(resource_id) = query.resource_id {
        select = select.filter(audit_event::Column::ResourceId.eq(resource_id));
    }
    if let Some(actor_user_id) = query.actor_user_id {
        select = select.filter(audit_event::Column::ActorUserId.eq(actor_user_id));
    }
    if let Some(action) = query.action {
        select = select.filter(audit_event::Column::Action.eq(action));
    }
    if let Some(from) = query.from {
        select = select.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(audit_event::Column::OccurredAt.lt(to));
    }
    // Ids are UUIDv7, ordered by time: the same direction keeps ties in recording order.
    if let Ok((column, desc)) = sort {
        select = if desc {
            select
                .order_by_desc(column)
                .order_by_desc(audit_event::Column::Id)
        } else {
            select
                .order_by_asc(column)
                .order_by_asc(audit_event::Column::Id)
        };
    }
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(AuditEventList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

/// Reads one audit event.
#[utoipa::path(
    tag = "audit-events",
    operation_id = "show_audit_event",
    params(("id" = Uuid, Path, description = "Audit event id")),
    responses((status = 200, description = "The audit event.", body = AuditEvent)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/audit-events/{id}")]
pub async fn show_audit_event(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx)?;
    let event = audit_event::Entity::find_by_id(*id)
        .filter(visible(&ctx))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(AuditEvent::from(event)))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_audit_events).service(show_audit_event);
}
