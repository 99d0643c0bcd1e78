//! Gives every plan its documents: a plan document per care plan, and a diary per operator
//! authorized on it or holding records on it, filled with the records the tables already
//! have. Runs at start-up, so a database that predates sync (or the demo loader, which writes
//! rows) ends up with documents stating exactly what the tables say, and the projection of
//! those documents is the tables again.

use std::collections::{BTreeSet, HashMap, HashSet};

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use taccuino_sync::{
    DocumentKind,
    schema::{Review, new_diary, new_plan, upsert_record, write_review},
};
use uuid::Uuid;

use super::error::SyncError;
use super::mapping::fields_of;
use super::registry;
use super::writes::plan_fields;
use crate::db::entities::{
    care_plan, care_plan_operator, service_record, service_type, sync_document,
};
use crate::db::record_columns::content_of_row;
use crate::domain::service_record::{RecordStatus, ServiceUnit};

/// Documents created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    /// Plan documents.
    pub plans: usize,
    /// Diaries.
    pub diaries: usize,
}

/// Creates the documents that are missing. Plans that already have theirs are not read.
pub async fn ensure_documents(db: &DatabaseConnection) -> Result<Backfilled, SyncError> {
    let mut done = Backfilled::default();
    let with_plan_doc: HashSet<Uuid> = sync_document::Entity::find()
        .select_only()
        .column(sync_document::Column::CarePlanId)
        .filter(sync_document::Column::Kind.eq(DocumentKind::Plan.as_str()))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let diaries: HashSet<(Uuid, Uuid)> = sync_document::Entity::find()
        .filter(sync_document::Column::Kind.eq(DocumentKind::Diary.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|d| Some((d.care_plan_id, d.operator_id?)))
        .collect();
    let mut pairs: BTreeSet<(Uuid, Uuid)> = care_plan_operator::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.care_plan_id, o.operator_id))
        .collect();
    pairs.extend(
        service_record::Entity::find()
            .select_only()
            .column(service_record::Column::CarePlanId)
            .column(service_record::Column::OperatorId)
            .distinct()
            .into_tuple::<(Uuid, Uuid)>()
            .all(db)
            .await?,
    );
    pairs.retain(|pair| !diaries.contains(pair));
    let plans: Vec<Uuid> = care_plan::Entity::find()
        .select_only()
        .column(care_plan::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    let units: HashMap<Uuid, ServiceUnit> = service_type::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| Some((t.id, ServiceUnit::parse(&t.unit)?)))
        .collect();

    for plan_id in plans {
        let needs_plan = !with_plan_doc.contains(&plan_id);
        let operators: Vec<Uuid> = pairs
            .range((plan_id, Uuid::nil())..=(plan_id, Uuid::max()))
            .map(|(_, operator)| *operator)
            .collect();
        if !needs_plan && operators.is_empty() {
            continue;
        }
        let txn = db.begin().await?;
        let records = service_record::Entity::find()
            .filter(service_record::Column::CarePlanId.eq(plan_id))
            .all(&txn)
            .await?;
        if needs_plan && let Some(fields) = plan_fields(&txn, plan_id).await? {
            let mut doc = new_plan(plan_id, &fields).map_err(|e| SyncError::schema(plan_id, e))?;
            for record in records.iter().filter(|r| reviewed(r)) {
                let review = Review {
                    status: record.status.clone(),
                    reason_code: record.review_reason_code.clone(),
                    note: record.review_note.clone(),
                    reviewed_at: record.reviewed_at.unwrap_or(record.updated_at),
                };
                write_review(&mut doc, record.id, &review)
                    .map_err(|e| SyncError::schema(plan_id, e))?;
            }
            registry::create(&txn, DocumentKind::Plan, plan_id, None, &mut doc).await?;
            done.plans += 1;
        }
        for operator_id in operators {
            let mut doc =
                new_diary(plan_id, operator_id).map_err(|e| SyncError::schema(plan_id, e))?;
            for record in records.iter().filter(|r| r.operator_id == operator_id) {
                let Some(unit) = units.get(&record.service_type_id) else {
                    continue;
                };
                let fields = fields_of(&content_of_row(record, *unit), record.received_at);
                upsert_record(&mut doc, record.id, &fields)
                    .map_err(|e| SyncError::schema(record.id, e))?;
            }
            registry::create(
                &txn,
                DocumentKind::Diary,
                plan_id,
                Some(operator_id),
                &mut doc,
            )
            .await?;
            done.diaries += 1;
        }
        txn.commit().await?;
    }
    Ok(done)
}

fn reviewed(record: &service_record::Model) -> bool {
    RecordStatus::parse(&record.status).is_some_and(|s| s != RecordStatus::Recorded)
}
