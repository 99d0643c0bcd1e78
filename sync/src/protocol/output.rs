//! What the connection asks its caller to do, and the vocabulary those requests use.

use std::fmt;

use super::document_id::DocumentId;

/// What the share policy grants a peer on one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Sync both ways: the peer's changes are stored and applied.
    ReadWrite,
    /// The peer receives the document; its changes are never stored nor applied.
    ReadOnly,
    /// Nothing: the peer gets `doc-unavailable`, exactly as for a document that does not exist.
    Denied,
}

/// Names one [`Output::Store`], so that its [`super::Event::Stored`] or
/// [`super::Event::StorageFailed`] finds it. Unique within a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreToken(pub(super) u64);

impl StoreToken {
    /// The token as a number, for logs and maps.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why the connection closes. Also the text of the `error` message sent before closing, so it
/// names the fault and never echoes input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// No `join` within the handshake timeout.
    HandshakeTimeout,
    /// The first message was not `join`.
    ExpectedJoin,
    /// The peer id in a message is not the one the connection was authorized for.
    PeerIdMismatch,
    /// A message addressed to someone other than this server.
    WrongTarget,
    /// The client supports no protocol version we speak.
    UnsupportedProtocolVersion,
    /// A frame that is not a protocol message (see the carried description).
    MalformedMessage(String),
    /// A message type a client never sends to a server (`peer`).
    UnexpectedMessage(&'static str),
    /// The `data` of a request/sync is not an automerge sync message.
    InvalidSyncMessage,
    /// The changes in a sync message are not valid automerge changes or documents.
    InvalidChanges,
    /// The client opened more documents than the limit.
    TooManyDocuments,
    /// The client sent more messages for a document than are held while one is being stored.
    TooManyHeldMessages,
    /// Storing the client's changes failed: nothing was acknowledged; the client will retry.
    StorageFailed,
    /// The client sent `error` (it closes its side).
    PeerError,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HandshakeTimeout => f.write_str("no join message in time"),
            Self::ExpectedJoin => f.write_str("expected a join message"),
            Self::PeerIdMismatch => f.write_str("peer id does not match the ticket"),
            Self::WrongTarget => f.write_str("message addressed to another peer"),
            Self::UnsupportedProtocolVersion => f.write_str("unsupported protocol version"),
            Self::MalformedMessage(why) => write!(f, "malformed message: {why}"),
            Self::UnexpectedMessage(kind) => write!(f, "unexpected message type {kind}"),
            Self::InvalidSyncMessage => f.write_str("invalid automerge sync message"),
            Self::InvalidChanges => f.write_str("invalid automerge changes"),
            Self::TooManyDocuments => f.write_str("too many documents on one connection"),
            Self::TooManyHeldMessages => f.write_str("too many messages waiting for storage"),
            Self::StorageFailed => f.write_str("storage error, retry later"),
            Self::PeerError => f.write_str("peer reported an error"),
        }
    }
}

/// One effect for the caller to carry out, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this frame (an encoded [`super::Message`]) to the client.
    Send(Vec<u8>),
    /// Evaluate the share policy for the client on this document and answer with
    /// [`super::Event::AccessDecided`]. Asked once per document per connection.
    CheckAccess {
        /// The document.
        document_id: DocumentId,
    },
    /// Make the document available (load it if it is not in memory, keep it loaded while this
    /// connection syncs it) and call [`super::Connection::with_document`] with it, or with
    /// `None` if it does not exist. Emitted at most once until that call.
    NeedDocument {
        /// The document.
        document_id: DocumentId,
    },
    /// Durably store these bytes (automerge change chunks or a document chunk, loadable with
    /// `load_incremental` after the document's existing data), then answer with
    /// [`super::Event::Stored`] or [`super::Event::StorageFailed`]. Nothing acknowledging
    /// them is sent before.
    Store {
        /// The document.
        document_id: DocumentId,
        /// The bytes to append to the document's storage.
        changes: Vec<u8>,
        /// Names this write in the answer.
        token: StoreToken,
    },
    /// The shared document's heads changed through this connection (after a store): tell the
    /// other connections syncing it ([`super::Event::DocumentChangedElsewhere`]) and the
    /// projection.
    DocumentChanged {
        /// The document.
        document_id: DocumentId,
    },
    /// A client sent changes to a document it may only read; they were not stored nor
    /// applied. For the audit log.
    ReadOnlyWriteIgnored {
        /// The document.
        document_id: DocumentId,
    },
    /// Close the connection (after sending anything emitted before). No output follows.
    Close {
        /// Why.
        reason: CloseReason,
    },
}
