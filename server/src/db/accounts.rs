//! Queries behind authentication: callers, credentials and refresh tokens.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use super::entities::{api_client, organization, refresh_token, user};
use crate::domain::roles::{Caller, OrganizationKind, Principal, Role};

async fn active_organization(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<OrganizationKind>, DbErr> {
    Ok(organization::Entity::find_by_id(id)
        .filter(organization::Column::Active.eq(true))
        .one(db)
        .await?
        .and_then(|org| OrganizationKind::parse(&org.kind)))
}

/// The caller behind a user id, if the user and their organization are active.
pub async fn active_user_caller(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<Caller>, DbErr> {
    let Some(user) = user::Entity::find_by_id(id)
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(kind) = active_organization(db, user.organization_id).await? else {
        return Ok(None);
    };
    Ok(Role::parse(&user.role).map(|role| Caller {
        principal: Principal::User(user.id),
        role,
        organization_id: user.organization_id,
        organization_kind: kind,
    }))
}

/// The caller behind an API client id, if the client and its organization are active.
pub async fn active_client_caller(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<Caller>, DbErr> {
    let Some(client) = api_client::Entity::find_by_id(id)
        .filter(api_client::Column::Active.eq(true))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(active_organization(db, client.organization_id)
        .await?
        .map(|kind| Caller {
            principal: Principal::ApiClient(client.id),
            role: Caller::api_client_role(kind),
            organization_id: client.organization_id,
            organization_kind: kind,
        }))
}

/// A user by login email (case-insensitive: emails are stored lowercased).
pub async fn user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email.to_lowercase()))
        .one(db)
        .await
}

/// An API client by its public client id.
pub async fn client_by_client_id(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<api_client::Model>, DbErr> {
    api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id))
        .one(db)
        .await
}

/// Notes when an API client last obtained a token.
pub async fn touch_client(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    api_client::Entity::update_many()
        .col_expr(api_client::Column::LastUsedAt, Expr::value(now))
        .filter(api_client::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a new refresh token (by digest) in a token family.
pub async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        family_id: Set(family_id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        rotated_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A refresh token by digest.
pub async fn refresh_token_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Marks a token as used, if nobody used it first; `false` when another request won the race.
pub async fn mark_rotated(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every token of a family (logout, or a stolen token replayed).
pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
