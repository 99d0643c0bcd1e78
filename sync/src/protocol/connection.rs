//! The server side of one automerge-repo connection, as a state machine.
//!
//! # Design
//! The server holds each loaded document once, shared by every connection that syncs it. A
//! [`Connection`] therefore never owns a document: it keeps, per document, only what is
//! specific to this client (the share policy's answer, the automerge sync state, the messages
//! waiting their turn) and asks for the document with [`Output::NeedDocument`]; the caller
//! locks the shared document and lends it through [`Connection::with_document`]. Connections
//! are never paired with documents they were not asked about, and nothing is announced unasked.
//!
//! Durability: the shared document only ever contains changes that are durably stored. When a
//! client's sync message carries changes we do not have, the connection vets them, emits
//! [`Output::Store`] and parks the message; only after [`Event::Stored`] is it applied to the
//! shared document and answered. So no connection, this one or another, can generate a sync
//! message advertising heads that a crash would lose. A server writing its own changes (REST)
//! must follow the same order: store, then apply, then [`Event::DocumentChangedElsewhere`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};

use super::changes;
use super::document_id::DocumentId;
use super::document_state::{AccessState, DocumentState, Presence, Storing};
use super::message::{DocUnavailable, ErrorMessage, Message, PROTOCOL_V1, Peer, SyncMessage};
use super::output::{Access, CloseReason, Output, StoreToken};
use super::peer::{PeerId, PeerMetadata};

/// Limits and identities of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The server's peer id, sent in `peer` and as `senderId` of everything we send.
    pub server_peer_id: PeerId,
    /// The server's storage id, announced in `peer` so that clients track which heads the
    /// server holds (and keep their sync state with us across connections).
    pub server_storage_id: String,
    /// The peer id the client was authorized for (from its ticket); any other closes.
    pub authorized_peer_id: PeerId,
    /// Largest frame accepted, in bytes.
    pub max_message_size: usize,
    /// Most documents one connection may open.
    pub max_documents: usize,
    /// Most sync messages held per document while waiting for access, load or storage.
    pub max_held_messages: usize,
    /// How long the client has to send `join`.
    pub handshake_timeout: Duration,
}

impl ConnectionConfig {
    /// A configuration with the default limits: 16 MiB frames, 10,000 documents, 256 held
    /// messages per document, 30 s to join.
    pub fn new(
        server_peer_id: PeerId,
        server_storage_id: String,
        authorized_peer_id: PeerId,
    ) -> Self {
        Self {
            server_peer_id,
            server_storage_id,
            authorized_peer_id,
            max_message_size: 16 * 1024 * 1024,
            max_documents: 10_000,
            max_held_messages: 256,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Something that happened to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A binary frame from the client.
    Received(Vec<u8>),
    /// The share policy's answer to [`Output::CheckAccess`], or a new answer after the policy
    /// changed.
    AccessDecided {
        /// The document.
        document_id: DocumentId,
        /// What the client may do with it.
        access: Access,
    },
    /// The bytes of an [`Output::Store`] are durably stored.
    Stored {
        /// The document.
        document_id: DocumentId,
        /// The token of the store.
        token: StoreToken,
    },
    /// An [`Output::Store`] failed. The connection closes without acknowledging.
    StorageFailed {
        /// The document.
        document_id: DocumentId,
        /// The token of the store.
        token: StoreToken,
    },
    /// Another connection, or the server itself, changed (and stored) a document: if this
    /// connection syncs it, it asks for the document to send the client the news.
    DocumentChangedElsewhere {
        /// The document.
        document_id: DocumentId,
    },
    /// The time now, for the handshake timeout.
    Tick(Instant),
}

#[derive(Debug)]
enum Phase {
    AwaitingJoin {
        deadline: Instant,
    },
    Joined {
        client: PeerId,
        metadata: PeerMetadata,
    },
    Closed,
}

/// The server side of one client connection. See the module documentation for the design.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    phase: Phase,
    documents: HashMap<DocumentId, DocumentState>,
    next_token: u64,
}

impl Connection {
    /// A connection that waits for the client's `join`.
    pub fn new(config: ConnectionConfig, now: Instant) -> Self {
        let deadline = now + config.handshake_timeout;
        Self {
            config,
            phase: Phase::AwaitingJoin { deadline },
            documents: HashMap::new(),
            next_token: 0,
        }
    }

