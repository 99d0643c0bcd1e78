//! The extractor that authenticates a request and loads its caller fresh from the database.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use uuid::Uuid;

use super::jwt::SubjectKind;
use crate::{
    db::{accounts, audit::Actor},
    domain::roles::{Caller, Principal},
    error::ApiError,
    http::observe::{RequestId, Subject},
    state::AppState,
};

/// An authenticated request: who calls, and the request's identity for the audit log.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The authenticated caller.
    pub caller: Caller,
    /// Request id (also returned in `X-Request-ID`).
    pub request_id: String,
    /// The peer's IP address.
    pub client_ip: Option<String>,
}

impl Ctx {
    /// The caller as the audit log records it.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.caller.user_id(),
            client_id: self.caller.client_id(),
            role: self.caller.role.as_str(),
            request_id: Some(self.request_id.clone()),
            client_ip: self.client_ip.clone(),
        }
    }
}

/// The request id and peer IP of any request, authenticated or not.
pub fn request_identity(req: &HttpRequest) -> (String, Option<String>) {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    (
        request_id,
        req.peer_addr().map(|addr| addr.ip().to_string()),
    )
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let (request_id, client_ip) = request_identity(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| anyhow::anyhow!("application state missing"))?;
            let token = token.ok_or(ApiError::Unauthorized(
                "Send an access token in the Authorization header: Bearer <token>.",
            ))?;
            let claims = state.tokens.verify(&token).ok_or(ApiError::Unauthorized(
                "The access token is invalid or expired: log in again or refresh it.",
            ))?;
            let caller = load_caller(&state, claims.kind, claims.sub).await?.ok_or(
                ApiError::Unauthorized(
                    "The account of this token is disabled or no longer exists.",
                ),
            )?;
            req.extensions_mut().insert(Subject(match caller.principal {
                Principal::User(id) => format!("user:{id}"),
                Principal::ApiClient(id) => format!("client:{id}"),
            }));
            Ok(Ctx {
                caller,
                request_id,
                client_ip,
            })
        })
    }
}

async fn load_caller(
    state: &AppState,
    kind: SubjectKind,
    id: Uuid,
) -> Result<Option<Caller>, ApiError> {
    Ok(match kind {
        SubjectKind::User => accounts::active_user_caller(&state.db, id).await?,
        SubjectKind::Client => accounts::active_client_caller(&state.db, id).await?,
    })
}
