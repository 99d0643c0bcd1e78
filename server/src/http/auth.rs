//! Login, token refresh and logout for people; the client-credentials grant for systems.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use sea_orm::{EntityTrait, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::{
        caller::{Ctx, request_identity},
        jwt::SubjectKind,
        password, secrets,
    },
    db::{
        accounts,
        audit::{self, Actor, Event},
        entities::{organization, user},
    },
    domain::roles::{OrganizationKind, Role},
    error::ApiError,
    http::extract::ApiJson,
    state::{AppState, LimitCheck},
};

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    #[schema(format = Email, max_length = 254, example = "assistente@example.org")]
    pub email: String,
    #[schema(format = Password, max_length = 256, example = "taccuino-demo")]
    pub password: String,
}

/// A refresh token, to rotate or to revoke.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    #[schema(max_length = 64)]
    pub refresh_token: String,
}

/// Tokens issued to a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Bearer token for the API, valid `expires_in` seconds.
    #[schema(max_length = 2048)]
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(max_length = 16, example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    #[schema(format = Int64, minimum = 0, example = 900)]
    pub expires_in: i64,
    /// Single-use token for `POST /auth/refresh`; each use returns a new one.
    #[schema(max_length = 64)]
    pub refresh_token: String,
}

/// A token issued to an API client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientToken {
    #[schema(max_length = 2048)]
    pub access_token: String,
    #[schema(max_length = 16, example = "Bearer")]
    pub token_type: String,
    #[schema(format = Int64, minimum = 0, example = 900)]
    pub expires_in: i64,
}

/// OAuth2 client-credentials request (RFC 6749 §4.4), form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(max_length = 32, example = "client_credentials")]
    pub grant_type: String,
    /// Or in HTTP Basic authentication.
    #[schema(max_length = 64)]
    pub client_id: Option<String>,
    /// Or in HTTP Basic authentication.
    #[schema(max_length = 64, format = Password)]
    pub client_secret: Option<String>,
}

/// The caller's organization, as `/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOrganization {
    pub id: Uuid,
    #[schema(max_length = 200)]
    pub name: String,
    pub kind: OrganizationKind,
}

/// Who the token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User id, or API client id.
    pub id: Uuid,
    /// `user` or `api_client`.
    #[schema(max_length = 16, example = "user")]
    pub kind: String,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 100)]
    pub given_name: Option<String>,
    #[schema(max_length = 100)]
    pub family_name: Option<String>,
    pub role: Role,
    pub organization: MeOrganization,
}

fn refused(check: LimitCheck) -> Result<(), ApiError> {
    match check {
        LimitCheck::Allowed { .. } => Ok(()),
        LimitCheck::Refused { retry_after_secs } => {
            Err(ApiError::TooManyRequests { retry_after_secs })
        }
    }
}

async fn issue_session(
    state: &AppState,
    db: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
    family_id: Uuid,
) -> Result<Session, ApiError> {
    let refresh_token = secrets::generate();
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(state.config.refresh_token_ttl)
        .map_err(|e| anyhow::anyhow!("refresh ttl: {e}"))?;
    accounts::insert_refresh_token(
        db,
        user_id,
        family_id,
        secrets::digest(&refresh_token),
        now,
        now + ttl,
    )
    .await?;
    Ok(Session {
        access_token: state.tokens.issue(user_id, SubjectKind::User)?,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl_seconds(),
        refresh_token,
    })
}

const BAD_LOGIN: &str = "Email or password is wrong, or the account is disabled.";

