//! The documents in memory: loaded on demand, shared by every connection that syncs them,
//! evicted when idle, so memory follows the active working set and not the database.
//!
//! One async lock per document: work on different documents runs in parallel, work on one
//! document is serialized. Rule against deadlocks on SQLite's single connection: take a
//! document's lock *before* beginning a transaction, never while holding one (loading a
//! document needs the database).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use sea_orm::DatabaseConnection;
use taccuino_sync::protocol::DocumentId;
use tokio::sync::{OwnedMutexGuard, mpsc};

use super::connections::{ConnectionEvent, ConnectionId};
use super::error::SyncError;
use super::storage::{self, INCREMENTAL, NewChunk};

/// What a slot holds.
#[derive(Debug)]
enum Loaded {
    /// Not read from storage yet (or dropped after a failed server write).
    No,
    /// The document and how many chunks storage holds for it.
    Yes { doc: Box<AutoCommit>, chunks: usize },
    /// Storage has no chunk of it.
    Missing,
}

#[derive(Debug)]
struct Slot {
    doc: Arc<tokio::sync::Mutex<Loaded>>,
    subscribers: Mutex<HashMap<ConnectionId, mpsc::UnboundedSender<ConnectionEvent>>>,
    last_used: Mutex<Instant>,
    compacting: Mutex<bool>,
}

/// The shared documents. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    slots: Mutex<HashMap<DocumentId, Arc<Slot>>>,
    compact_after: usize,
    changed: mpsc::UnboundedSender<DocumentId>,
}

/// A locked document, loaded (or known missing). Drop it to unlock.
#[derive(Debug)]
pub struct DocumentGuard {
    id: DocumentId,
    guard: OwnedMutexGuard<Loaded>,
}

impl DocumentGuard {
    /// The document, or `None` when it does not exist.
    pub fn doc(&mut self) -> Option<&mut AutoCommit> {
        match &mut *self.guard {
            Loaded::Yes { doc, .. } => Some(doc),
            _ => None,
        }
    }

