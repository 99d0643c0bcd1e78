//! The append-only audit log: rows are inserted in the transaction of the change they record
//! and never updated or deleted (no query here can).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use uuid::Uuid;

use super::entities::audit_event;

/// Who did it, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub role: &'static str,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

/// What happened to which record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// Dotted verb, e.g. `care_plan.create`, `sensitive_note.read`.
    pub action: &'a str,
    /// Resource type, e.g. `care_plan`.
    pub resource_type: &'a str,
    pub resource_id: Option<Uuid>,
    /// The tenant the record belongs to, which decides which admins see the event.
    pub organization_id: Option<Uuid>,
}

/// Appends an event.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    event: Event<'_>,
) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        organization_id: Set(event.organization_id),
        actor_user_id: Set(actor.user_id),
        actor_client_id: Set(actor.client_id),
        actor_role: Set(actor.role.to_owned()),
        action: Set(event.action.to_owned()),
        resource_type: Set(event.resource_type.to_owned()),
        resource_id: Set(event.resource_id),
        request_id: Set(actor.request_id.clone()),
        client_ip: Set(actor.client_ip.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Appends many events by one actor at once (a bulk validation), in batches.
pub async fn record_many(
    db: &impl ConnectionTrait,
    actor: &Actor,
    events: &[Event<'_>],
) -> Result<(), DbErr> {
    use sea_orm::EntityTrait;
    let now = Utc::now();
    for batch in events.chunks(200) {
        let rows = batch.iter().map(|event| audit_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            occurred_at: Set(now),
            organization_id: Set(event.organization_id),
            actor_user_id: Set(actor.user_id),
            actor_client_id: Set(actor.client_id),
            actor_role: Set(actor.role.to_owned()),
            action: Set(event.action.to_owned()),
            resource_type: Set(event.resource_type.to_owned()),
            resource_id: Set(event.resource_id),
            request_id: Set(actor.request_id.clone()),
            client_ip: Set(actor.client_ip.clone()),
        });
        audit_event::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
