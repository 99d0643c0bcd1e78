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

/// Appends `event` (its `resource_id` aside), by one actor, about each of `resources` (a bulk
/// validation), a few hundred rows a statement ([`super::insert_pairs`]).
pub async fn record_each(
    db: &impl ConnectionTrait,
    actor: &Actor,
    event: Event<'_>,
    resources: &[Uuid],
) -> Result<(), DbErr> {
    use audit_event::Column;
    let pairs: Vec<(Uuid, Uuid)> = resources.iter().map(|r| (Uuid::now_v7(), *r)).collect();
    super::insert_pairs::<audit_event::Entity>(
        db,
        [Column::Id, Column::ResourceId],
        &[
            (Column::OccurredAt, Utc::now().into()),
            (Column::OrganizationId, event.organization_id.into()),
            (Column::ActorUserId, actor.user_id.into()),
            (Column::ActorClientId, actor.client_id.into()),
            (Column::ActorRole, actor.role.to_owned().into()),
            (Column::Action, event.action.to_owned().into()),
            (Column::ResourceType, event.resource_type.to_owned().into()),
            (Column::RequestId, actor.request_id.clone().into()),
            (Column::ClientIp, actor.client_ip.clone().into()),
        ],
        &pairs,
    )
    .await
}
