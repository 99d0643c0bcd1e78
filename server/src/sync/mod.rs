//! The sync side of the server (DESIGN.md §5, docs/sync.md): the WebSocket transport around
//! the sans-IO protocol of `taccuino_sync`, the share policy, document storage with group
//! commit, the shared in-memory documents, the SQL projection, and the server's own writes.
//!
//! - [`SyncService`]: everything a connection or a REST handler needs, started once.
//! - [`socket`]: one connection. [`hub`]: shared documents. [`committer`]: group commit.
//! - [`policy`] + [`registry`]: who may sync what. [`projection`] + [`projector`]: diaries to
//!   `service_records`. [`writes`] + [`backfill`]: the server writing documents.

pub mod backfill;
pub mod committer;
pub mod connections;
pub mod error;
pub mod hub;
pub mod mapping;
pub mod policy;
pub mod projection;
pub mod projector;
pub mod rebuild;
pub mod record_writes;
pub mod registry;
pub mod socket;
pub mod storage;
pub mod writes;

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use taccuino_sync::protocol::PeerId;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::SyncConfig;
use crate::db::entities::sync_server;
pub use error::SyncError;

/// The running sync machinery. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SyncService {
    /// The database (documents live in it too).
    pub db: DatabaseConnection,
    /// The shared documents.
    pub hub: hub::Hub,
    /// Group commit of clients' changes.
    pub committer: committer::Committer,
    /// The open connections.
    pub connections: connections::Connections,
    /// Registry entries already read (they never change).
    pub entries: registry::EntryCache,
    /// Limits.
    pub config: Arc<SyncConfig>,
    /// The server's peer id.
    pub server_peer_id: PeerId,
    /// The storage id the server announces.
    pub storage_id: String,
}

impl SyncService {
    /// Creates the documents that are missing, and starts the storage, projection and
    /// eviction tasks on the current runtime.
    pub async fn start(db: DatabaseConnection, config: SyncConfig) -> Result<Self, SyncError> {
        let created = backfill::ensure_documents(&db).await?;
        if created != backfill::Backfilled::default() {
            tracing::info!(
                plans = created.plans,
                diaries = created.diaries,
                "sync documents created"
            );
        }
        let storage_id = storage_id(&db).await?;
        let (changed_tx, changed_rx) = mpsc::unbounded_channel();
        let hub = hub::Hub::new(db.clone(), config.compact_after_chunks, changed_tx.clone());
        // Changes stored before a crash but never projected are projected now.
        for id in registry::behind_projection(&db).await? {
            let _ = changed_tx.send(id);
        }
        projector::spawn(
            db.clone(),
            hub.clone(),
            config.projection_workers,
            changed_tx,
            changed_rx,
        );
        let evicting = hub.clone();
        let idle = config.idle_document;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(idle / 2);
            loop {
                every.tick().await;
                evicting.evict_idle(idle);
            }
        });
        Ok(Self {
            committer: committer::Committer::spawn(db.clone()),
            server_peer_id: PeerId::from(format!("taccuino-{storage_id}")),
            storage_id: storage_id.to_string(),
            connections: connections::Connections::default(),
            entries: registry::EntryCache::default(),
            config: Arc::new(config),
            hub,
            db,
        })
    }

    /// Mirrors a plan into its document and re-decides open connections' access to it.
    /// Called after the transaction that changed the plan committed; a failure is logged and
    /// repaired by the next mirror of the same plan (the mirror is idempotent).
    pub async fn plan_changed(&self, care_plan_id: Uuid) {
        if let Err(e) = writes::ensure_diaries(&self.db, care_plan_id).await {
            tracing::error!(plan = %care_plan_id, error = %e, "creating diaries failed");
        }
        if let Err(e) = writes::mirror_plan(&self.db, &self.hub, care_plan_id).await {
            tracing::error!(plan = %care_plan_id, error = %e, "mirroring a plan failed");
        }
        self.connections.plan_changed(care_plan_id);
    }

    /// A month of `provider`'s plans for `municipality` was unlocked (its statement reopened).
    /// Device changes to its records that arrived while it was locked stayed in the diaries
    /// only; projecting those diaries again brings them into the register (unchanged records
    /// are left as they are: the projection is idempotent).
    pub async fn month_unlocked(&self, municipality_id: Uuid, provider_id: Uuid) {
        match registry::diaries_of_provider(&self.db, municipality_id, provider_id).await {
            Ok(diaries) => {
                for id in diaries {
                    self.hub.project(id);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "finding the diaries of an unlocked month failed")
            }
        }
    }

    /// Mirrors a record's review outcome into its plan's document.
    pub async fn review_changed(&self, record_id: Uuid) {
        self.reviews_changed(&[record_id]).await;
    }

    /// Mirrors the review outcomes of several records into their plans' documents.
    pub async fn reviews_changed(&self, record_ids: &[Uuid]) {
        if let Err(e) = writes::mirror_reviews(&self.db, &self.hub, record_ids).await {
            tracing::error!(records = record_ids.len(), error = %e, "mirroring reviews failed");
        }
    }
}

async fn storage_id(db: &DatabaseConnection) -> Result<Uuid, SyncError> {
    if let Some(row) = sync_server::Entity::find().one(db).await? {
        return Ok(row.storage_id);
    }
    let id = Uuid::new_v4();
    sync_server::Entity::insert(sync_server::ActiveModel {
        storage_id: Set(id),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}
