//! The share policy, from the database: gathers the facts about a document and its plan and
//! asks [`crate::domain::document_access`]. Evaluated only for the documents a peer asks for
//! (and for `/me/documents`), never by pairing connections with documents.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use taccuino_sync::protocol::Access;
use uuid::Uuid;

use super::error::SyncError;
use super::registry::{self, DocumentEntry};
use crate::db::entities::{care_plan, care_plan_operator};
use crate::domain::{
    care_plan::PlanStatus,
    document_access::{DocumentFacts, document_access},
    roles::{Caller, Role},
};

/// What `caller` may do with the document of `entry`; `None` (not registered) is `Denied`,
/// like a forbidden document.
pub async fn decide(
    db: &impl ConnectionTrait,
    caller: &Caller,
    entry: Option<DocumentEntry>,
) -> Result<Access, SyncError> {
    let Some(entry) = entry else {
        return Ok(Access::Denied);
    };
    Ok(decide_all(db, caller, &[entry])
        .await?
        .first()
        .map_or(Access::Denied, |(_, access)| *access))
}

/// The documents `caller` may sync, with what they may do.
pub async fn accessible(
    db: &impl ConnectionTrait,
    caller: &Caller,
) -> Result<Vec<(DocumentEntry, Access)>, SyncError> {
    let Some(user_id) = caller.user_id() else {
        return Ok(Vec::new());
    };
    let plans: Vec<Uuid> = match caller.role {
        Role::FieldOperator => {
            care_plan_operator::Entity::find()
                .select_only()
                .column(care_plan_operator::Column::CarePlanId)
                .filter(care_plan_operator::Column::OperatorId.eq(user_id))
                .into_tuple()
                .all(db)
                .await?
        }
        Role::ProviderCoordinator => {
            care_plan::Entity::find()
                .select_only()
                .column(care_plan::Column::Id)
                .filter(care_plan::Column::ProviderId.eq(caller.organization_id))
                .into_tuple()
                .all(db)
                .await?
        }
        _ => return Ok(Vec::new()),
    };
    let entries = registry::of_plans(db, plans).await?;
    Ok(decide_all(db, caller, &entries)
        .await?
        .into_iter()
        .filter(|(_, access)| *access != Access::Denied)
        .collect())
}

/// What `caller` may do with each of `entries`, with two queries in all.
pub async fn decide_all(
    db: &impl ConnectionTrait,
    caller: &Caller,
    entries: &[DocumentEntry],
) -> Result<Vec<(DocumentEntry, Access)>, SyncError> {
    let plan_ids: HashSet<Uuid> = entries.iter().map(|e| e.care_plan_id).collect();
    let plans: HashMap<Uuid, care_plan::Model> = care_plan::Entity::find()
        .filter(care_plan::Column::Id.is_in(plan_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let authorized: HashSet<Uuid> = match caller.user_id() {
        Some(user_id) if caller.role == Role::FieldOperator => care_plan_operator::Entity::find()
            .select_only()
            .column(care_plan_operator::Column::CarePlanId)
            .filter(care_plan_operator::Column::OperatorId.eq(user_id))
            .filter(care_plan_operator::Column::CarePlanId.is_in(plan_ids))
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect(),
        _ => HashSet::new(),
    };
    Ok(entries
        .iter()
        .map(|entry| {
            let access = plans
                .get(&entry.care_plan_id)
                .and_then(|plan| {
                    Some(DocumentFacts {
                        kind: entry.kind,
                        plan_status: PlanStatus::parse(&plan.status)?,
                        plan_provider_id: plan.provider_id,
                        owner_id: entry.operator_id,
                        caller_authorized_on_plan: authorized.contains(&plan.id),
                    })
                })
                .map_or(Access::Denied, |facts| document_access(caller, &facts));
            (*entry, access)
        })
        .collect())
}
