//! What one connection knows about one document.

use std::collections::VecDeque;

use automerge::sync;

use super::output::{Access, StoreToken};

/// The share policy's answer, as far as this connection knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AccessState {
    /// `CheckAccess` was emitted; no answer yet.
    Asked,
    /// The answer (cached for the connection; the server may send a new one when the policy
    /// changes).
    Decided(Access),
}

/// Whether the document exists, as far as this connection knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presence {
    /// Not asked yet, or asked and not answered.
    Unknown,
    /// The caller answered `with_document(.., None)`.
    Missing,
    /// The caller has handed us the document at least once.
    Loaded,
}

/// A sync message whose changes are being stored; it is applied (and answered) only after
/// `Stored`.
#[derive(Debug)]
pub(super) struct Storing {
    pub token: StoreToken,
    pub message: sync::Message,
    pub stored: bool,
}

/// Per document, per connection.
#[derive(Debug)]
pub(super) struct DocumentState {
    pub access: AccessState,
    pub presence: Presence,
    /// The automerge sync state with this client; created when access is granted and the
    /// document is loaded, dropped when access is denied.
    pub sync: Option<sync::State>,
    /// Incoming sync messages not processed yet, in arrival order.
    pub held: VecDeque<sync::Message>,
    /// The message whose changes are being stored, if any: it blocks the ones behind it.
    pub storing: Option<Storing>,
    /// `NeedDocument` was emitted and `with_document` has not been called since.
    pub document_requested: bool,
}

impl DocumentState {
    pub fn new() -> Self {
        Self {
            access: AccessState::Asked,
            presence: Presence::Unknown,
            sync: None,
            held: VecDeque::new(),
            storing: None,
            document_requested: false,
        }
    }

    /// The access granted, if the policy answered and did not deny.
    pub fn granted(&self) -> Option<Access> {
        match self.access {
            AccessState::Decided(access @ (Access::ReadWrite | Access::ReadOnly)) => Some(access),
            _ => None,
        }
    }
}
