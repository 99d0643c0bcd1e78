//! The open sync connections, so that a change of authority reaches them: a revoked device
//! is disconnected, and a plan whose authorizations changed is re-checked by every connection
//! syncing one of its documents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use taccuino_sync::protocol::{Access, DocumentId};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Names one connection for as long as the process runs.
pub type ConnectionId = u64;

/// What reaches a connection's task from elsewhere in the server.
#[derive(Debug)]
pub enum ConnectionEvent {
    /// Another connection or the server changed a document this one syncs.
    DocumentChanged(DocumentId),
    /// The share policy's answer for a document, with the plan it belongs to.
    AccessDecided {
        /// The document.
        document_id: DocumentId,
        /// The answer.
        access: Access,
        /// The document's plan, when the document exists.
        care_plan_id: Option<Uuid>,
    },
    /// Changes sent by this connection are stored (`Ok`) or failed to store (`Err`).
    StoreFinished {
        /// The document.
        document_id: DocumentId,
        /// The connection's token for that store.
        token: taccuino_sync::protocol::StoreToken,
        /// Whether the write committed.
        stored: bool,
    },
    /// Who may sync this plan's documents changed (`None`: anything may have changed, such
    /// as the account itself): decide again.
    PolicyChanged(Option<Uuid>),
    /// Close the connection with this reason (device revoked, account disabled).
    Close(&'static str),
}

#[derive(Debug)]
struct Entry {
    user_id: Uuid,
    device_id: Uuid,
    events: mpsc::UnboundedSender<ConnectionEvent>,
}

/// The open connections. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<ConnectionId, Entry>>>,
}

impl Connections {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Entry>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection of `device_id`, owned by `user_id`.
    pub fn register(
        &self,
        user_id: Uuid,
        device_id: Uuid,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    ) -> ConnectionId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open().insert(
            id,
            Entry {
                user_id,
                device_id,
                events,
            },
        );
        id
    }

    /// The connection ended.
    pub fn unregister(&self, id: ConnectionId) {
        self.open().remove(&id);
    }

    /// Open connections.
    pub fn count(&self) -> usize {
        self.open().len()
    }

    /// Closes every connection of a device (it was revoked).
    pub fn close_device(&self, device_id: Uuid, reason: &'static str) {
        for entry in self.open().values().filter(|e| e.device_id == device_id) {
            let _ = entry.events.send(ConnectionEvent::Close(reason));
        }
    }

    /// Asks every connection of `user_id` to decide its documents again (role or account
    /// changed).
    pub fn user_changed(&self, user_id: Uuid) {
        for entry in self.open().values().filter(|e| e.user_id == user_id) {
            let _ = entry.events.send(ConnectionEvent::PolicyChanged(None));
        }
    }

    /// Asks every connection to decide again for the documents of `care_plan_id` (only those
    /// syncing one of them do any work).
    pub fn plan_changed(&self, care_plan_id: Uuid) {
        for entry in self.open().values() {
            let _ = entry
                .events
                .send(ConnectionEvent::PolicyChanged(Some(care_plan_id)));
        }
    }
}
