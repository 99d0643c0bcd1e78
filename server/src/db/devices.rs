//! Devices and their single-use sync tickets.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use super::entities::{device, sync_ticket, user};
use super::scope;
use crate::auth::secrets;
use crate::domain::access::DeviceScope;

/// Devices in `scope`.
pub fn in_scope(scope: DeviceScope) -> Condition {
    match scope {
        DeviceScope::Owner(user_id) => Condition::all().add(device::Column::UserId.eq(user_id)),
        DeviceScope::Organizations(orgs) => {
            scope::organizations(device::Column::OrganizationId, orgs)
        }
    }
}

/// Registers a device of `user_id`. Its peer id is derived from its id, so every ticket of
/// the device carries the same one (the JS client cannot change its peer id).
pub async fn register(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    organization_id: Uuid,
    name: Option<String>,
) -> Result<device::Model, DbErr> {
    let id = Uuid::new_v4();
    let model = device::Model {
        id,
        user_id,
        organization_id,
        peer_id: format!("device-{}", id.simple()),
        name,
        created_at: Utc::now(),
        last_seen_at: None,
        revoked_at: None,
    };
    device::Entity::insert(device::ActiveModel {
        id: Set(model.id),
        user_id: Set(model.user_id),
        organization_id: Set(model.organization_id),
        peer_id: Set(model.peer_id.clone()),
        name: Set(model.name.clone()),
        created_at: Set(model.created_at),
        last_seen_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(model)
}

/// Issues a ticket for `device_id`, valid until `expires_at`; returns the secret (only its
/// digest is stored).
pub async fn issue_ticket(
    db: &impl ConnectionTrait,
    device_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<String, DbErr> {
    let secret = secrets::generate();
    sync_ticket::Entity::insert(sync_ticket::ActiveModel {
        hash: Set(secrets::digest(&secret)),
        device_id: Set(device_id),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    // Spent and expired tickets are of no use to anyone: keep the table small.
    sync_ticket::Entity::delete_many()
        .filter(sync_ticket::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    Ok(secret)
}

/// Spends ticket `secret`: the device it was issued to, if the ticket is unused, unexpired,
/// and the device is not revoked and its user active. A second call with the same ticket
/// finds nothing, even concurrently (the update is the check).
pub async fn redeem_ticket(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<device::Model>, DbErr> {
    let now = Utc::now();
    let hash = secrets::digest(secret);
    let spent = sync_ticket::Entity::update_many()
        .col_expr(sync_ticket::Column::UsedAt, Expr::value(now))
        .filter(sync_ticket::Column::Hash.eq(hash.clone()))
        .filter(sync_ticket::Column::UsedAt.is_null())
        .filter(sync_ticket::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        return Ok(None);
    }
    device::Entity::find()
        .filter(
            device::Column::Id.in_subquery(
                Query::select()
                    .column(sync_ticket::Column::DeviceId)
                    .from(sync_ticket::Entity)
                    .and_where(sync_ticket::Column::Hash.eq(hash))
                    .to_owned(),
            ),
        )
        .filter(device::Column::RevokedAt.is_null())
        .filter(
            device::Column::UserId.in_subquery(
                Query::select()
                    .column(user::Column::Id)
                    .from(user::Entity)
                    .and_where(user::Column::Active.eq(true))
                    .to_owned(),
            ),
        )
        .one(db)
        .await
}

/// Notes that `device_id` connected now.
pub async fn seen(db: &impl ConnectionTrait, device_id: Uuid) -> Result<(), DbErr> {
    device::Entity::update_many()
        .col_expr(device::Column::LastSeenAt, Expr::value(Utc::now()))
        .filter(device::Column::Id.eq(device_id))
        .exec(db)
        .await?;
    Ok(())
}
