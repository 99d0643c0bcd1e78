//! `/sync`: connection tickets, the automerge-repo WebSocket, and the caller's documents.
//!
//! A browser cannot put an `Authorization` header on a WebSocket, so a device first asks for
//! a ticket with its access token, then opens `GET /sync?ticket=...` (the stock client's
//! adapter takes just a URL). A ticket is single-use and short-lived; only its digest is
//! stored, and the access log never records query strings.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use taccuino_sync::{
    DocumentKind,
    protocol::{Access, PeerId},
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, Page, list_envelope, text};
use crate::{
    auth::caller::Ctx,
    db::{accounts, audit, devices, entities::device},
    domain::access::{self, Action, Resource},
    error::{ApiError, Problem},
    http::extract::ApiQuery,
    state::AppState,
    sync::{policy, socket},
};

/// Longest device name.
const DEVICE_NAME_MAX: usize = 100;

/// Asks for a connection ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// The device asking, as returned by an earlier ticket; absent on a device's first
    /// ticket, which registers it.
    pub device_id: Option<Uuid>,
    /// A name for a new device, shown in the list of devices.
    #[schema(max_length = 100, example = "Telefono di servizio")]
    pub device_name: Option<String>,
}

/// A single-use ticket to open the sync WebSocket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// The secret to pass as `?ticket=`; valid once, until `expires_at`.
    #[schema(max_length = 64)]
    pub ticket: String,
    /// The peer id the device must announce in its `join` message.
    #[schema(max_length = 64, example = "device-6f1c0a4e2b7d4e0f9a3b5c7d9e1f2a3b")]
    pub peer_id: String,
    /// The device the ticket is for (keep it for the next ticket).
    pub device_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// Path of the WebSocket, ticket included.
    #[schema(max_length = 200, example = "/api/v1/sync?ticket=Zm9v")]
    pub url: String,
}

fn authorize(ctx: &Ctx) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::Sync, Action::Write)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

/// Issues a ticket for the sync WebSocket, registering the device on its first ticket.
#[utoipa::path(
    tag = "sync",
    operation_id = "create_sync_ticket",
    request_body = NewTicket,
    responses(
        (status = 201, description = "A ticket, valid once for a minute.", body = Ticket),
        (status = 409, description = "The device was revoked (code device-revoked).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
#[post("/sync/tickets")]
pub async fn create_sync_ticket(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewTicket>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx)?;
    let user_id = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let mut errors = Vec::new();
    let name = text(
        "device_name",
        input.device_name,
        DEVICE_NAME_MAX,
        &mut errors,
    );
    ApiError::check(errors)?;
    let txn = state.db.begin().await?;
    let device = match input.device_id {
        Some(id) => {
            let found = device::Entity::find_by_id(id)
                .filter(device::Column::UserId.eq(user_id))
                .one(&txn)
                .await?
                .ok_or_else(|| ApiError::field("device_id", "unknown device"))?;
            if found.revoked_at.is_some() {
                return Err(ApiError::Conflict {
                    code: "device-revoked",
                    detail: "This device was revoked: it cannot sync any more.".to_owned(),
                });
            }
            found
        }
        None => {
            let created =
                devices::register(&txn, user_id, ctx.caller.organization_id, name).await?;
            audit::record(
                &txn,
                &ctx.actor(),
                audit::Event {
                    action: "device.register",
                    resource_type: "device",
                    resource_id: Some(created.id),
                    organization_id: Some(created.organization_id),
                },
            )
            .await?;
            created
        }
    };
    let expires_at = Utc::now() + state.sync.config.ticket_ttl;
    let secret = devices::issue_ticket(&txn, device.id, expires_at).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(Ticket {
        url: format!("/api/v1/sync?ticket={secret}"),
        ticket: secret,
        peer_id: device.peer_id,
        device_id: device.id,
        expires_at,
    }))
}

/// The ticket of a WebSocket upgrade.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// A ticket from `POST /sync/tickets`.
    #[param(max_length = 64)]
    pub ticket: String,
}

