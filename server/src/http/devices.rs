//! `/devices`: the phones and browsers that sync, and their revocation. A revoked device is
//! refused at its next connection and its open connections are closed at once.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Page, list_envelope, sort_by};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, devices, entities::device},
    domain::access::{self, Action, Resource},
    error::ApiError,
    http::extract::ApiQuery,
    state::AppState,
};

/// A phone or browser of one user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The owner's organization.
    pub organization_id: Uuid,
    /// The automerge-repo peer id it syncs as.
    #[schema(max_length = 64, example = "device-6f1c0a4e2b7d4e0f9a3b5c7d9e1f2a3b")]
    pub peer_id: String,
    /// A name its owner recognises.
    #[schema(max_length = 100, example = "Telefono di servizio")]
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Its last connection.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked device cannot sync any more.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<device::Model> for Device {
    fn from(m: device::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            organization_id: m.organization_id,
            peer_id: m.peer_id,
            name: m.name,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            revoked_at: m.revoked_at,
        }
    }
}

list_envelope!(DeviceList, Device, "A page of devices.");

/// Filters and paging of devices.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Only the devices of this user.
    pub user_id: Option<Uuid>,
    /// Only revoked (`true`) or usable (`false`) devices.
    pub revoked: Option<bool>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::Devices, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

fn visible(ctx: &Ctx) -> sea_orm::Condition {
    devices::in_scope(access::device_scope(&ctx.caller))
}

/// Lists the devices visible to the caller: their own, or their organization's.
#[utoipa::path(
    tag = "devices",
    operation_id = "list_devices",
    params(DeviceQuery),
    responses((status = 200, description = "A page of devices.", body = DeviceList)),
    security(("bearer" = [])),
)]
#[get("/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<DeviceQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select = device::Entity::find().filter(visible(&ctx));
    if let Some(user_id) = query.user_id {
        select = select.filter(device::Column::UserId.eq(user_id));
    }
    match query.revoked {
        Some(true) => select = select.filter(device::Column::RevokedAt.is_not_null()),
        Some(false) => select = select.filter(device::Column::RevokedAt.is_null()),
        None => {}
    }
    let select = sort_by(
        select,
        None,
        "created_at",
        &[("created_at", device::Column::CreatedAt)],
        device::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(DeviceList::new(
        rows.into_iter().map(Device::from).collect(),
        page,
        total,
    )))
}

/// Reads one device.
#[utoipa::path(
    tag = "devices",
    operation_id = "show_device",
    params(("id" = Uuid, Path, description = "Device id")),
    responses((status = 200, description = "The device.", body = Device)),
    security(("bearer" = [])),
)]
#[get("/devices/{id}")]
pub async fn show_device(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = device::Entity::find_by_id(*id)
        .filter(visible(&ctx))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(Device::from(found)))
}

/// Revokes a device (lost or replaced): it can no longer get tickets, and its open
/// connections are closed now. Revoking a revoked device changes nothing.
#[utoipa::path(
    tag = "devices",
    operation_id = "revoke_device",
    params(("id" = Uuid, Path, description = "Device id")),
    responses((status = 200, description = "The revoked device.", body = Device)),
    security(("bearer" = [])),
)]
#[post("/devices/{id}/revoke")]
pub async fn revoke_device(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let txn = state.db.begin().await?;
    let found = device::Entity::find_by_id(*id)
        .filter(visible(&ctx))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let revoked = if found.revoked_at.is_some() {
        found
    } else {
        let organization_id = found.organization_id;
        let mut changes = found.into_active_model();
        changes.revoked_at = Set(Some(Utc::now()));
        let revoked = changes.update(&txn).await?;
        audit::record(
            &txn,
            &ctx.actor(),
            audit::Event {
                action: "device.revoke",
                resource_type: "device",
                resource_id: Some(revoked.id),
                organization_id: Some(organization_id),
            },
        )
        .await?;
        revoked
    };
    txn.commit().await?;
    state
        .sync
        .connections
        .close_device(revoked.id, "device revoked");
    Ok(HttpResponse::Ok().json(Device::from(revoked)))
}

/// Wires the device routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_devices)
        .service(show_device)
        .service(revoke_device);
}
