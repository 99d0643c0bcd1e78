//! The automerge-repo 2.x sync protocol, server side, as sans-IO code: bytes and events in,
//! messages and storage effects out. No network, no SQL, no clock: the caller (the server's
//! WebSocket task) owns all of that. See docs/sync-protocol.md.
//!
//! - [`Message`]: the wire messages with their CBOR encoding (golden-tested against the JS
//!   library's own encoder).
//! - [`DocumentId`]: base58check document ids.
//! - [`Connection`]: the per-connection state machine.

mod cbor;
mod changes;
mod connection;
mod document_id;
mod document_state;
mod error;
mod message;
mod output;
mod peer;
mod wire;

#[cfg(test)]
mod connection_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod test_peer;

pub use connection::{Connection, ConnectionConfig, Event};
pub use document_id::{DocumentId, DocumentIdError};
pub use error::DecodeError;
pub use message::{
    DocUnavailable, Ephemeral, ErrorMessage, Join, Message, PROTOCOL_V1, Peer, RemoteHeads,
    RemoteHeadsChanged, RemoteSubscriptionChange, SyncMessage,
};
pub use output::{Access, CloseReason, Output, StoreToken};
pub use peer::{PeerId, PeerMetadata};
