//! Group commit: changes arriving from many connections are written together, one
//! transaction per batch, so the database's fsync rate (about 650/s on this disk) bounds
//! batches, not changes. Each request is answered only after its batch committed.

use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::error::SyncError;
use super::storage::{self, NewChunk};

/// Most chunks written in one transaction.
const MAX_BATCH_CHUNKS: usize = 512;
/// Most bytes written in one transaction (beyond it, the next batch takes the rest).
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

struct Request {
    chunk: NewChunk,
    done: oneshot::Sender<Result<(), ()>>,
}

/// A handle on the group-commit task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Committer {
    requests: mpsc::UnboundedSender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("document_id", &self.chunk.document_id)
            .field("bytes", &self.chunk.data.len())
            .finish()
    }
}

impl Committer {
    /// Starts the task on the current runtime.
    pub fn spawn(db: DatabaseConnection) -> Self {
        let (requests, inbox) = mpsc::unbounded_channel();
        tokio::spawn(run(db, inbox));
        Self { requests }
    }

    /// Stores `chunk` durably; resolves once its transaction committed. An error means it
    /// was not stored (the caller must not acknowledge it).
    pub async fn store(&self, chunk: NewChunk) -> Result<(), SyncError> {
        let (done, answer) = oneshot::channel();
        self.requests
            .send(Request { chunk, done })
            .map_err(|_| SyncError::StorageStopped)?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err(SyncError::Missing("the batch failed to commit".into())),
            Err(_) => Err(SyncError::StorageStopped),
        }
    }
}

async fn run(db: DatabaseConnection, mut inbox: mpsc::UnboundedReceiver<Request>) {
    while let Some(first) = inbox.recv().await {
        let mut bytes = first.chunk.data.len();
        let mut batch = vec![first];
        // Whatever queued while the previous batch was committing joins this one.
        while batch.len() < MAX_BATCH_CHUNKS && bytes < MAX_BATCH_BYTES {
            match inbox.try_recv() {
                Ok(next) => {
                    bytes += next.chunk.data.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let (chunks, waiting): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|r| (r.chunk, r.done)).unzip();
        let outcome = write(&db, chunks).await;
        if let Err(e) = &outcome {
            tracing::error!(error = %e, chunks = waiting.len(), "sync storage batch failed");
        }
        for done in waiting {
            let _ = done.send(outcome.as_ref().map(|_| ()).map_err(|_| ()));
        }
    }
}

async fn write(db: &DatabaseConnection, chunks: Vec<NewChunk>) -> Result<(), SyncError> {
    let txn = db.begin().await?;
    storage::append(&txn, chunks).await?;
    txn.commit().await?;
    Ok(())
}