    /// The document's id.
    pub fn id(&self) -> DocumentId {
        self.id
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks leaves plain data behind: keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hub {
    /// A hub over `db`; compacts a document once it has more than `compact_after` chunks;
    /// announces every committed change of a document on `changed` (for the projection).
    pub fn new(
        db: DatabaseConnection,
        compact_after: usize,
        changed: mpsc::UnboundedSender<DocumentId>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                slots: Mutex::new(HashMap::new()),
                compact_after,
                changed,
            }),
        }
    }

    fn slot(&self, id: DocumentId) -> Arc<Slot> {
        let mut slots = lock(&self.inner.slots);
        let slot = slots.entry(id).or_insert_with(|| {
            Arc::new(Slot {
                doc: Arc::new(tokio::sync::Mutex::new(Loaded::No)),
                subscribers: Mutex::new(HashMap::new()),
                last_used: Mutex::new(Instant::now()),
                compacting: Mutex::new(false),
            })
        });
        *lock(&slot.last_used) = Instant::now();
        slot.clone()
    }

    /// Locks document `id`, loading it from storage first if needed. Never call while
    /// holding a database transaction (see the module docs).
    pub async fn open(&self, id: DocumentId) -> Result<DocumentGuard, SyncError> {
        let slot = self.slot(id);
        let mut guard = slot.doc.clone().lock_owned().await;
        if matches!(*guard, Loaded::No) {
            *guard = match storage::load(&self.inner.db, id.to_uuid()).await? {
                Some(stored) => Loaded::Yes {
                    doc: Box::new(stored.doc),
                    chunks: stored.chunks,
                },
                None => Loaded::Missing,
            };
        }
        Ok(DocumentGuard { id, guard })
    }

    /// Locks document `id` for a write by the server itself. See [`ServerWrite`].
    pub async fn begin_write(&self, id: DocumentId) -> Result<ServerWrite, SyncError> {
        let mut guard = self.open(id).await?;
        let heads = guard
            .doc()
            .ok_or_else(|| SyncError::Missing(id.to_string()))?
            .get_heads();
        Ok(ServerWrite {
            hub: self.clone(),
            guard: Some(guard),
            heads,
        })
    }

    /// `connection` wants [`ConnectionEvent::DocumentChanged`] for `id` while it syncs it.
    pub fn subscribe(
        &self,
        id: DocumentId,
        connection: ConnectionId,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    ) {
        lock(&self.slot(id).subscribers).insert(connection, events);
    }

    /// `connection` is gone (or no longer syncs these documents).
    pub fn unsubscribe(&self, ids: impl IntoIterator<Item = DocumentId>, connection: ConnectionId) {
        let slots = lock(&self.inner.slots);
        for id in ids {
            if let Some(slot) = slots.get(&id) {
                lock(&slot.subscribers).remove(&connection);
            }
        }
    }

    /// A change to `id` is stored and applied: tell the other connections syncing it and
    /// the projection.
    pub fn changed(&self, id: DocumentId, by: Option<ConnectionId>) {
        let subscribers: Vec<_> = {
            let slots = lock(&self.inner.slots);
            match slots.get(&id) {
                Some(slot) => lock(&slot.subscribers)
                    .iter()
                    .filter(|(conn, _)| Some(**conn) != by)
                    .map(|(_, events)| events.clone())
                    .collect(),
                None => Vec::new(),
            }
        };
        for events in subscribers {
            let _ = events.send(ConnectionEvent::DocumentChanged(id));
        }
        self.project(id);
    }

    /// Asks the projection to read `id` again (nothing changed in the document itself).
    pub fn project(&self, id: DocumentId) {
        let _ = self.inner.changed.send(id);
    }

    /// `count` chunks were appended to `id`'s storage: compact it in the background when it
    /// has grown past the threshold.
    pub fn appended(&self, id: DocumentId, count: usize) {
        let slot = self.slot(id);
        let doc = slot.doc.clone();
        let hub = self.clone();
        let compact = match doc.try_lock() {
            Ok(mut loaded) => match &mut *loaded {
                Loaded::Yes { chunks, .. } => {
                    *chunks += count;
                    *chunks > self.inner.compact_after
                }
                _ => false,
            },
            // Busy: the next append counts again.
            Err(_) => false,
        };
        if !compact || std::mem::replace(&mut *lock(&slot.compacting), true) {
            return;
        }
        tokio::spawn(async move {
            match storage::compact(&hub.inner.db, id.to_uuid()).await {
                Ok(replaced) => {
                    if let Loaded::Yes { chunks, .. } = &mut *doc.lock().await {
                        *chunks = chunks.saturating_sub(replaced.saturating_sub(1)).max(1);
                    }
                }
                Err(e) => tracing::error!(document = %id, error = %e, "compaction failed"),
            }
            *lock(&slot.compacting) = false;
        });
    }

    /// Drops documents nobody has used for `idle`: no connection syncs them and no lock is
    /// held. Returns how many were dropped.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut slots = lock(&self.inner.slots);
        let before = slots.len();
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1
                || Arc::strong_count(&slot.doc) > 1
                || !lock(&slot.subscribers).is_empty()
                || *lock(&slot.compacting)
                || now.duration_since(*lock(&slot.last_used)) < idle
        });
        before - slots.len()
    }

    /// Documents in memory.
    pub fn loaded(&self) -> usize {
        lock(&self.inner.slots).len()
    }
}

/// A change the server makes to a document itself (REST writes, reviews, plan edits): the
/// document stays locked until the change is stored in the caller's transaction.
///
/// Order, as for clients: edit [`ServerWrite::doc`], append [`ServerWrite::chunk`] in the
/// transaction, commit, then [`ServerWrite::committed`]. Dropped without `committed` (the
/// transaction failed), the document is reloaded from storage on next use, so memory never
/// holds a change storage lacks.
#[derive(Debug)]
pub struct ServerWrite {
    hub: Hub,
    guard: Option<DocumentGuard>,
    heads: Vec<automerge::ChangeHash>,
}

