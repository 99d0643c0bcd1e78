//! The sync layer's errors.

use uuid::Uuid;

/// Why a sync operation on the server failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Stored bytes of a document do not load: a bug or a damaged database.
    #[error("document {0} does not load: {1}")]
    Corrupt(Uuid, String),
    /// A document does not follow its schema where the server needs it to.
    #[error("document {0} is malformed: {1}")]
    Schema(Uuid, Box<taccuino_sync::schema::SchemaError>),
    /// The document the server needs to write does not exist.
    #[error("document missing: {0}")]
    Missing(String),
    /// The storage task is gone (the server is shutting down).
    #[error("storage task stopped")]
    StorageStopped,
}

impl SyncError {
    /// Document (or record) `id` does not follow its schema.
    pub fn schema(id: Uuid, error: taccuino_sync::schema::SchemaError) -> Self {
        Self::Schema(id, Box::new(error))
    }
}