    /// The metadata the client announced in `join`, once it has joined.
    pub fn client_metadata(&self) -> Option<&PeerMetadata> {
        match &self.phase {
            Phase::Joined { metadata, .. } => Some(metadata),
            _ => None,
        }
    }

    /// True after [`Output::Close`] was emitted.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The documents this connection syncs (access granted and document loaded): the ones the
    /// caller keeps loaded for it and notifies with [`Event::DocumentChangedElsewhere`].
    pub fn syncing(&self) -> impl Iterator<Item = &DocumentId> {
        self.documents
            .iter()
            .filter(|(_, state)| state.sync.is_some())
            .map(|(id, _)| id)
    }

    /// Handles one event; returns the effects to carry out, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Output> {
        let mut out = Vec::new();
        if self.is_closed() {
            return out;
        }
        match event {
            Event::Received(frame) => self.received(&frame, &mut out),
            Event::AccessDecided {
                document_id,
                access,
            } => self.access_decided(document_id, access, &mut out),
            Event::Stored { document_id, token } => {
                if let Some(state) = self.documents.get_mut(&document_id)
                    && let Some(storing) = state.storing.as_mut().filter(|s| s.token == token)
                {
                    storing.stored = true;
                    request_document(document_id, state, &mut out);
                }
            }
            Event::StorageFailed { document_id, token } => {
                let ours = self
                    .documents
                    .get(&document_id)
                    .and_then(|state| state.storing.as_ref())
                    .is_some_and(|storing| storing.token == token);
                if ours {
                    self.fail(CloseReason::StorageFailed, &mut out);
                }
            }
            Event::DocumentChangedElsewhere { document_id } => {
                if let Some(state) = self.documents.get_mut(&document_id) {
                    // While a store is pending the reply after `Stored` carries the news too.
                    if state.sync.is_some() && state.storing.is_none() {
                        request_document(document_id, state, &mut out);
                    }
                }
            }
            Event::Tick(now) => {
                if let Phase::AwaitingJoin { deadline } = self.phase
                    && now >= deadline
                {
                    self.fail(CloseReason::HandshakeTimeout, &mut out);
                }
            }
        }
        out
    }

    /// Lends the connection the shared document it asked for with [`Output::NeedDocument`]
    /// (`None`: the document does not exist). Applies stored changes, processes held messages
    /// and sends the client what it is missing.
    pub fn with_document(
        &mut self,
        document_id: DocumentId,
        doc: Option<&mut AutoCommit>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let Phase::Joined { client, .. } = &self.phase else {
            return out;
        };
        let Some(state) = self.documents.get_mut(&document_id) else {
            return out;
        };
        state.document_requested = false;
        let Some(doc) = doc else {
            state.presence = Presence::Missing;
            for _ in state.held.drain(..) {
                out.push(unavailable(&self.config, client, document_id));
            }
            return out;
        };
        state.presence = Presence::Loaded;

        // A stored message is applied whatever happened since: the shared document must hold
        // everything that storage holds.
        if state.storing.as_ref().is_some_and(|s| s.stored)
            && let Some(storing) = state.storing.take()
        {
            let mut scratch = sync::State::new();
            let sync_state = state.sync.as_mut().unwrap_or(&mut scratch);
            if apply(doc, sync_state, storing.message, document_id, &mut out).is_err() {
                self.fail(CloseReason::InvalidChanges, &mut out);
                return out;
            }
        }
        let Some(access) = state.granted() else {
            return out;
        };
        let sync_state = state.sync.get_or_insert_with(|| match access {
            Access::ReadOnly => sync::State::new_read_only(),
            _ => sync::State::new(),
        });

        while state.storing.is_none() {
            let Some(message) = state.held.pop_front() else {
                break;
            };
            if !message.changes.is_empty() {
                if access == Access::ReadOnly {
                    out.push(Output::ReadOnlyWriteIgnored { document_id });
                } else {
                    match changes::new_changes(doc, &message) {
                        Err(changes::InvalidChanges) => {
                            self.fail(CloseReason::InvalidChanges, &mut out);
                            return out;
                        }
                        Ok(Some(bytes)) => {
                            let token = StoreToken(self.next_token);
                            self.next_token += 1;
                            out.push(Output::Store {
                                document_id,
                                changes: bytes,
                                token,
                            });
                            state.storing = Some(Storing {
                                token,
                                message,
                                stored: false,
                            });
                            break;
                        }
                        // Only changes we already have: nothing to store.
                        Ok(None) => {}
                    }
                }
            }
            // Read-only sync states ignore the changes; the others carry none we lack.
            if apply(doc, sync_state, message, document_id, &mut out).is_err() {
                self.fail(CloseReason::InvalidChanges, &mut out);
                return out;
            }
        }
        if state.storing.is_none()
            && let Some(reply) = doc.sync().generate_sync_message(sync_state)
        {
            out.push(send(Message::Sync(SyncMessage {
                sender_id: self.config.server_peer_id.clone(),
                target_id: client.clone(),
                document_id,
                data: reply.encode(),
            })));
        }
        out
    }

