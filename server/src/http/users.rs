//! `/users`: the people who log in. Admins manage their municipality's staff and the providers'
//! staff; provider coordinators manage their own field operators.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiJson, IfMatch, Page, created, list_envelope, ok_tagged, organizations::is_email,
    required_text, sort_by,
};
use crate::{
    auth::{caller::Ctx, password},
    db::{
        self, audit,
        entities::{organization, refresh_token, user},
        scope,
    },
    domain::{
        access::{self, Action, Resource},
        roles::{OrganizationKind, Role},
    },
    error::{ApiError, FieldError},
    http::extract::ApiQuery,
    state::AppState,
};

/// Longest accepted password, in characters.
const MAX_PASSWORD_CHARS: usize = 256;

/// A person who logs in. The password is never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    /// The organization the user works for.
    pub organization_id: Uuid,
    /// Login name; stored lowercased.
    #[schema(format = Email, max_length = 254, example = "m.rossi@comune.example.it")]
    pub email: String,
    #[schema(max_length = 100, example = "Maria")]
    pub given_name: String,
    #[schema(max_length = 100, example = "Rossi")]
    pub family_name: String,
    pub role: Role,
    /// Inactive users cannot log in; their history is kept.
    pub active: bool,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            organization_id: m.organization_id,
            email: m.email,
            given_name: m.given_name,
            family_name: m.family_name,
            role: Role::parse(&m.role).unwrap_or(Role::FieldOperator),
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

list_envelope!(UserList, User, "A page of users.");

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user's organization: the caller's own, or (for admins) a provider.
    pub organization_id: Uuid,
    /// Login name, unique over the deployment (case-insensitive).
    #[schema(format = Email, max_length = 254, example = "m.rossi@comune.example.it")]
    pub email: String,
    #[schema(max_length = 100, example = "Maria")]
    pub given_name: String,
    #[schema(max_length = 100, example = "Rossi")]
    pub family_name: String,
    /// Must fit the organization's kind.
    pub role: Role,
    /// Initial password (at least 12 characters); stored as an argon2id hash, never returned.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: String,
}

/// Changes to a user (JSON merge patch). The email cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(max_length = 100)]
    pub given_name: Option<String>,
    #[schema(max_length = 100)]
    pub family_name: Option<String>,
    /// A new role; you cannot change your own.
    pub role: Option<Role>,
    /// `false` blocks the login and revokes the user's sessions; you cannot deactivate yourself.
    pub active: Option<bool>,
    /// A new password (at least 12 characters); revokes the user's sessions.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: Option<String>,
}

/// Filters and paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users of this organization.
    pub organization_id: Option<Uuid>,
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only active (`true`) or inactive (`false`) users.
    pub active: Option<bool>,
    /// Case-insensitive text contained in the email, given name or family name.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Sort order; `-` for descending.
    #[param(pattern = "^-?(email|family_name|created_at)$", max_length = 12)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::Users, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

/// A `LIKE` pattern matching `needle` anywhere, with the wildcards in it escaped.
fn contains_pattern(needle: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// Lists the users visible to the caller.
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    params(UserQuery),
    responses((status = 200, description = "A page of users.", body = UserList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select = user::Entity::find().filter(scope::organizations(
        user::Column::OrganizationId,
        access::user_scope(&ctx.caller),
    ));
    if let Some(organization_id) = query.organization_id {
        select = select.filter(user::Column::OrganizationId.eq(organization_id));
    }
    if let Some(role) = query.role {
        select = select.filter(user::Column::Role.eq(role.as_str()));
    }
    if let Some(active) = query.active {
        select = select.filter(user::Column::Active.eq(active));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 100 {
            return Err(ApiError::field("q", "must be at most 100 characters"));
        }
        let matches = |column: user::Column| {
            Expr::expr(Func::lower(Expr::col(column))).like(contains_pattern(q))
        };
        select = select.filter(
            Condition::any()
                .add(matches(user::Column::Email))
                .add(matches(user::Column::GivenName))
                .add(matches(user::Column::FamilyName)),
        );
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "family_name",
        &[
            ("email", user::Column::Email),
            ("family_name", user::Column::FamilyName),
            ("created_at", user::Column::CreatedAt),
        ],
        user::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    Ok(HttpResponse::Ok().json(UserList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

async fn find(db: &impl ConnectionTrait, ctx: &Ctx, id: Uuid) -> Result<user::Model, ApiError> {
    user::Entity::find_by_id(id)
        .filter(scope::organizations(
            user::Column::OrganizationId,
            access::user_scope(&ctx.caller),
        ))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The kind of an organization visible in the caller's user scope.
async fn visible_organization_kind(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<Option<OrganizationKind>, ApiError> {
    Ok(organization::Entity::find_by_id(id)
        .filter(scope::organizations(
            organization::Column::Id,
            access::user_scope(&ctx.caller),
        ))
        .one(db)
        .await?
        .and_then(|org| OrganizationKind::parse(&org.kind)))
}

fn check_password(value: &str, errors: &mut Vec<FieldError>) {
    let chars = value.chars().count();
    if chars < password::MIN_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            format!(
                "must be at least {} characters",
                password::MIN_PASSWORD_CHARS
            ),
        ));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
}

/// Hashes a password off the async workers (argon2 is deliberately slow).
async fn hash_password(plain: String) -> Result<String, ApiError> {
    let hashed = web::block(move || password::hash(&plain))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))??;
    Ok(hashed)
}

/// Ends every session of a user (after a password change or a deactivation).
async fn revoke_sessions(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Reads one user.
#[utoipa::path(
    tag = "users",
    operation_id = "show_user",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user.", body = User)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/users/{id}")]
pub async fn show_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let version = found.version;
    Ok(ok_tagged(&User::from(found), version))
}

/// Creates a user with an initial password.
#[utoipa::path(
    tag = "users",
    operation_id = "create_user",
    request_body = NewUser,
    responses((status = 201, description = "Created.", body = User)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewUser>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let mut errors = Vec::new();
    let email = required_text("email", input.email, 254, &mut errors).to_lowercase();
    if !email.is_empty() && !is_email(&email) {
        errors.push(FieldError::new("email", "is not an email address"));
    }
    let given_name = required_text("given_name", input.given_name, 100, &mut errors);
    let family_name = required_text("family_name", input.family_name, 100, &mut errors);
    check_password(&input.password, &mut errors);
    let kind = visible_organization_kind(&state.db, &ctx, input.organization_id).await?;
    if kind.is_none() {
        errors.push(FieldError::new("organization_id", "unknown organization"));
    }
    ApiError::check(errors)?;
    let Some(kind) = kind else {
        return Err(ApiError::field("organization_id", "unknown organization"));
    };
    let own = scope::is_own(access::user_scope(&ctx.caller), input.organization_id);
    if !access::may_manage_user(&ctx.caller, kind, own, input.role) {
        return Err(ApiError::Forbidden);
    }
    let password_hash = hash_password(input.password).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict {
            code: "duplicate-email",
            detail: "A user with this email already exists.".to_owned(),
        });
    }
    let new = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(input.organization_id),
        email: Set(email),
        given_name: Set(given_name),
        family_name: Set(family_name),
        role: Set(input.role.as_str().to_owned()),
        password_hash: Set(password_hash),
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
            action: "user.create",
            resource_type: "user",
            resource_id: Some(new.id),
            organization_id: Some(new.organization_id),
        },
    )
    .await?;
    txn.commit().await?;
    let version = new.version;
    Ok(created(
        format!("/api/v1/users/{}", new.id),
        &User::from(new),
        version,
    ))
}

