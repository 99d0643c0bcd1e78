//! The registry of documents (`sync_documents`): which plan, and for a diary which operator,
//! each document is of. These authority facts live in SQL, never in the document itself.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Query,
};
use taccuino_sync::{DocumentKind, protocol::DocumentId};
use uuid::Uuid;

use super::error::SyncError;
use super::storage::{self, NewChunk, SNAPSHOT};
use crate::db::entities::{care_plan, sync_document};

/// One registered document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentEntry {
    /// Its id.
    pub id: DocumentId,
    /// Plan or diary.
    pub kind: DocumentKind,
    /// Its plan.
    pub care_plan_id: Uuid,
    /// A diary's operator.
    pub operator_id: Option<Uuid>,
}

fn kind_of(stored: &str) -> Option<DocumentKind> {
    match stored {
        "plan" => Some(DocumentKind::Plan),
        "diary" => Some(DocumentKind::Diary),
        _ => None,
    }
}

impl DocumentEntry {
    fn from_row(row: sync_document::Model) -> Option<Self> {
        Some(Self {
            id: DocumentId::from(row.id),
            kind: kind_of(&row.kind)?,
            care_plan_id: row.care_plan_id,
            operator_id: row.operator_id,
        })
    }
}

/// Registry entries already read. They never change (a document's plan and operator are
/// fixed at creation and rows are never deleted), so a cached entry is never stale; misses are
/// not cached, since a document may be created later.
#[derive(Debug, Clone, Default)]
pub struct EntryCache {
    entries: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<DocumentId, DocumentEntry>>>,
}

/// Entries kept before the cache starts over.
const CACHE_CAPACITY: usize = 200_000;