    fn received(&mut self, frame: &[u8], out: &mut Vec<Output>) {
        let message = match Message::decode(frame, self.config.max_message_size) {
            Ok(message) => message,
            Err(e) => return self.fail(CloseReason::MalformedMessage(e.to_string()), out),
        };
        if message.sender_id() != &self.config.authorized_peer_id {
            return self.fail(CloseReason::PeerIdMismatch, out);
        }
        if message
            .target_id()
            .is_some_and(|target| target != &self.config.server_peer_id)
        {
            return self.fail(CloseReason::WrongTarget, out);
        }
        match (&self.phase, message) {
            (Phase::AwaitingJoin { .. } | Phase::Joined { .. }, Message::Join(join)) => {
                let speaks_v1 = join
                    .supported_protocol_versions
                    .as_ref()
                    .is_none_or(|versions| versions.iter().any(|v| v == PROTOCOL_V1));
                if !speaks_v1 {
                    return self.fail(CloseReason::UnsupportedProtocolVersion, out);
                }
                // A repeated join (same peer, same socket) is answered again: harmless.
                out.push(send(Message::Peer(Peer {
                    sender_id: self.config.server_peer_id.clone(),
                    target_id: join.sender_id.clone(),
                    peer_metadata: PeerMetadata {
                        storage_id: Some(self.config.server_storage_id.clone()),
                        is_ephemeral: Some(false),
                    },
                    selected_protocol_version: PROTOCOL_V1.to_owned(),
                })));
                self.phase = Phase::Joined {
                    client: join.sender_id,
                    metadata: join.peer_metadata,
                };
            }
            (Phase::AwaitingJoin { .. }, _) => self.fail(CloseReason::ExpectedJoin, out),
            (Phase::Joined { .. }, Message::Request(m) | Message::Sync(m)) => {
                match sync::Message::decode(&m.data) {
                    Ok(sync_message) => self.route(m.document_id, sync_message, out),
                    Err(_) => self.fail(CloseReason::InvalidSyncMessage, out),
                }
            }
            (Phase::Joined { .. }, Message::Peer(_)) => {
                self.fail(CloseReason::UnexpectedMessage("peer"), out);
            }
            (Phase::Joined { .. }, Message::Error(_)) => {
                self.phase = Phase::Closed;
                out.push(Output::Close {
                    reason: CloseReason::PeerError,
                });
            }
            // We never request documents from clients, relay presence, or gossip heads: these
            // are dropped (see docs/sync-protocol.md).
            (
                Phase::Joined { .. },
                Message::DocUnavailable(_)
                | Message::Ephemeral(_)
                | Message::RemoteSubscriptionChange(_)
                | Message::RemoteHeadsChanged(_),
            ) => {}
            (Phase::Closed, _) => {}
        }
    }

