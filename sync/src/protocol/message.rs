//! The messages of the automerge-repo 2.x protocol, as carried in WebSocket binary frames by
//! `@automerge/automerge-repo-network-websocket`. See docs/sync-protocol.md for the table.

use std::collections::BTreeMap;

use super::document_id::DocumentId;
use super::error::DecodeError;
use super::peer::{PeerId, PeerMetadata};
use super::wire;

/// The only protocol version automerge-repo 2.x knows.
pub const PROTOCOL_V1: &str = "1";

/// One protocol message. Decoding is strict about the `type` (an unknown one is an error) and
/// tolerant of fields it does not know (skipped), like the JS library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Client → server, first message on a connection.
    Join(Join),
    /// Server → client, the answer to `join`.
    Peer(Peer),
    /// Either way; the sender closes the connection after it.
    Error(ErrorMessage),
    /// A sync message from a peer that does not have the document yet and asks for it.
    Request(SyncMessage),
    /// A sync message for a document both sides (think they) have.
    Sync(SyncMessage),
    /// "I do not have this document (or you may not have it)."
    DocUnavailable(DocUnavailable),
    /// Presence and other data that is relayed, never stored.
    Ephemeral(Ephemeral),
    /// Subscribe to / unsubscribe from heads of other storages.
    RemoteSubscriptionChange(RemoteSubscriptionChange),
    /// The heads a storage has for a document.
    RemoteHeadsChanged(RemoteHeadsChanged),
}

/// `join`: the client's peer id, metadata and protocol versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The client's peer id.
    pub sender_id: PeerId,
    /// The client's metadata.
    pub peer_metadata: PeerMetadata,
    /// Versions the client speaks; absent means "1" (the JS server treats it so).
    pub supported_protocol_versions: Option<Vec<String>>,
}

/// `peer`: the server's peer id and metadata, and the version chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The server's peer id.
    pub sender_id: PeerId,
    /// The client's peer id.
    pub target_id: PeerId,
    /// The server's metadata.
    pub peer_metadata: PeerMetadata,
    /// Always [`PROTOCOL_V1`].
    pub selected_protocol_version: String,
}

/// `error`: a description; the sender closes the connection after sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// What went wrong (never secrets: it goes to the other end).
    pub message: String,
}

/// The body of `request` and `sync`: an automerge sync message for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMessage {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// The document.
    pub document_id: DocumentId,
    /// An encoded `automerge::sync::Message`.
    pub data: Vec<u8>,
}

/// `doc-unavailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocUnavailable {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// The document the sender does not have or will not share.
    pub document_id: DocumentId,
}

/// `ephemeral`: application data for the peers of a document, deduplicated by
/// (`sender_id`, `session_id`, `count`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// The document it is about.
    pub document_id: DocumentId,
    /// Random per sender start-up.
    pub session_id: String,
    /// Increases with each message of a session.
    pub count: u64,
    /// CBOR-encoded application payload.
    pub data: Vec<u8>,
}

/// `remote-subscription-change`: storage ids whose heads the sender wants (or no longer wants)
/// to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSubscriptionChange {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// Storage ids to subscribe to.
    pub add: Option<Vec<String>>,
    /// Storage ids to unsubscribe from.
    pub remove: Option<Vec<String>>,
}

/// `remote-heads-changed`: heads that storages have for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHeadsChanged {
    /// Who sends it.
    pub sender_id: PeerId,
    /// Who it is for.
    pub target_id: PeerId,
    /// The document.
    pub document_id: DocumentId,
    /// Per storage id, its heads and when they were seen.
    pub new_heads: BTreeMap<String, RemoteHeads>,
}

/// The heads one storage has, as in [`RemoteHeadsChanged::new_heads`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHeads {
    /// Change hashes, base58check-encoded (the JS `encodeHeads`).
    pub heads: Vec<String>,
    /// Milliseconds since the epoch (a JS number; integral).
    pub timestamp: u64,
}

impl Message {
    /// The wire name of this message's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Join(_) => "join",
            Self::Peer(_) => "peer",
            Self::Error(_) => "error",
            Self::Request(_) => "request",
            Self::Sync(_) => "sync",
            Self::DocUnavailable(_) => "doc-unavailable",
            Self::Ephemeral(_) => "ephemeral",
            Self::RemoteSubscriptionChange(_) => "remote-subscription-change",
            Self::RemoteHeadsChanged(_) => "remote-heads-changed",
        }
    }

    /// The sender's peer id (every message has one).
    pub fn sender_id(&self) -> &PeerId {
        match self {
            Self::Join(m) => &m.sender_id,
            Self::Peer(m) => &m.sender_id,
            Self::Error(m) => &m.sender_id,
            Self::Request(m) | Self::Sync(m) => &m.sender_id,
            Self::DocUnavailable(m) => &m.sender_id,
            Self::Ephemeral(m) => &m.sender_id,
            Self::RemoteSubscriptionChange(m) => &m.sender_id,
            Self::RemoteHeadsChanged(m) => &m.sender_id,
        }
    }

    /// The addressee's peer id; `join` has none.
    pub fn target_id(&self) -> Option<&PeerId> {
        match self {
            Self::Join(_) => None,
            Self::Peer(m) => Some(&m.target_id),
            Self::Error(m) => Some(&m.target_id),
            Self::Request(m) | Self::Sync(m) => Some(&m.target_id),
            Self::DocUnavailable(m) => Some(&m.target_id),
            Self::Ephemeral(m) => Some(&m.target_id),
            Self::RemoteSubscriptionChange(m) => Some(&m.target_id),
            Self::RemoteHeadsChanged(m) => Some(&m.target_id),
        }
    }

    /// Decodes one frame, refusing frames larger than `max_size` bytes before parsing them.
    pub fn decode(frame: &[u8], max_size: usize) -> Result<Self, DecodeError> {
        if frame.len() > max_size {
            return Err(DecodeError::TooLarge {
                size: frame.len(),
                limit: max_size,
            });
        }
        wire::decode(frame)
    }

    /// Encodes the message as cbor-x would: a map with string keys, binary data as byte
    /// strings, absent optional fields left out.
    pub fn encode(&self) -> Vec<u8> {
        wire::encode(self)
    }
}