/// The sync WebSocket: the automerge-repo 2.x protocol (binary CBOR frames `join`/`peer`,
/// then `request`, `sync`, `doc-unavailable`...; docs/sync-protocol.md). Authenticated by a
/// single-use ticket; documents outside the caller's authority answer `doc-unavailable`.
#[utoipa::path(
    tag = "sync",
    operation_id = "open_sync_socket",
    params(SyncQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol."),
        (status = 400, description = "Not a WebSocket upgrade (code malformed-request).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The ticket is unknown, used, expired, or its device revoked.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/sync")]
pub async fn open_sync_socket(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> Result<HttpResponse, ApiError> {
    const REFUSED: &str = "The ticket is unknown, already used or expired, or its device was revoked: ask for a new one.";
    if query.ticket.len() > 64 {
        return Err(ApiError::Unauthorized(REFUSED));
    }
    let device = devices::redeem_ticket(&state.db, &query.ticket)
        .await?
        .ok_or(ApiError::Unauthorized(REFUSED))?;
    let caller = accounts::active_user_caller(&state.db, device.user_id)
        .await?
        .ok_or(ApiError::Unauthorized(REFUSED))?;
    // Bookkeeping off the path to the device's first message.
    let db = state.db.clone();
    let device_id = device.id;
    tokio::spawn(async move {
        if let Err(e) = devices::seen(&db, device_id).await {
            tracing::warn!(device = %device_id, error = %e, "recording last_seen_at failed");
        }
    });
    let (response, session, stream) = actix_ws::handle(&req, payload)
        .map_err(|_| ApiError::Malformed("expected a WebSocket upgrade request".to_owned()))?;
    let max = state.sync.config.max_message_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let peer = socket::Peer {
        caller,
        user_id: device.user_id,
        device_id: device.id,
        peer_id: PeerId::from(device.peer_id),
    };
    actix_web::rt::spawn(socket::run(state.sync.clone(), peer, session, stream));
    Ok(response)
}

/// A document the caller may sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncDocument {
    /// The automerge-repo document id (base58check).
    #[schema(max_length = 64, example = "2RBQcVJPP5xmgRr4ChAjmfE3vZNK")]
    pub document_id: String,
    /// The URL `repo.find()` takes.
    #[schema(max_length = 80, example = "automerge:2RBQcVJPP5xmgRr4ChAjmfE3vZNK")]
    pub url: String,
    pub kind: DocumentKindDto,
    /// The plan the document belongs to.
    pub care_plan_id: Uuid,
    /// A diary's operator.
    pub operator_id: Option<Uuid>,
    pub access: DocumentAccess,
}

/// `plan`: what the visit needs and the review outcomes (read-only); `diary`: one operator's
/// records on one plan.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DocumentKind)]
pub enum DocumentKindDto {
    Plan,
    Diary,
}

/// What the caller may do with a document.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentAccess {
    ReadWrite,
    ReadOnly,
}

list_envelope!(SyncDocumentList, SyncDocument, "A page of documents.");

/// Paging of the caller's documents.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncDocumentQuery {
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

/// The documents the caller may sync, with their kind, plan and access.
#[utoipa::path(
    tag = "sync",
    operation_id = "list_my_documents",
    params(SyncDocumentQuery),
    responses((status = 200, description = "A page of documents.", body = SyncDocumentList)),
    security(("bearer" = [])),
)]
#[get("/me/documents")]
pub async fn list_my_documents(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<SyncDocumentQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx)?;
    let page = Page::new(query.limit, query.offset)?;
    let all = policy::accessible(&state.db, &ctx.caller).await?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .map(|(entry, access)| SyncDocument {
            document_id: entry.id.to_string(),
            url: entry.id.to_url(),
            kind: match entry.kind {
                DocumentKind::Plan => DocumentKindDto::Plan,
                DocumentKind::Diary => DocumentKindDto::Diary,
            },
            care_plan_id: entry.care_plan_id,
            operator_id: entry.operator_id,
            access: match access {
                Access::ReadWrite => DocumentAccess::ReadWrite,
                _ => DocumentAccess::ReadOnly,
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(SyncDocumentList::new(items, page, total)))
}

/// Wires the sync routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_sync_ticket)
        .service(open_sync_socket)
        .service(list_my_documents);
}
