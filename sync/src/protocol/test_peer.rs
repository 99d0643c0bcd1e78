//! Test doubles: an automerge-repo client built from automerge sync states and our message
//! encoding, and a server harness that runs connections over a shared document registry and
//! an in-memory storage, checking the durability rule on every frame it sends.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};

use super::{
    Access, Connection, ConnectionConfig, DocumentId, Event, Message, Output, PeerId, PeerMetadata,
    StoreToken, SyncMessage,
};

pub const SERVER: &str = "server-peer";

/// A client repo: documents, sync states with the server, and what the server said.
#[derive(Debug)]
pub struct TestClient {
    pub peer_id: PeerId,
    pub docs: HashMap<DocumentId, AutoCommit>,
    states: HashMap<DocumentId, sync::State>,
    pub unavailable: HashSet<DocumentId>,
    pub joined: bool,
    pub errors: Vec<String>,
    /// Pretend not to understand the server's read-only flag (an old or hostile client).
    pub ignore_read_only: bool,
}

impl TestClient {
    pub fn new(peer_id: &str) -> Self {
        Self {
            peer_id: peer_id.into(),
            docs: HashMap::new(),
            states: HashMap::new(),
            unavailable: HashSet::new(),
            joined: false,
            errors: Vec::new(),
            ignore_read_only: false,
        }
    }

    /// Forgets per-connection sync state, as a reconnecting repo without storage would.
    pub fn disconnect(&mut self) {
        self.states.clear();
        self.joined = false;
    }

    /// Forgets the sync state of one document (as if the repo restarted it).
    pub fn disconnect_state_only(&mut self, id: DocumentId) {
        self.states.remove(&id);
    }

    pub fn join(&self) -> Vec<u8> {
        Message::Join(super::Join {
            sender_id: self.peer_id.clone(),
            peer_metadata: PeerMetadata {
                storage_id: Some("client-storage".into()),
                is_ephemeral: Some(false),
            },
            supported_protocol_versions: Some(vec!["1".into()]),
        })
        .encode()
    }

    /// The next message for a document: `request` while the client has nothing, like
    /// DocSynchronizer, else `sync`.
    pub fn sync_frame(&mut self, id: DocumentId) -> Option<Vec<u8>> {
        let doc = self.docs.entry(id).or_default();
        let state = self.states.entry(id).or_default();
        if self.ignore_read_only {
            state.peer_read_only = false;
        }
        let message = doc.sync().generate_sync_message(state)?;
        let body = SyncMessage {
            sender_id: self.peer_id.clone(),
            target_id: SERVER.into(),
            document_id: id,
            data: message.encode(),
        };
        Some(
            if doc.get_heads().is_empty() {
                Message::Request(body)
            } else {
                Message::Sync(body)
            }
            .encode(),
        )
    }

    /// Handles a frame from the server; returns the frames to send back.
    pub fn receive(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        match Message::decode(frame, usize::MAX).expect("the server sends valid frames") {
            Message::Peer(_) => self.joined = true,
            Message::Sync(m) => {
                let doc = self.docs.entry(m.document_id).or_default();
                let state = self.states.entry(m.document_id).or_default();
                let message = sync::Message::decode(&m.data).expect("valid sync message");
                doc.sync()
                    .receive_sync_message(state, message)
                    .expect("applies");
                return self.sync_frame(m.document_id).into_iter().collect();
            }
            Message::DocUnavailable(m) => {
                self.unavailable.insert(m.document_id);
            }
            Message::Error(e) => self.errors.push(e.message),
            other => panic!("unexpected message from server: {other:?}"),
        }
        Vec::new()
    }

    pub fn heads(&mut self, id: DocumentId) -> Vec<ChangeHash> {
        self.docs.entry(id).or_default().get_heads()
    }
}

/// The server side: a shared document registry, storage, a share policy, connections.
#[derive(Debug, Default)]
pub struct TestServer {
    pub docs: HashMap<DocumentId, AutoCommit>,
    /// Per document, the chunks durably stored (the first is the initial save).
    pub storage: HashMap<DocumentId, Vec<Vec<u8>>>,
    /// Per (peer, document) access; absent means denied.
    pub policy: HashMap<(String, DocumentId), Access>,
    /// When set, stores are parked here instead of completing.
    pub hold_stores: bool,
    pub held_stores: Vec<(usize, DocumentId, StoreToken)>,
    pub connections: Vec<Connection>,
    pub closes: Vec<super::CloseReason>,
    pub events: Vec<Output>,
    peer_names: Vec<String>,
    fanout: Vec<(usize, Vec<u8>)>,
}

impl TestServer {
    /// Creates a document in storage (server-side, as the server's own actor).
    pub fn create(&mut self, id: DocumentId, build: impl FnOnce(&mut AutoCommit)) {
        let mut doc = AutoCommit::new();
        build(&mut doc);
        self.storage.insert(id, vec![doc.save()]);
    }

