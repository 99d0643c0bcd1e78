//! Documents as rows of `sync_chunks`: a document is its chunks concatenated in id order.
//!
//! Writes append; nothing is ever rewritten in place. Compaction replaces a document's chunks
//! by one snapshot in a single transaction, built from what is stored (not from memory), so it
//! can never drop a change that was stored but not yet applied in memory.

use automerge::AutoCommit;
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::error::SyncError;
use crate::db::entities::{sync_chunk, sync_document};

/// A whole document saved by automerge.
pub const SNAPSHOT: &str = "snapshot";
/// Changes appended after what the document had.
pub const INCREMENTAL: &str = "incremental";

/// A document as stored: the loaded document and how many chunks it took.
#[derive(Debug)]
pub struct StoredDocument {
    /// The document, with the text encoding of the JS client.
    pub doc: AutoCommit,
    /// Chunks it was loaded from.
    pub chunks: usize,
    /// The id of the last of them.
    pub last_chunk: i64,
}

/// Loads document `id`, or `None` when it has no chunks (it does not exist).
pub async fn load(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<StoredDocument>, SyncError> {
    load_many(db, &[id])
        .await?
        .into_iter()
        .next()
        .map(|(_, loaded)| loaded)
        .transpose()
}

/// Loads several documents with one query; documents without chunks are absent from the
/// answer, and one that does not load is reported beside the others.
pub async fn load_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Result<StoredDocument, SyncError>)>, SyncError> {
    let rows: Vec<(Uuid, i64, Vec<u8>)> = sync_chunk::Entity::find()
        .select_only()
        .column(sync_chunk::Column::DocumentId)
        .column(sync_chunk::Column::Id)
        .column(sync_chunk::Column::Data)
        .filter(sync_chunk::Column::DocumentId.is_in(ids.iter().copied()))
        .order_by_asc(sync_chunk::Column::DocumentId)
        .order_by_asc(sync_chunk::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some((id, first_chunk, first_data)) = rows.next() {
        let (mut last_chunk, mut bytes, mut chunks) = (first_chunk, first_data, 1);
        while let Some((_, chunk, data)) = rows.next_if(|(next, _, _)| *next == id) {
            last_chunk = chunk;
            bytes.extend(data);
            chunks += 1;
        }
        let loaded = taccuino_sync::schema::load_document(&bytes)
            .map(|doc| StoredDocument {
                doc,
                chunks,
                last_chunk,
            })
            .map_err(|e| SyncError::Corrupt(id, e.to_string()));
        out.push((id, loaded));
    }
    Ok(out)
}

/// A chunk to append.
#[derive(Debug, Clone)]
pub struct NewChunk {
    /// The document.
    pub document_id: Uuid,
    /// [`SNAPSHOT`] or [`INCREMENTAL`].
    pub kind: &'static str,
    /// Automerge bytes, loadable after the document's existing chunks.
    pub data: Vec<u8>,
}

/// Appends chunks (inside the caller's transaction, so they commit with whatever else it
/// writes).
///
/// Each document's registry row is locked first (a no-op update), so that transactions
/// appending to the same document commit one after the other and a document's chunk ids grow
/// in commit order: the projection's "seen up to chunk N" then never skips a chunk that
/// committed later with a smaller id (PostgreSQL hands out ids at insert, not at commit;
/// SQLite has one writer anyway).
pub async fn append(db: &impl ConnectionTrait, chunks: Vec<NewChunk>) -> Result<(), SyncError> {
    if chunks.is_empty() {
        return Ok(());
    }
    lock_documents(db, chunks.iter().map(|c| c.document_id)).await?;
    let now = Utc::now();
    sync_chunk::Entity::insert_many(chunks.into_iter().map(|c| sync_chunk::ActiveModel {
        document_id: Set(c.document_id),
        kind: Set(c.kind.to_owned()),
        data: Set(c.data),
        stored_at: Set(now),
        ..Default::default()
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Locks the registry rows of `documents` until the transaction ends (see [`append`]).
async fn lock_documents(
    db: &impl ConnectionTrait,
    documents: impl Iterator<Item = Uuid>,
) -> Result<(), SyncError> {
    let mut documents: Vec<Uuid> = documents.collect();
    documents.sort_unstable();
    documents.dedup();
    sync_document::Entity::update_many()
        .col_expr(
            sync_document::Column::Kind,
            sea_orm::sea_query::Expr::col(sync_document::Column::Kind),
        )
        .filter(sync_document::Column::Id.is_in(documents))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the chunks of document `id` by one snapshot of everything they hold, in one
/// transaction. Returns the number of chunks replaced.
pub async fn compact(db: &DatabaseConnection, id: Uuid) -> Result<usize, SyncError> {
    let txn = db.begin().await?;
    // No append may slip between reading the chunks and replacing them.
    lock_documents(&txn, std::iter::once(id)).await?;
    let rows: Vec<(i64, Vec<u8>)> = sync_chunk::Entity::find()
        .select_only()
        .column(sync_chunk::Column::Id)
        .column(sync_chunk::Column::Data)
        .filter(sync_chunk::Column::DocumentId.eq(id))
        .order_by_asc(sync_chunk::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    if rows.len() < 2 {
        return Ok(0);
    }
    let bytes: Vec<u8> = rows
        .iter()
        .flat_map(|(_, data)| data.iter().copied())
        .collect();
    let mut doc = taccuino_sync::schema::load_document(&bytes)
        .map_err(|e| SyncError::Corrupt(id, e.to_string()))?;
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    sync_chunk::Entity::delete_many()
        .filter(sync_chunk::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    append(
        &txn,
        vec![NewChunk {
            document_id: id,
            kind: SNAPSHOT,
            data: doc.save(),
        }],
    )
    .await?;
    txn.commit().await?;
    Ok(rows.len())
}