/// Updates a user: names, role, password, or deactivation.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    params(("id" = Uuid, Path, description = "User id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated.", body = User)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    let mut errors = Vec::new();
    let given_name = input
        .given_name
        .map(|v| required_text("given_name", v, 100, &mut errors));
    let family_name = input
        .family_name
        .map(|v| required_text("family_name", v, 100, &mut errors));
    if let Some(new_password) = &input.password {
        check_password(new_password, &mut errors);
    }
    let is_self = ctx.caller.user_id() == Some(*id);
    if is_self && input.active == Some(false) {
        errors.push(FieldError::new("active", "you cannot deactivate yourself"));
    }
    ApiError::check(errors)?;
    let password_hash = match input.password {
        Some(plain) => Some(hash_password(plain).await?),
        None => None,
    };
    let txn = state.db.begin().await?;
    let target = find(&txn, &ctx, *id).await?;
    if_match.check(target.version)?;
    let kind = organization::Entity::find_by_id(target.organization_id)
        .one(&txn)
        .await?
        .and_then(|org| OrganizationKind::parse(&org.kind))
        .ok_or_else(|| anyhow::anyhow!("user {} has no valid organization", target.id))?;
    let own = scope::is_own(access::user_scope(&ctx.caller), target.organization_id);
    let current_role = Role::parse(&target.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has an unknown role", target.id))?;
    if !access::may_manage_user(&ctx.caller, kind, own, current_role) {
        return Err(ApiError::Forbidden);
    }
    let mut changes = target.clone().into_active_model();
    if let Some(role) = input.role
        && role != current_role
    {
        if is_self {
            return Err(ApiError::field("role", "you cannot change your own role"));
        }
        if !access::may_manage_user(&ctx.caller, kind, own, role) {
            return Err(ApiError::Forbidden);
        }
        changes.role = Set(role.as_str().to_owned());
    }
    if let Some(given_name) = given_name {
        changes.given_name = Set(given_name);
    }
    if let Some(family_name) = family_name {
        changes.family_name = Set(family_name);
    }
    if let Some(active) = input.active {
        changes.active = Set(active);
    }
    let ends_sessions = password_hash.is_some() || (target.active && input.active == Some(false));
    if let Some(hash) = password_hash {
        changes.password_hash = Set(hash);
    }
    let now = Utc::now();
    changes.updated_at = Set(now);
    db::update_versioned::<user::Entity, _>(
        &txn,
        user::Column::Id,
        user::Column::Version,
        target.id,
        target.version,
        changes,
    )
    .await?;
    if ends_sessions {
        revoke_sessions(&txn, target.id, now).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "user.update",
            resource_type: "user",
            resource_id: Some(target.id),
            organization_id: Some(target.organization_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, target.id).await?;
    txn.commit().await?;
    state.sync.connections.user_changed(updated.id);
    let version = updated.version;
    Ok(ok_tagged(&User::from(updated), version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(show_user)
        .service(update_user);
}