    pub fn grant(&mut self, peer: &str, id: DocumentId, access: Access) {
        self.policy.insert((peer.to_owned(), id), access);
    }

    pub fn connect(&mut self, peer: &str) -> usize {
        let config = ConnectionConfig::new(SERVER.into(), "server-storage".into(), peer.into());
        self.connections
            .push(Connection::new(config, Instant::now()));
        self.peer_names.push(peer.to_owned());
        self.connections.len() - 1
    }

    /// The document as storage holds it (what survives a crash).
    pub fn durable(&self, id: DocumentId) -> AutoCommit {
        let mut doc = AutoCommit::new();
        for chunk in self.storage.get(&id).into_iter().flatten() {
            doc.load_incremental(chunk).expect("stored chunks load");
        }
        doc
    }

    /// Delivers a frame from the client of connection `c`; returns frames for the client.
    pub fn deliver(&mut self, c: usize, frame: Vec<u8>) -> Vec<Vec<u8>> {
        let outputs = self.connections[c].handle(Event::Received(frame));
        self.run(c, outputs)
    }

    pub fn event(&mut self, c: usize, event: Event) -> Vec<Vec<u8>> {
        let outputs = self.connections[c].handle(event);
        self.run(c, outputs)
    }

    /// Completes one parked store.
    pub fn complete_store(&mut self, index: usize) -> Vec<Vec<u8>> {
        let (c, document_id, token) = self.held_stores.remove(index);
        self.event(c, Event::Stored { document_id, token })
    }

    /// Carries out outputs of connection `c` until none are left; returns its `Send`s.
    /// Fan-out to other connections' clients is returned by `take_fanout`.
    pub fn run(&mut self, c: usize, outputs: Vec<Output>) -> Vec<Vec<u8>> {
        let mut sends: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut queue: std::collections::VecDeque<(usize, Output)> =
            outputs.into_iter().map(|o| (c, o)).collect();
        while let Some((c, output)) = queue.pop_front() {
            self.events.push(output.clone());
            let next = match output {
                Output::Send(frame) => {
                    self.check_durable(&frame);
                    sends.push((c, frame));
                    Vec::new()
                }
                Output::CheckAccess { document_id } => {
                    let peer = self.peer_of(c);
                    let access = self
                        .policy
                        .get(&(peer, document_id))
                        .copied()
                        .unwrap_or(Access::Denied);
                    self.connections[c].handle(Event::AccessDecided {
                        document_id,
                        access,
                    })
                }
                Output::NeedDocument { document_id } => {
                    if !self.docs.contains_key(&document_id)
                        && self.storage.contains_key(&document_id)
                    {
                        let doc = self.durable(document_id);
                        self.docs.insert(document_id, doc);
                    }
                    let doc = self.docs.get_mut(&document_id);
                    self.connections[c].with_document(document_id, doc)
                }
                Output::Store {
                    document_id,
                    changes,
                    token,
                } => {
                    self.storage.entry(document_id).or_default().push(changes);
                    if self.hold_stores {
                        self.held_stores.push((c, document_id, token));
                        Vec::new()
                    } else {
                        self.connections[c].handle(Event::Stored { document_id, token })
                    }
                }
                Output::DocumentChanged { document_id } => {
                    let mut fan = Vec::new();
                    for other in 0..self.connections.len() {
                        if other != c {
                            for o in self.connections[other]
                                .handle(Event::DocumentChangedElsewhere { document_id })
                            {
                                fan.push((other, o));
                            }
                        }
                    }
                    queue.extend(fan);
                    Vec::new()
                }
                Output::ReadOnlyWriteIgnored { .. } => Vec::new(),
                Output::Close { reason } => {
                    self.closes.push(reason);
                    Vec::new()
                }
            };
            queue.extend(next.into_iter().map(|o| (c, o)));
        }
        self.fanout
            .extend(sends.iter().filter(|(o, _)| *o != c).cloned());
        sends
            .into_iter()
            .filter(|(o, _)| *o == c)
            .map(|(_, f)| f)
            .collect()
    }

    fn peer_of(&self, c: usize) -> String {
        self.peer_names[c].clone()
    }

    /// Frames sent to connection `c`'s client while handling another connection's events.
    pub fn take_fanout(&mut self, c: usize) -> Vec<Vec<u8>> {
        let (mine, rest) = std::mem::take(&mut self.fanout)
            .into_iter()
            .partition(|(o, _)| *o == c);
        self.fanout = rest;
        mine.into_iter().map(|(_, f)| f).collect()
    }

    /// The durability rule: every sync message we send advertises only stored heads.
    fn check_durable(&self, frame: &[u8]) {
        if let Ok(Message::Sync(m)) = Message::decode(frame, usize::MAX) {
            let message = sync::Message::decode(&m.data).expect("valid sync message");
            let mut durable = self.durable(m.document_id);
            for head in &message.heads {
                assert!(
                    durable.get_change_meta_by_hash(head).is_some(),
                    "sent head {head} that storage does not hold"
                );
            }
        }
    }
}