    /// Queues a client's sync message on its document and asks for what it needs next.
    fn route(&mut self, document_id: DocumentId, message: sync::Message, out: &mut Vec<Output>) {
        let Phase::Joined { client, .. } = &self.phase else {
            return;
        };
        let at_limit = self.documents.len() >= self.config.max_documents;
        let state = match self.documents.entry(document_id) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(_) if at_limit => return self.fail(CloseReason::TooManyDocuments, out),
            Entry::Vacant(entry) => {
                out.push(Output::CheckAccess { document_id });
                entry.insert(DocumentState::new())
            }
        };
        let refused = state.access == AccessState::Decided(Access::Denied)
            || state.presence == Presence::Missing;
        if refused {
            out.push(unavailable(&self.config, client, document_id));
            return;
        }
        if state.held.len() >= self.config.max_held_messages {
            return self.fail(CloseReason::TooManyHeldMessages, out);
        }
        state.held.push_back(message);
        if state.granted().is_some() && state.storing.is_none() {
            request_document(document_id, state, out);
        }
    }

    fn access_decided(&mut self, document_id: DocumentId, access: Access, out: &mut Vec<Output>) {
        let Phase::Joined { client, .. } = &self.phase else {
            return;
        };
        let Some(state) = self.documents.get_mut(&document_id) else {
            return;
        };
        state.access = AccessState::Decided(access);
        match access {
            Access::Denied => {
                let was_syncing = state.sync.take().is_some();
                let held = state.held.len();
                state.held.clear();
                // One answer per waiting message, or one to stop a sync that was going on.
                for _ in 0..held.max(usize::from(was_syncing)) {
                    out.push(unavailable(&self.config, client, document_id));
                }
            }
            Access::ReadOnly | Access::ReadWrite => {
                if let Some(sync_state) = state.sync.as_mut() {
                    sync_state.set_read_only(access == Access::ReadOnly);
                }
                if state.presence == Presence::Missing {
                    for _ in state.held.drain(..) {
                        out.push(unavailable(&self.config, client, document_id));
                    }
                } else if !state.held.is_empty() && state.storing.is_none() {
                    request_document(document_id, state, out);
                }
            }
        }
    }

    /// Sends `error` with the reason and closes.
    fn fail(&mut self, reason: CloseReason, out: &mut Vec<Output>) {
        let target = match &self.phase {
            Phase::Joined { client, .. } => client.clone(),
            _ => self.config.authorized_peer_id.clone(),
        };
        out.push(send(Message::Error(ErrorMessage {
            sender_id: self.config.server_peer_id.clone(),
            target_id: target,
            message: reason.to_string(),
        })));
        out.push(Output::Close { reason });
        self.phase = Phase::Closed;
    }
}

/// Applies a (vetted or change-free) sync message to the shared document.
fn apply(
    doc: &mut AutoCommit,
    sync_state: &mut sync::State,
    message: sync::Message,
    document_id: DocumentId,
    out: &mut Vec<Output>,
) -> Result<(), automerge::AutomergeError> {
    let before = doc.get_heads();
    doc.sync().receive_sync_message(sync_state, message)?;
    if doc.get_heads() != before {
        out.push(Output::DocumentChanged { document_id });
    }
    Ok(())
}

fn request_document(document_id: DocumentId, state: &mut DocumentState, out: &mut Vec<Output>) {
    if !state.document_requested {
        state.document_requested = true;
        out.push(Output::NeedDocument { document_id });
    }
}

fn unavailable(config: &ConnectionConfig, client: &PeerId, document_id: DocumentId) -> Output {
    send(Message::DocUnavailable(DocUnavailable {
        sender_id: config.server_peer_id.clone(),
        target_id: client.clone(),
        document_id,
    }))
}

fn send(message: Message) -> Output {
    Output::Send(message.encode())
}
