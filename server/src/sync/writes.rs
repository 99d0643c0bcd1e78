//! What the server writes into documents as its own actor: plan documents mirror the plan,
//! its beneficiary's visit details and the review outcomes (the server's own data), and
//! diaries receive the records created over REST, so the documents stay the single source of
//! truth of what was recorded.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use taccuino_sync::{
    DocumentKind,
    protocol::DocumentId,
    schema::{
        Beneficiary, PlanFields, PlannedService, Review, new_diary, new_plan, write_plan,
        write_review,
    },
};
use uuid::Uuid;

use super::error::SyncError;
use super::hub::Hub;
use super::registry;
use super::storage;
use crate::db::entities::{
    beneficiary, care_plan, care_plan_operator, planned_service, service_record, service_type,
};
use crate::domain::values::MILLI;

/// What a plan document should hold now, from the tables; `None` if the plan is gone.
pub async fn plan_fields(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
) -> Result<Option<PlanFields>, SyncError> {
    let Some(plan) = care_plan::Entity::find_by_id(care_plan_id).one(db).await? else {
        return Ok(None);
    };
    let Some(person) = beneficiary::Entity::find_by_id(plan.beneficiary_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let services = planned_service::Entity::find()
        .filter(planned_service::Column::CarePlanId.eq(plan.id))
        .order_by_asc(planned_service::Column::Id)
        .all(db)
        .await?;
    let types: HashMap<Uuid, service_type::Model> = service_type::Entity::find()
        .filter(service_type::Column::Id.is_in(services.iter().map(|s| s.service_type_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let planned_services: BTreeMap<Uuid, PlannedService> = services
        .into_iter()
        .filter_map(|s| {
            let kind = types.get(&s.service_type_id)?;
            Some((
                s.id,
                PlannedService {
                    service_type_id: s.service_type_id,
                    code: kind.code.clone(),
                    name: kind.name.clone(),
                    unit: kind.unit.clone(),
                    allowance: s.allowance_milli as f64 / MILLI as f64,
                    allowance_period: s.allowance_period,
                    valid_from: s.valid_from,
                    valid_to: s.valid_to,
                },
            ))
        })
        .collect();
    Ok(Some(PlanFields {
        // What an operator needs at the door, nothing more (DESIGN.md §5b): no tax code, no
        // birth date, no assessment.
        beneficiary: Beneficiary {
            display_name: format!("{} {}", person.given_name, person.family_name),
            address: person.address,
            phone: person.phone,
            access_notes: person.access_notes,
        },
        valid_from: plan.valid_from,
        valid_to: plan.valid_to,
        status: plan.status,
        planned_services,
    }))
}

/// Brings the plan document of `care_plan_id` up to date with the tables (creating it if
/// needed). Idempotent: nothing is written when the document already says the same.
pub async fn mirror_plan(
    db: &DatabaseConnection,
    hub: &Hub,
    care_plan_id: Uuid,
) -> Result<(), SyncError> {
    let Some(fields) = plan_fields(db, care_plan_id).await? else {
        return Ok(());
    };
    let Some(id) = registry::plan_document(db, care_plan_id).await? else {
        let txn = db.begin().await?;
        let mut doc =
            new_plan(care_plan_id, &fields).map_err(|e| SyncError::schema(care_plan_id, e))?;
        registry::create(&txn, DocumentKind::Plan, care_plan_id, None, &mut doc).await?;
        txn.commit().await?;
        return Ok(());
    };
    let mut write = hub.begin_write(id).await?;
    write_plan(write.doc()?, &fields).map_err(|e| SyncError::schema(id.to_uuid(), e))?;
    commit(db, write).await
}

/// Mirrors the review outcomes of these records into their plans' documents: one write per
/// plan document, however many of its records a bulk validation touched.
pub async fn mirror_reviews(
    db: &DatabaseConnection,
    hub: &Hub,
    record_ids: &[Uuid],
) -> Result<(), SyncError> {
    let mut by_plan: BTreeMap<Uuid, Vec<service_record::Model>> = BTreeMap::new();
    for chunk in record_ids.chunks(500) {
        for record in service_record::Entity::find()
            .filter(service_record::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            by_plan.entry(record.care_plan_id).or_default().push(record);
        }
    }
    for (plan_id, records) in by_plan {
        let Some(id) = registry::plan_document(db, plan_id).await? else {
            return Err(SyncError::Missing(format!("plan document of {plan_id}")));
        };
        let mut write = hub.begin_write(id).await?;
        for record in records {
            let review = Review {
                status: record.status,
                reason_code: record.review_reason_code,
                note: record.review_note,
                reviewed_at: record.reviewed_at.unwrap_or(record.updated_at),
            };
            write_review(write.doc()?, record.id, &review)
                .map_err(|e| SyncError::schema(id.to_uuid(), e))?;
        }
        commit(db, write).await?;
    }
    Ok(())
}

async fn commit(
    db: &DatabaseConnection,
    mut write: super::hub::ServerWrite,
) -> Result<(), SyncError> {
    if let Some(chunk) = write.chunk() {
        let txn = db.begin().await?;
        storage::append(&txn, vec![chunk]).await?;
        txn.commit().await?;
    }
    write.committed();
    Ok(())
}

/// Creates the diaries missing for the operators authorized on `care_plan_id`.
pub async fn ensure_diaries(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
) -> Result<(), SyncError> {
    let operators: Vec<Uuid> = care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.eq(care_plan_id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.operator_id)
        .collect();
    for operator_id in operators {
        ensure_diary(db, care_plan_id, operator_id).await?;
    }
    Ok(())
}

/// The diary of `operator_id` on `care_plan_id`, created empty if missing.
pub async fn ensure_diary(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
    operator_id: Uuid,
) -> Result<DocumentId, SyncError> {
    if let Some(id) = registry::diary_document(db, care_plan_id, operator_id).await? {
        return Ok(id);
    }
    let mut doc =
        new_diary(care_plan_id, operator_id).map_err(|e| SyncError::schema(care_plan_id, e))?;
    registry::create(
        db,
        DocumentKind::Diary,
        care_plan_id,
        Some(operator_id),
        &mut doc,
    )
    .await
}