/// Logs a person in. Rate-limited per account and per IP.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginInput,
    responses((status = 200, description = "Logged in.", body = Session)),
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<HttpResponse, ApiError> {
    let (request_id, client_ip) = request_identity(&req);
    let email = input.email.trim().to_lowercase();
    refused(
        state
            .limits
            .login_per_ip
            .check(client_ip.as_deref().unwrap_or_default()),
    )?;
    refused(state.limits.login_per_account.check(&email))?;
    let user = accounts::user_by_email(&state.db, &email).await?;
    // Verify even for unknown emails, so response time does not reveal which accounts exist.
    let hash = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let password_ok = web::block(move || password::verify(&input.password, &hash))
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
    let Some(user) = user.filter(|u| u.active && password_ok) else {
        return Err(ApiError::Unauthorized(BAD_LOGIN));
    };
    let caller = accounts::active_user_caller(&state.db, user.id)
        .await?
        .ok_or(ApiError::Unauthorized(BAD_LOGIN))?;
    let txn = state.db.begin().await?;
    let session = issue_session(&state, &txn, user.id, Uuid::now_v7()).await?;
    let actor = Actor {
        user_id: Some(user.id),
        client_id: None,
        role: caller.role.as_str(),
        request_id: Some(request_id),
        client_ip,
    };
    let event = Event {
        action: "session.login",
        resource_type: "user",
        resource_id: Some(user.id),
        organization_id: Some(user.organization_id),
    };
    audit::record(&txn, &actor, event).await?;
    txn.commit().await?;
    Ok(no_store(HttpResponse::Ok()).json(session))
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

const BAD_REFRESH: &str = "The refresh token is invalid, expired or revoked: log in again.";

/// Exchanges a refresh token for a new pair. Each refresh token works once: replaying a used
/// one revokes its whole family, since only a thief would have a used token.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_session",
    request_body = RefreshInput,
    responses((status = 200, description = "New tokens; the old refresh token is spent.", body = Session)),
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let token = accounts::refresh_token_by_hash(&txn, &secrets::digest(&input.refresh_token))
        .await?
        .ok_or(ApiError::Unauthorized(BAD_REFRESH))?;
    if token.revoked_at.is_some() || token.expires_at <= now {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    if !accounts::mark_rotated(&txn, token.id, now).await? {
        accounts::revoke_family(&txn, token.family_id, now).await?;
        txn.commit().await?;
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    if accounts::active_user_caller(&txn, token.user_id)
        .await?
        .is_none()
    {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    let session = issue_session(&state, &txn, token.user_id, token.family_id).await?;
    txn.commit().await?;
    Ok(no_store(HttpResponse::Ok()).json(session))
}

/// Revokes a refresh token and every token rotated from the same login.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body = RefreshInput,
    responses((status = 204, description = "Logged out.")),
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<HttpResponse, ApiError> {
    let txn = state.db.begin().await?;
    if let Some(token) =
        accounts::refresh_token_by_hash(&txn, &secrets::digest(&input.refresh_token)).await?
    {
        accounts::revoke_family(&txn, token.family_id, Utc::now()).await?;
    }
    txn.commit().await?;
    // The same answer for unknown tokens: logout must not tell which tokens exist.
    Ok(HttpResponse::NoContent().finish())
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

const BAD_CLIENT: &str = "The client credentials are wrong, or the client is disabled.";

/// OAuth2 client-credentials grant for vendors' systems (credentials in the form or in HTTP
/// Basic authentication).
#[utoipa::path(
    tag = "auth",
    operation_id = "issue_client_token",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "An access token for the client.", body = ClientToken)),
)]
#[post("/auth/token")]
pub async fn issue_client_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form: TokenRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::Malformed(format!("The form is invalid: {e}.")))?;
    if form.grant_type != "client_credentials" {
        return Err(ApiError::field(
            "grant_type",
            "only client_credentials is supported",
        ));
    }
    let (client_id, secret) = match (form.client_id, form.client_secret) {
        (Some(id), Some(secret)) => (id, secret),
        _ => basic_credentials(&req).ok_or(ApiError::Unauthorized(BAD_CLIENT))?,
    };
    let client = accounts::client_by_client_id(&state.db, &client_id)
        .await?
        .filter(|c| c.active && secrets::digests_match(&c.secret_hash, &secrets::digest(&secret)))
        .ok_or(ApiError::Unauthorized(BAD_CLIENT))?;
    if accounts::active_client_caller(&state.db, client.id)
        .await?
        .is_none()
    {
        return Err(ApiError::Unauthorized(BAD_CLIENT));
    }
    accounts::touch_client(&state.db, client.id, Utc::now()).await?;
    Ok(no_store(HttpResponse::Ok()).json(ClientToken {
        access_token: state.tokens.issue(client.id, SubjectKind::Client)?,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl_seconds(),
    }))
}

/// The authenticated caller.
#[utoipa::path(
    tag = "auth",
    operation_id = "show_me",
    responses((status = 200, description = "The caller.", body = Me)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let org = organization::Entity::find_by_id(ctx.caller.organization_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let organization = MeOrganization {
        id: org.id,
        name: org.name,
        kind: ctx.caller.organization_kind,
    };
    let me = match ctx.caller.user_id() {
        Some(id) => {
            let user = user::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .ok_or(ApiError::NotFound)?;
            Me {
                id,
                kind: "user".to_owned(),
                email: Some(user.email),
                given_name: Some(user.given_name),
                family_name: Some(user.family_name),
                role: ctx.caller.role,
                organization,
            }
        }
        None => Me {
            id: ctx.caller.client_id().unwrap_or_default(),
            kind: "api_client".to_owned(),
            email: None,
            given_name: None,
            family_name: None,
            role: ctx.caller.role,
            organization,
        },
    };
    Ok(HttpResponse::Ok().json(me))
}