impl ServerWrite {
    /// The document to edit.
    pub fn doc(&mut self) -> Result<&mut AutoCommit, SyncError> {
        match self.guard.as_mut() {
            Some(guard) => {
                let id = guard.id;
                guard
                    .doc()
                    .ok_or_else(|| SyncError::Missing(id.to_string()))
            }
            None => Err(SyncError::Missing("a finished write".to_owned())),
        }
    }

    /// The new changes as a chunk to append, or `None` when the edit changed nothing.
    pub fn chunk(&mut self) -> Option<NewChunk> {
        let id = self.guard.as_ref()?.id;
        let heads = self.heads.clone();
        let doc = self.doc().ok()?;
        if doc.get_heads() == heads {
            return None;
        }
        Some(NewChunk {
            document_id: id.to_uuid(),
            kind: INCREMENTAL,
            data: doc.save_after(&heads),
        })
    }

    /// The transaction holding [`ServerWrite::chunk`] committed: unlock and tell the
    /// connections syncing the document.
    pub fn committed(mut self) {
        if let Some(mut guard) = self.guard.take() {
            let id = guard.id;
            let changed = match &mut *guard.guard {
                Loaded::Yes { doc, .. } => doc.get_heads() != self.heads,
                _ => false,
            };
            drop(guard);
            if changed {
                self.hub.appended(id, 1);
                self.hub.changed(id, None);
            }
        }
    }
}

impl Drop for ServerWrite {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            let unchanged = match &mut *guard.guard {
                Loaded::Yes { doc, .. } => doc.get_heads() == self.heads,
                _ => true,
            };
            if !unchanged {
                *guard.guard = Loaded::No;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectOptions, Database};
    use taccuino_migrations::{Migrator, MigratorTrait};
    use uuid::Uuid;

    async fn hub() -> Hub {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.expect("in-memory SQLite");
        Migrator::up(&db, None).await.expect("migrations");
        let (changed, _) = mpsc::unbounded_channel();
        Hub::new(db, 64, changed)
    }

    #[tokio::test]
    async fn idle_documents_leave_memory_but_not_while_locked_or_synced() {
        let hub = hub().await;
        let (a, b) = (
            DocumentId::from(Uuid::new_v4()),
            DocumentId::from(Uuid::new_v4()),
        );
        let mut held = hub.open(a).await.expect("open");
        assert!(
            held.doc().is_none(),
            "nothing stored: the document does not exist"
        );
        drop(hub.open(b).await.expect("open"));
        let (events, _rx) = mpsc::unbounded_channel();
        hub.subscribe(b, 7, events);
        assert_eq!(hub.loaded(), 2);

        // Both are in use: one locked, one synced by a connection.
        assert_eq!(hub.evict_idle(Duration::ZERO), 0);
        drop(held);
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        hub.unsubscribe([b], 7);
        // Recently used documents stay until they have been idle long enough.
        assert_eq!(hub.evict_idle(Duration::from_secs(60)), 0);
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        assert_eq!(hub.loaded(), 0);
    }

    #[tokio::test]
    async fn the_server_cannot_write_a_document_that_does_not_exist() {
        let hub = hub().await;
        let missing = DocumentId::from(Uuid::new_v4());
        assert!(matches!(
            hub.begin_write(missing).await,
            Err(SyncError::Missing(_))
        ));
    }

    #[tokio::test]
    async fn a_change_reaches_other_subscribers_and_the_projection_but_not_its_author() {
        let db = hub().await.inner.db.clone();
        let (changed_tx, mut changed) = mpsc::unbounded_channel();
        let hub = Hub::new(db, 64, changed_tx);
        let id = DocumentId::from(Uuid::new_v4());
        let (author_tx, mut author) = mpsc::unbounded_channel();
        let (other_tx, mut other) = mpsc::unbounded_channel();
        hub.subscribe(id, 1, author_tx);
        hub.subscribe(id, 2, other_tx);
        hub.changed(id, Some(1));
        assert!(matches!(other.try_recv(), Ok(ConnectionEvent::DocumentChanged(d)) if d == id));
        assert!(author.try_recv().is_err());
        assert_eq!(changed.try_recv().ok(), Some(id));
    }
}