impl EntryCache {
    /// The entry of document `id`, if registered.
    pub async fn find(
        &self,
        db: &impl ConnectionTrait,
        id: DocumentId,
    ) -> Result<Option<DocumentEntry>, SyncError> {
        if let Some(entry) = self.lock().get(&id) {
            return Ok(Some(*entry));
        }
        let found = find(db, id).await?;
        if let Some(entry) = found {
            let mut entries = self.lock();
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(id, entry);
        }
        Ok(found)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<DocumentId, DocumentEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The entry of document `id`, if registered.
pub async fn find(
    db: &impl ConnectionTrait,
    id: DocumentId,
) -> Result<Option<DocumentEntry>, SyncError> {
    Ok(sync_document::Entity::find_by_id(id.to_uuid())
        .one(db)
        .await?
        .and_then(DocumentEntry::from_row))
}

/// The entries of documents `ids` that are registered.
pub async fn find_many(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<DocumentEntry>, SyncError> {
    Ok(sync_document::Entity::find()
        .filter(sync_document::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .filter_map(DocumentEntry::from_row)
        .collect())
}

/// The documents of these plans, plans first then diaries by operator.
pub async fn of_plans(
    db: &impl ConnectionTrait,
    plan_ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<DocumentEntry>, SyncError> {
    Ok(sync_document::Entity::find()
        .filter(sync_document::Column::CarePlanId.is_in(plan_ids))
        .order_by_asc(sync_document::Column::CarePlanId)
        .order_by_desc(sync_document::Column::Kind)
        .order_by_asc(sync_document::Column::OperatorId)
        .all(db)
        .await?
        .into_iter()
        .filter_map(DocumentEntry::from_row)
        .collect())
}

/// Every registered diary (for `rebuild-projections`).
pub async fn all_diaries(db: &impl ConnectionTrait) -> Result<Vec<DocumentEntry>, SyncError> {
    Ok(sync_document::Entity::find()
        .filter(sync_document::Column::Kind.eq(DocumentKind::Diary.as_str()))
        .order_by_asc(sync_document::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(DocumentEntry::from_row)
        .collect())
}

/// The diaries of `provider_id`'s plans for `municipality_id`.
pub async fn diaries_of_provider(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    provider_id: Uuid,
) -> Result<Vec<DocumentId>, SyncError> {
    let plans = Query::select()
        .column(care_plan::Column::Id)
        .from(care_plan::Entity)
        .and_where(care_plan::Column::MunicipalityId.eq(municipality_id))
        .and_where(care_plan::Column::ProviderId.eq(provider_id))
        .to_owned();
    Ok(sync_document::Entity::find()
        .filter(sync_document::Column::Kind.eq(DocumentKind::Diary.as_str()))
        .filter(sync_document::Column::CarePlanId.in_subquery(plans))
        .all(db)
        .await?
        .into_iter()
        .map(|row| DocumentId::from(row.id))
        .collect())
}

/// The plan document of `care_plan_id`.
pub async fn plan_document(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
) -> Result<Option<DocumentId>, SyncError> {
    lookup(db, care_plan_id, DocumentKind::Plan, None).await
}

/// The diary of `operator_id` on `care_plan_id`.
pub async fn diary_document(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
    operator_id: Uuid,
) -> Result<Option<DocumentId>, SyncError> {
    lookup(db, care_plan_id, DocumentKind::Diary, Some(operator_id)).await
}

async fn lookup(
    db: &impl ConnectionTrait,
    care_plan_id: Uuid,
    kind: DocumentKind,
    operator_id: Option<Uuid>,
) -> Result<Option<DocumentId>, SyncError> {
    let mut select = sync_document::Entity::find()
        .filter(sync_document::Column::CarePlanId.eq(care_plan_id))
        .filter(sync_document::Column::Kind.eq(kind.as_str()));
    select = match operator_id {
        Some(id) => select.filter(sync_document::Column::OperatorId.eq(id)),
        None => select.filter(sync_document::Column::OperatorId.is_null()),
    };
    Ok(select.one(db).await?.map(|row| DocumentId::from(row.id)))
}

/// Registers a new document with its first content, inside the caller's transaction.
pub async fn create(
    db: &impl ConnectionTrait,
    kind: DocumentKind,
    care_plan_id: Uuid,
    operator_id: Option<Uuid>,
    doc: &mut automerge::AutoCommit,
) -> Result<DocumentId, SyncError> {
    let id = Uuid::new_v4();
    sync_document::Entity::insert(sync_document::ActiveModel {
        id: Set(id),
        kind: Set(kind.as_str().to_owned()),
        care_plan_id: Set(care_plan_id),
        operator_id: Set(operator_id),
        created_at: Set(Utc::now()),
        projected_through: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    storage::append(
        db,
        vec![NewChunk {
            document_id: id,
            kind: SNAPSHOT,
            data: doc.save(),
        }],
    )
    .await?;
    Ok(DocumentId::from(id))
}

/// Records how far the projection has seen each document: `(document, last chunk)`. The
/// projector is the only writer while the server runs (`rebuild-projections` may run beside
/// it; both only ever write what they read as stored).
pub async fn mark_projected(
    db: &impl ConnectionTrait,
    seen: &[(DocumentId, i64)],
) -> Result<(), SyncError> {
    use sea_orm::sea_query::{CaseStatement, Expr};
    for batch in seen.chunks(200) {
        let mut case = CaseStatement::new();
        for (id, last_chunk) in batch {
            case = case.case(
                sync_document::Column::Id.eq(id.to_uuid()),
                Expr::val(*last_chunk),
            );
        }
        let case = case.finally(Expr::col(sync_document::Column::ProjectedThrough));
        sync_document::Entity::update_many()
            .col_expr(sync_document::Column::ProjectedThrough, case.into())
            .filter(sync_document::Column::Id.is_in(batch.iter().map(|(id, _)| id.to_uuid())))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Diaries with chunks the projection has not seen: the server stopped between storing a
/// change and projecting it.
pub async fn behind_projection(db: &impl ConnectionTrait) -> Result<Vec<DocumentId>, SyncError> {
    use crate::db::entities::sync_chunk;
    use sea_orm::QuerySelect;
    let last_chunks: std::collections::HashMap<Uuid, i64> = sync_chunk::Entity::find()
        .select_only()
        .column(sync_chunk::Column::DocumentId)
        .column_as(sync_chunk::Column::Id.max(), "last_chunk")
        .group_by(sync_chunk::Column::DocumentId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(sync_document::Entity::find()
        .filter(sync_document::Column::Kind.eq(DocumentKind::Diary.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter(|d| {
            last_chunks
                .get(&d.id)
                .is_some_and(|last| d.projected_through.is_none_or(|seen| seen < *last))
        })
        .map(|d| DocumentId::from(d.id))
        .collect())
}
