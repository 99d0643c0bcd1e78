//! A simulated device for the sync stories: a phone that registers for sync tickets, keeps
//! automerge documents locally, and syncs them with the server over the automerge-repo
//! WebSocket protocol (docs/sync-protocol.md), the way the stock JS client does.
//!
//! - [`Device`]: the phone. It owns the local documents (shared with its open connections, so a
//!   test can edit while online) and asks for tickets (`POST /sync/tickets`).
//! - [`Connection`]: one WebSocket connection. It keeps one automerge `sync::State` per
//!   document, fresh on every connection, like a client that persists no sync state: automerge
//!   converges anyway, with one round trip more.
//! - Escape hatches for the bad-input stories: [`Device::open`] (no `join`),
//!   [`Connection::join`] with any [`Join`], [`Connection::send`], [`Connection::send_raw`],
//!   [`Connection::send_text`], [`Connection::next_message`], [`Connection::wait_closed`].
//!
//! Every frame goes through `taccuino_sync::protocol::Message`, so the stories also exercise
//! our wire code. Nothing the server sends is unwrapped: malformed answers are typed errors
//! ([`ConnectError`], [`SyncError`]) a story can assert on; only test-setup mistakes panic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::CommitOptions;
use automerge::{AutoCommit, ChangeHash};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use taccuino_sync::DocumentKind;
use taccuino_sync::protocol::{
    Access, DocumentId, Join, Message, PROTOCOL_V1, Peer, PeerId, PeerMetadata, SyncMessage,
};
use taccuino_sync::schema::{
    DiaryView, PlanView, RecordFields, SchemaError, TEXT_ENCODING, load_document,
};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use uuid::Uuid;

use crate::{Reply, Session, TestApp};

/// The largest frame the device accepts from the server (the protocol's default limit).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// How long the WebSocket handshake and the `join` / `peer` exchange of [`Device::connect`]
/// may take. Generous: the server may be busy with a parallel test on a 2-core machine.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long to wait for the close frame that follows an `error`, and for the close handshake
/// of [`Connection::close`]. The server closes right after `error`, so this only bounds a bug.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The device's local documents, shared by the device and its connections: a phone edits
/// while it is online, and the connection must sync what the user just wrote.
type Store = Arc<Mutex<HashMap<DocumentId, AutoCommit>>>;

/// Locks the store. A poisoned lock only means another thread of the test panicked; the
/// documents are still consistent (every edit goes through automerge), so go on.
fn lock(store: &Store) -> MutexGuard<'_, HashMap<DocumentId, AutoCommit>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An empty local document counting text like the JS client (see `taccuino_sync::schema`):
/// the encoding is not stored in the document, so a bare `AutoCommit::new()` would count
/// code points and splice the notes of a synced record in the wrong place.
fn empty_document() -> AutoCommit {
    AutoCommit::new_with_encoding(TEXT_ENCODING)
}

// ---------------------------------------------------------------------------------------------
// Tickets and the document listing (REST)
// ---------------------------------------------------------------------------------------------

/// A sync ticket, as `POST /sync/tickets` answers it: single use, valid one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The opaque ticket.
    pub ticket: String,
    /// The peer id the device must announce in `join`.
    pub peer_id: PeerId,
    /// The device the ticket is for (pass it back to get a ticket for the same device).
    pub device_id: Uuid,
    /// When the ticket stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Where to connect, relative to the server's address (`/api/v1/sync?ticket=...`).
    pub url: String,
}

impl Ticket {
    /// Reads a ticket from the JSON body of a `POST /sync/tickets` answer.
    pub fn from_json(body: &Value) -> anyhow::Result<Self> {
        let text = |member: &str| -> anyhow::Result<&str> {
            body[member]
                .as_str()
                .with_context(|| format!("no string `{member}` in the ticket answer"))
        };
        Ok(Self {
            ticket: text("ticket")?.to_owned(),
            peer_id: PeerId::from(text("peer_id")?),
            device_id: text("device_id")?
                .parse()
                .context("`device_id` is not a UUID")?,
            expires_at: DateTime::parse_from_rfc3339(text("expires_at")?)
                .context("`expires_at` is not RFC 3339")?
                .with_timezone(&Utc),
            url: text("url")?.to_owned(),
        })
    }

    /// The WebSocket URL of this ticket on `app`.
    pub fn ws_url(&self, app: &TestApp) -> String {
        ws_url(app, &self.url)
    }
}

/// The `ws://` URL of `path_or_url` on `app`: a path (`/api/v1/sync?ticket=...`) is joined to
/// the server's address; an absolute `ws://` or `wss://` URL is kept as it is.
pub fn ws_url(app: &TestApp, path_or_url: &str) -> String {
    if path_or_url.starts_with("ws://") || path_or_url.starts_with("wss://") {
        return path_or_url.to_owned();
    }
    let base = app
        .address
        .strip_prefix("http://")
        .map(|host| format!("ws://{host}"))
        .unwrap_or_else(|| app.address.replacen("https://", "wss://", 1));
    format!("{base}{path_or_url}")
}

/// One entry of `GET /me/documents`: a document the caller may sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDocument {
    /// The document's id.
    pub document_id: DocumentId,
    /// Its `automerge:` URL.
    pub url: String,
    /// Plan or diary.
    pub kind: DocumentKind,
    /// The care plan it belongs to.
    pub care_plan_id: Uuid,
    /// The diary's operator; `None` for a plan.
    pub operator_id: Option<Uuid>,
    /// What the caller may do with it: [`Access::ReadWrite`] or [`Access::ReadOnly`].
    pub access: Access,
}

impl ListedDocument {
    /// Reads one item of the `GET /me/documents` envelope.
    pub fn from_json(item: &Value) -> anyhow::Result<Self> {
        let text = |member: &str| -> anyhow::Result<&str> {
            item[member]
                .as_str()
                .with_context(|| format!("no string `{member}` in {item}"))
        };
        let kind = match text("kind")? {
            "plan" => DocumentKind::Plan,
            "diary" => DocumentKind::Diary,
            other => bail!("unknown kind {other:?}"),
        };
        let access = match text("access")? {
            "read_write" => Access::ReadWrite,
            "read_only" => Access::ReadOnly,
            other => bail!("unknown access {other:?}"),
        };
        let operator_id = match &item["operator_id"] {
            Value::Null => None,
            Value::String(s) => Some(s.parse().context("`operator_id` is not a UUID")?),
            other => bail!("`operator_id` is neither null nor a string: {other}"),
        };
        Ok(Self {
            document_id: text("document_id")?
                .parse()
                .map_err(|e| anyhow!("`document_id` is not a document id: {e}"))?,
            url: text("url")?.to_owned(),
            kind,
            care_plan_id: text("care_plan_id")?
                .parse()
                .context("`care_plan_id` is not a UUID")?,
            operator_id,
            access,
        })
    }
}

/// Every document `session` may sync (`GET /me/documents`, all pages). Panics, showing the
/// entry, when the listing fails or an entry does not read: the story cannot go on.
pub async fn my_documents(session: &Session) -> Vec<ListedDocument> {
    session
        .list_all("/me/documents")
        .await
        .iter()
        .map(|item| {
            ListedDocument::from_json(item).unwrap_or_else(|e| {
                panic!(
                    "GET /me/documents as {}: unreadable entry: {e:#}",
                    session.who
                )
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The device
// ---------------------------------------------------------------------------------------------

/// A simulated phone: a registered sync device with its local automerge documents.
#[derive(Debug)]
pub struct Device {
    /// The name given at registration.
    pub name: String,
    /// The server's id of this device.
    pub device_id: Uuid,
    /// The peer id the server gave this device (every ticket of the device carries it).
    pub peer_id: PeerId,
    /// The storage id announced in `join`, fixed for the device like a PWA's IndexedDB id.
    pub storage_id: String,
    /// The ticket obtained at registration, not used yet: connect with it (it is valid one
    /// minute) or ask a fresh one with [`Device::ticket`].
    pub registration: Ticket,
    docs: Store,
}

impl Device {
    /// `POST /sync/tickets` with any `device_id` and `device_name`, whatever the answer: for
    /// the stories about refused ticket requests.
    pub async fn request_ticket(
        session: &Session,
        device_id: Option<Uuid>,
        device_name: Option<&str>,
    ) -> Reply {
        session
            .post(
                "/sync/tickets",
                json!({"device_id": device_id, "device_name": device_name}),
            )
            .await
    }

    /// Registers a new device of `session`'s user (a ticket request without `device_id`).
    /// Panics unless the server answers 201 with a readable ticket.
    pub async fn register(session: &Session, name: &str) -> Device {
        let reply = Self::request_ticket(session, None, Some(name))
            .await
            .expect(201);
        let ticket = Ticket::from_json(&reply.body)
            .unwrap_or_else(|e| panic!("unreadable ticket ({e:#}): {reply}"));
        Device {
            name: name.to_owned(),
            device_id: ticket.device_id,
            peer_id: ticket.peer_id.clone(),
            storage_id: Uuid::new_v4().to_string(),
            registration: ticket,
            docs: Arc::default(),
        }
    }

    /// A fresh ticket for this device (same `device_id`, hence same peer id). Panics unless the
    /// server answers 201 with a ticket for this device and its peer id: the server promises
    /// both, and a story connecting with someone else's peer id would test the wrong thing.
    pub async fn ticket(&self, session: &Session) -> Ticket {
        let reply = Self::request_ticket(session, Some(self.device_id), Some(&self.name))
            .await
            .expect(201);
        let ticket = Ticket::from_json(&reply.body)
            .unwrap_or_else(|e| panic!("unreadable ticket ({e:#}): {reply}"));
        assert_eq!(
            (&ticket.device_id, &ticket.peer_id),
            (&self.device_id, &self.peer_id),
            "a ticket for an existing device must keep its device and peer id: {reply}"
        );
        ticket
    }

    /// The `join` this device sends: the ticket's peer id, our storage id, protocol "1".
    /// Stories about bad joins change a field and pass it to [`Connection::join`].
    pub fn join_message(&self, ticket: &Ticket) -> Join {
        Join {
            sender_id: ticket.peer_id.clone(),
            peer_metadata: PeerMetadata {
                storage_id: Some(self.storage_id.clone()),
                is_ephemeral: Some(false),
            },
            supported_protocol_versions: Some(vec![PROTOCOL_V1.to_owned()]),
        }
    }

    /// Connects with `ticket` like the stock client: WebSocket upgrade, `join`, wait for
    /// `peer`. A refused upgrade is [`ConnectError::Refused`] with the HTTP status; an `error`
    /// before `peer` is [`ConnectError::Closed`] with its text. The ticket is taken by value
    /// because it is single use: reusing one on purpose takes a visible `.clone()`.
    pub async fn connect(&self, app: &TestApp, ticket: Ticket) -> Result<Connection, ConnectError> {
        let join = self.join_message(&ticket);
        let mut connection = self.open(app, ticket).await?;
        connection.join(join, CONNECT_TIMEOUT).await?;
        Ok(connection)
    }

    /// A fresh ticket and a connection with it; panics if either fails. The common case of a
    /// story that is not about connecting.
    pub async fn online(&self, app: &TestApp, session: &Session) -> Connection {
        let ticket = self.ticket(session).await;
        self.connect(app, ticket)
            .await
            .unwrap_or_else(|e| panic!("device {:?} failed to connect: {e}", self.name))
    }

    /// The WebSocket upgrade only, without `join`: for the stories about what comes before
    /// (or instead of) `join`. Follow with [`Connection::join`] to go on normally.
    pub async fn open(&self, app: &TestApp, ticket: Ticket) -> Result<Connection, ConnectError> {
        self.open_url(&ticket.ws_url(app), ticket.peer_id).await
    }

    /// The WebSocket upgrade to any URL (for a missing or forged ticket), without `join`;
    /// `me` is the peer id this end uses in the messages it builds until [`Connection::join`].
    pub async fn open_url(&self, url: &str, me: PeerId) -> Result<Connection, ConnectError> {
        let (ws, _response) = timeout(CONNECT_TIMEOUT, connect_async(url))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(ConnectError::from_handshake)?;
        Ok(Connection {
            ws,
            me,
            server: None,
            docs: Arc::clone(&self.docs),
            states: HashMap::new(),
            unsolicited: Vec::new(),
            received: BTreeMap::new(),
            last_error: None,
            closed: None,
        })
    }

    // --- local documents -----------------------------------------------------------------

    /// Whether the device holds the document (possibly still empty while a first sync runs).
    pub fn has_doc(&self, id: DocumentId) -> bool {
        lock(&self.docs).contains_key(&id)
    }

    /// The documents the device holds.
    pub fn doc_ids(&self) -> Vec<DocumentId> {
        let mut ids: Vec<_> = lock(&self.docs).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// A snapshot (clone) of a local document, to read with any automerge API without keeping
    /// the device locked. Panics when the device does not hold it.
    #[track_caller]
    pub fn doc(&self, id: DocumentId) -> AutoCommit {
        lock(&self.docs)
            .get(&id)
            .cloned()
            .unwrap_or_else(|| panic!("device {:?} does not hold document {id}", self.name))
    }

    /// A local document to edit in place (the next sync sends the edit). The guard locks the
    /// device's documents: drop it before awaiting anything. Panics when the device does not
    /// hold the document.
    #[track_caller]
    pub fn doc_mut(&self, id: DocumentId) -> DocMut<'_> {
        let docs = lock(&self.docs);
        assert!(
            docs.contains_key(&id),
            "device {:?} does not hold document {id}",
            self.name
        );
        DocMut { docs, id }
    }

    /// Puts a document in the device's store (replacing any copy), e.g. a diary made with
    /// `taccuino_sync::schema::new_diary` for a forged-document story.
    pub fn insert_doc(&self, id: DocumentId, doc: AutoCommit) {
        lock(&self.docs).insert(id, doc);
    }

    /// Loads saved bytes (`AutoCommit::save`) as a local document, with the JS text encoding.
    pub fn insert_saved(&self, id: DocumentId, bytes: &[u8]) -> Result<(), SchemaError> {
        let doc = load_document(bytes)?;
        self.insert_doc(id, doc);
        Ok(())
    }

    /// Forgets a local document (an app reinstall, for that document).
    pub fn remove_doc(&self, id: DocumentId) -> Option<AutoCommit> {
        lock(&self.docs).remove(&id)
    }

    /// The heads of a local document, sorted; panics when the device does not hold it.
    #[track_caller]
    pub fn heads(&self, id: DocumentId) -> Vec<ChangeHash> {
        let mut heads = self.doc_mut(id).get_heads();
        heads.sort_unstable();
        heads
    }

    /// Writes a record into a local diary with `taccuino_sync::schema::upsert_record` and
    /// commits it, like the app saving a form. On a schema error nothing is kept (rolled
    /// back). Panics when the device does not hold the diary.
    #[track_caller]
    pub fn record(
        &self,
        diary_id: DocumentId,
        record_id: Uuid,
        fields: &RecordFields,
    ) -> Result<(), SchemaError> {
        let mut doc = self.doc_mut(diary_id);
        let written = taccuino_sync::schema::upsert_record(&mut *doc, record_id, fields);
        finish_edit(&mut doc, written, "record")
    }

    /// Deletes a record of a local diary (`taccuino_sync::schema::tombstone`) and commits.
    /// Panics when the device does not hold the diary.
    #[track_caller]
    pub fn tombstone(
        &self,
        diary_id: DocumentId,
        record_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), SchemaError> {
        let mut doc = self.doc_mut(diary_id);
        let written = taccuino_sync::schema::tombstone(&mut *doc, record_id, at);
        finish_edit(&mut doc, written, "tombstone")
    }

    /// Reads a local diary; panics when the device does not hold it or it does not read as a
    /// diary (the story then failed: the server sent a broken document).
    #[track_caller]
    pub fn diary(&self, id: DocumentId) -> DiaryView {
        DiaryView::read(&*self.doc_mut(id)).unwrap_or_else(|e| {
            panic!(
                "document {id} on device {:?} is not a readable diary: {e}",
                self.name
            )
        })
    }

    /// Reads a local plan; panics when the device does not hold it or it does not read as a
    /// plan.
    #[track_caller]
    pub fn plan(&self, id: DocumentId) -> PlanView {
        PlanView::read(&*self.doc_mut(id)).unwrap_or_else(|e| {
            panic!(
                "document {id} on device {:?} is not a readable plan: {e}",
                self.name
            )
        })
    }
}

/// Commits a schema writer's edit, or rolls it back: writers leave committing to the caller
/// and may fail halfway, and a half-written record must not reach the server.
fn finish_edit(
    doc: &mut AutoCommit,
    written: Result<(), SchemaError>,
    what: &str,
) -> Result<(), SchemaError> {
    match written {
        Ok(()) => {
            doc.commit_with(
                CommitOptions::default()
                    .with_message(what)
                    .with_time(Utc::now().timestamp()),
            );
            Ok(())
        }
        Err(e) => {
            doc.rollback();
            Err(e)
        }
    }
}

/// A local document borrowed for editing (see [`Device::doc_mut`]); dereferences to the
/// `AutoCommit`. It holds the device's lock, so it must not live across an `.await`.
pub struct DocMut<'a> {
    docs: MutexGuard<'a, HashMap<DocumentId, AutoCommit>>,
    id: DocumentId,
}

impl fmt::Debug for DocMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocMut").field("id", &self.id).finish()
    }
}

impl std::ops::Deref for DocMut<'_> {
    type Target = AutoCommit;
    fn deref(&self) -> &AutoCommit {
        self.docs
            .get(&self.id)
            .expect("DocMut is only made for a document the device holds, under the lock")
    }
}

impl std::ops::DerefMut for DocMut<'_> {
    fn deref_mut(&mut self) -> &mut AutoCommit {
        self.docs
            .get_mut(&self.id)
            .expect("DocMut is only made for a document the device holds, under the lock")
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and reports
// ---------------------------------------------------------------------------------------------

/// How the server ended a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerClosed {
    /// The `message` of the `error` the server sent before closing, if it sent one.
    pub error: Option<String>,
    /// The close frame's code, if the server sent a close frame.
    pub code: Option<u16>,
    /// The close frame's reason (may be empty), if the server sent a close frame.
    pub reason: Option<String>,
    /// Why the connection ended when it ended without a close frame (reset, EOF).
    pub transport: Option<String>,
}

impl fmt::Display for ServerClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server closed the connection")?;
        if let Some(error) = &self.error {
            write!(f, " after error {error:?}")?;
        }
        if let Some(code) = self.code {
            write!(
                f,
                " (close {code} {:?})",
                self.reason.as_deref().unwrap_or("")
            )?;
        }
        if let Some(transport) = &self.transport {
            write!(f, " ({transport})")?;
        }
        Ok(())
    }
}

/// Why [`Device::connect`] (or [`Device::open`], [`Connection::join`]) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The server refused the WebSocket upgrade with this HTTP status (a reused, expired or
    /// unknown ticket).
    Refused {
        /// The HTTP status.
        status: u16,
        /// The body, as text (empty when none).
        body: String,
    },
    /// The server closed the connection before `peer`, normally after an `error`.
    Closed(ServerClosed),
    /// The server answered something the protocol does not allow (not `peer`, a `peer` for
    /// someone else, another protocol version, an undecodable frame).
    Protocol(String),
    /// No `peer` (or no upgrade) within the time allowed.
    Timeout,
    /// The connection failed below the protocol (refused TCP connection, broken handshake).
    Transport(String),
}

impl ConnectError {
    /// The HTTP status of a refused upgrade.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The text of the server's `error` message, if it sent one before closing.
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Self::Closed(closed) => closed.error.as_deref(),
            _ => None,
        }
    }

    fn from_handshake(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => Self::Refused {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            },
            other => Self::Transport(other.to_string()),
        }
    }
}

impl From<SyncError> for ConnectError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Closed(closed) => Self::Closed(closed),
            SyncError::Protocol(what) => Self::Protocol(what),
            SyncError::Timeout { .. } => Self::Timeout,
            SyncError::Transport(what) => Self::Transport(what),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { status, body } => {
                write!(f, "the server refused the upgrade with {status}: {body}")
            }
            Self::Closed(closed) => write!(f, "{closed} before `peer`"),
            Self::Protocol(what) => write!(f, "protocol violation by the server: {what}"),
            Self::Timeout => f.write_str("timed out before `peer`"),
            Self::Transport(what) => write!(f, "connection failed: {what}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why [`Connection::sync`] (or another exchange on an open connection) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncError {
    /// The server closed the connection, normally after an `error`.
    Closed(ServerClosed),
    /// The server sent something the protocol does not allow (an undecodable frame or
    /// automerge message, a text frame, a message for another peer, a second `peer`).
    Protocol(String),
    /// Time ran out with these documents not yet synced.
    Timeout {
        /// The documents still waiting.
        pending: Vec<DocumentId>,
    },
    /// Sending failed below the protocol.
    Transport(String),
}

impl SyncError {
    /// The text of the server's `error` message, if it sent one before closing.
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Self::Closed(closed) => closed.error.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(closed) => closed.fmt(f),
            Self::Protocol(what) => write!(f, "protocol violation by the server: {what}"),
            Self::Timeout { pending } => {
                let ids: Vec<String> = pending.iter().map(ToString::to_string).collect();
                write!(f, "timed out; not synced: [{}]", ids.join(", "))
            }
            Self::Transport(what) => write!(f, "sending failed: {what}"),
        }
    }
}

impl std::error::Error for SyncError {}

/// How the sync of one document ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocOutcome {
    /// The server and the device have the same heads.
    Synced {
        /// Whether the server shares the document read-only (its messages carry automerge's
        /// READ_ONLY flag).
        read_only: bool,
    },
    /// The server shares the document read-only and the device has every change the server
    /// has, but the device has changes of its own the server refuses (they stay local).
    LocalChangesRefused,
    /// The server answered `doc-unavailable` (denied or unknown: the same answer).
    Unavailable,
}

/// What [`Connection::sync`] found, per document asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The outcome of every document asked about.
    pub outcomes: BTreeMap<DocumentId, DocOutcome>,
}

impl SyncReport {
    /// The outcome for `id`, if it was asked about.
    pub fn outcome(&self, id: DocumentId) -> Option<DocOutcome> {
        self.outcomes.get(&id).copied()
    }

    /// Whether `id` ended with the same heads on both sides.
    pub fn is_synced(&self, id: DocumentId) -> bool {
        matches!(self.outcome(id), Some(DocOutcome::Synced { .. }))
    }

    /// Whether the server answered `doc-unavailable` for `id`.
    pub fn is_unavailable(&self, id: DocumentId) -> bool {
        self.outcome(id) == Some(DocOutcome::Unavailable)
    }

    /// Whether every document asked about ended with the same heads on both sides.
    pub fn all_synced(&self) -> bool {
        self.outcomes
            .values()
            .all(|o| matches!(o, DocOutcome::Synced { .. }))
    }
}

/// Whether the sync of one document is over, judged from the device's side after it answered
/// the server's last message. `None` while it is not.
///
/// - Same heads: synced. Whatever automerge still sends then (a heads-only acknowledgement)
///   needs no answer, and the server sends none, so waiting for one would hang.
/// - A read-only server that announced only heads we have: it has nothing more for us, and it
///   will never take our own changes (automerge stops offering them), so this is final too.
fn outcome_of(doc: &mut AutoCommit, state: &sync::State) -> Option<DocOutcome> {
    let mut theirs = state.their_heads.clone()?;
    let mut ours = doc.get_heads();
    theirs.sort_unstable();
    ours.sort_unstable();
    let read_only = state.is_peer_read_only();
    if theirs == ours {
        return Some(DocOutcome::Synced { read_only });
    }
    if read_only && theirs.iter().all(|h| doc.get_change_by_hash(h).is_some()) {
        return Some(DocOutcome::LocalChangesRefused);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------

/// What handling one server message meant for the documents.
enum Handled {
    /// A sync message for this document, answered; the document's outcome if it is done.
    Sync(DocumentId, Option<DocOutcome>),
    /// `doc-unavailable` for a document this connection asked about.
    Unavailable(DocumentId),
    /// Anything else (dropped, or recorded as unsolicited).
    Other,
}

/// One WebSocket connection of a [`Device`] to the sync endpoint.
#[derive(Debug)]
pub struct Connection {
    ws: Ws,
    /// Our peer id: the ticket's, or the `join`'s sender id once joined.
    me: PeerId,
    /// The server's `peer` answer, once joined.
    server: Option<Peer>,
    docs: Store,
    /// One sync state per document this connection asked about, fresh per connection.
    states: HashMap<DocumentId, sync::State>,
    /// Documents the server sent sync messages about without being asked (the protocol says
    /// it never does); not applied.
    unsolicited: Vec<DocumentId>,
    /// How many messages of each type the server sent.
    received: BTreeMap<&'static str, usize>,
    /// The text of the last `error` the server sent.
    last_error: Option<String>,
    /// Set once the server closed; later calls fail with it at once.
    closed: Option<ServerClosed>,
}

impl Connection {
    /// Our peer id on this connection.
    pub fn peer_id(&self) -> &PeerId {
        &self.me
    }

    /// The server's `peer` message (its peer id, storage id, protocol), once joined.
    pub fn server_peer(&self) -> Option<&Peer> {
        self.server.as_ref()
    }

    /// Documents the server sent `sync`/`request` about without this connection asking.
    pub fn unsolicited(&self) -> &[DocumentId] {
        &self.unsolicited
    }

    /// How many messages of type `type_name` (`"sync"`, `"request"`, ...) the server sent.
    pub fn received_count(&self, type_name: &str) -> usize {
        self.received.get(type_name).copied().unwrap_or(0)
    }

    /// Whether the server's messages for `id` carry automerge's READ_ONLY flag.
    pub fn is_read_only(&self, id: DocumentId) -> bool {
        self.states
            .get(&id)
            .is_some_and(sync::State::is_peer_read_only)
    }

    /// How the server closed the connection, once it has.
    pub fn closed(&self) -> Option<&ServerClosed> {
        self.closed.as_ref()
    }

    /// Sends `join` and waits up to `limit` for `peer`, checking it is addressed to the join's
    /// sender and selects protocol "1". [`Device::connect`] does this with the device's join.
    pub async fn join(&mut self, join: Join, limit: Duration) -> Result<(), ConnectError> {
        let deadline = Instant::now() + limit;
        self.me = join.sender_id.clone();
        self.send(&Message::Join(join)).await?;
        let Some(message) = self.recv(deadline).await? else {
            return Err(ConnectError::Timeout);
        };
        match message {
            Message::Peer(peer) => {
                if peer.target_id != self.me {
                    return Err(ConnectError::Protocol(format!(
                        "`peer` addressed to {}, not to {}",
                        peer.target_id, self.me
                    )));
                }
                if peer.selected_protocol_version != PROTOCOL_V1 {
                    return Err(ConnectError::Protocol(format!(
                        "the server selected protocol {:?}",
                        peer.selected_protocol_version
                    )));
                }
                self.server = Some(peer);
                Ok(())
            }
            Message::Error(e) => Err(ConnectError::Closed(self.after_error(e.message).await)),
            other => Err(ConnectError::Protocol(format!(
                "expected `peer`, got `{}`",
                other.type_name()
            ))),
        }
    }

    /// Syncs `doc_ids` like the stock client: for each, `request` when the device holds
    /// nothing of it, `sync` otherwise; then answers the server until every document is done
    /// (see [`DocOutcome`]) or `limit` runs out. Pushes for documents synced earlier on this
    /// connection are answered on the way. A document the server declares unavailable and
    /// that the device held nothing of is dropped from the device again.
    pub async fn sync(
        &mut self,
        doc_ids: &[DocumentId],
        limit: Duration,
    ) -> Result<SyncReport, SyncError> {
        let deadline = Instant::now() + limit;
        let mut report = SyncReport::default();
        let mut pending = BTreeSet::new();
        for &id in doc_ids {
            match self.start(id).await? {
                Some(outcome) => {
                    report.outcomes.insert(id, outcome);
                }
                None => {
                    pending.insert(id);
                }
            }
        }
        while !pending.is_empty() {
            let Some(message) = self.recv(deadline).await? else {
                return Err(SyncError::Timeout {
                    pending: pending.into_iter().collect(),
                });
            };
            match self.handle(message).await? {
                Handled::Sync(id, Some(outcome)) if pending.remove(&id) => {
                    report.outcomes.insert(id, outcome);
                }
                Handled::Unavailable(id) if pending.remove(&id) => {
                    report.outcomes.insert(id, DocOutcome::Unavailable);
                }
                Handled::Sync(..) | Handled::Unavailable(_) | Handled::Other => {}
            }
        }
        Ok(report)
    }

    /// Keeps answering the server for `duration` (to receive pushes, such as a review the
    /// server wrote into a plan). Returns how many sync messages it handled.
    pub async fn pump(&mut self, duration: Duration) -> Result<usize, SyncError> {
        let deadline = Instant::now() + duration;
        let mut handled = 0;
        while let Some(message) = self.recv(deadline).await? {
            if let Handled::Sync(..) = self.handle(message).await? {
                handled += 1;
            }
        }
        Ok(handled)
    }

    /// Answers the server until `done()` holds (checked first, then after every message) or
    /// `limit` runs out; `Ok(false)` on time out. `done` typically reads the device, e.g.
    /// `|| device.plan(plan_id).reviews.contains_key(&record_id)`; it runs without the
    /// device's documents locked.
    pub async fn pump_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut() -> bool,
    ) -> Result<bool, SyncError> {
        let deadline = Instant::now() + limit;
        while !done() {
            let Some(message) = self.recv(deadline).await? else {
                return Ok(false);
            };
            self.handle(message).await?;
        }
        Ok(true)
    }

    /// Closes the connection cleanly (close frame, then wait briefly for the server's).
    pub async fn close(mut self) {
        // Best effort: the server may already be gone, which is fine for a device leaving.
        let _ = timeout(CLOSE_GRACE, self.ws.close(None)).await;
        let _ = timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    // --- raw access ----------------------------------------------------------------------

    /// Sends a protocol message as it is, in a binary frame.
    pub async fn send(&mut self, message: &Message) -> Result<(), SyncError> {
        self.send_raw(message.encode()).await
    }

    /// Sends any bytes in one binary frame.
    pub async fn send_raw(&mut self, frame: Vec<u8>) -> Result<(), SyncError> {
        self.ws
            .send(WsMessage::Binary(frame.into()))
            .await
            .map_err(|e| SyncError::Transport(e.to_string()))
    }

    /// Sends a text frame (the protocol has none).
    pub async fn send_text(&mut self, text: String) -> Result<(), SyncError> {
        self.ws
            .send(WsMessage::Text(text.into()))
            .await
            .map_err(|e| SyncError::Transport(e.to_string()))
    }

    /// A `sync`/`request` body from us to the server for `document_id` with `data`, to send
    /// crafted automerge data with [`Connection::send`]. Panics before `join` succeeded (a
    /// story mistake: there is no server peer id to address yet).
    #[track_caller]
    pub fn sync_body(&self, document_id: DocumentId, data: Vec<u8>) -> SyncMessage {
        let server = self
            .server
            .as_ref()
            .expect("sync_body needs a joined connection (the server's peer id)");
        SyncMessage {
            sender_id: self.me.clone(),
            target_id: server.sender_id.clone(),
            document_id,
            data,
        }
    }

    /// The next message from the server within `limit`, as it is: not applied, not answered.
    /// `Ok(None)` on time out; [`SyncError::Closed`] once the server closed (an `error` is
    /// returned as a message first; the close that follows comes with the next call or
    /// [`Connection::wait_closed`]).
    pub async fn next_message(&mut self, limit: Duration) -> Result<Option<Message>, SyncError> {
        self.recv(Instant::now() + limit).await
    }

    /// Waits up to `limit` for the server to close, dropping whatever it sends meanwhile;
    /// `None` if it did not close. The answer carries the text of the `error` the server sent
    /// before closing, if any (also one already returned by [`Connection::next_message`]).
    pub async fn wait_closed(&mut self, limit: Duration) -> Option<ServerClosed> {
        let deadline = Instant::now() + limit;
        loop {
            match self.recv(deadline).await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(SyncError::Closed(closed)) => return Some(closed),
                // An undecodable frame is not a close: keep waiting for one.
                Err(SyncError::Protocol(_)) => {}
                Err(SyncError::Timeout { .. } | SyncError::Transport(_)) => {
                    return self.closed.clone();
                }
            }
        }
    }

    // --- internals -----------------------------------------------------------------------

    /// Sends the first message of a sync of `id` on this connection (or the next one, when it
    /// was synced before and has changed since). Returns the outcome when it is already done.
    async fn start(&mut self, id: DocumentId) -> Result<Option<DocOutcome>, SyncError> {
        let (first, outcome) = {
            let mut docs = lock(&self.docs);
            let doc = docs.entry(id).or_insert_with(empty_document);
            let holds_nothing = doc.get_heads().is_empty();
            let state = self.states.entry(id).or_default();
            let data = doc.sync().generate_sync_message(state).map(|m| m.encode());
            (
                data.map(|data| (holds_nothing, data)),
                outcome_of(doc, state),
            )
        };
        if let Some((holds_nothing, data)) = first {
            let body = self.body(id, data)?;
            // Like the stock client: `request` only for a document it has nothing of.
            let message = if holds_nothing {
                Message::Request(body)
            } else {
                Message::Sync(body)
            };
            self.send(&message).await?;
        }
        Ok(outcome)
    }

    /// Applies one server message and answers it.
    async fn handle(&mut self, message: Message) -> Result<Handled, SyncError> {
        if let Some(target) = message.target_id()
            && *target != self.me
        {
            return Err(SyncError::Protocol(format!(
                "`{}` addressed to {target}, not to {}",
                message.type_name(),
                self.me
            )));
        }
        match message {
            Message::Sync(m) | Message::Request(m) => self.apply(m).await,
            Message::DocUnavailable(m) => {
                if self.states.remove(&m.document_id).is_none() {
                    return Ok(Handled::Other);
                }
                // Forget the empty placeholder made for a `request`, so that the device holds
                // what a real client would: nothing. A document it had stays usable locally.
                let mut docs = lock(&self.docs);
                if docs
                    .get_mut(&m.document_id)
                    .is_some_and(|doc| doc.get_heads().is_empty())
                {
                    docs.remove(&m.document_id);
                }
                Ok(Handled::Unavailable(m.document_id))
            }
            Message::Error(e) => Err(SyncError::Closed(self.after_error(e.message).await)),
            Message::Join(_) | Message::Peer(_) => Err(SyncError::Protocol(format!(
                "unexpected `{}` after joining",
                message.type_name()
            ))),
            // Presence and heads gossip: a device without them drops them, like the server.
            Message::Ephemeral(_)
            | Message::RemoteSubscriptionChange(_)
            | Message::RemoteHeadsChanged(_) => Ok(Handled::Other),
        }
    }

    /// Applies the server's automerge sync message for a document and sends our answer.
    async fn apply(&mut self, m: SyncMessage) -> Result<Handled, SyncError> {
        let id = m.document_id;
        let reply = {
            let mut docs = lock(&self.docs);
            let (Some(state), Some(doc)) = (self.states.get_mut(&id), docs.get_mut(&id)) else {
                // Never asked about on this connection (or forgotten by the story meanwhile):
                // the protocol says the server does not announce such documents; note it.
                self.unsolicited.push(id);
                return Ok(Handled::Other);
            };
            let sync_message = sync::Message::decode(&m.data).map_err(|e| {
                SyncError::Protocol(format!("undecodable automerge message for {id}: {e}"))
            })?;
            doc.sync()
                .receive_sync_message(state, sync_message)
                .map_err(|e| {
                    SyncError::Protocol(format!("the server's changes for {id} do not apply: {e}"))
                })?;
            let reply = doc.sync().generate_sync_message(state).map(|m| m.encode());
            (reply, outcome_of(doc, state))
        };
        let (data, outcome) = reply;
        if let Some(data) = data {
            let body = self.body(id, data)?;
            self.send(&Message::Sync(body)).await?;
        }
        Ok(Handled::Sync(id, outcome))
    }

    /// Our `sync`/`request` body for `id`; a protocol error before `peer` (nobody to address).
    fn body(&self, document_id: DocumentId, data: Vec<u8>) -> Result<SyncMessage, SyncError> {
        let server = self.server.as_ref().ok_or_else(|| {
            SyncError::Protocol("no `peer` from the server yet: join first".to_owned())
        })?;
        Ok(SyncMessage {
            sender_id: self.me.clone(),
            target_id: server.sender_id.clone(),
            document_id,
            data,
        })
    }

    /// The next protocol message before `deadline`, skipping control frames: `Ok(None)` on
    /// time out, [`SyncError::Closed`] when the server closed (now or earlier).
    async fn recv(&mut self, deadline: Instant) -> Result<Option<Message>, SyncError> {
        if let Some(closed) = &self.closed {
            return Err(SyncError::Closed(closed.clone()));
        }
        loop {
            let Ok(frame) = timeout_at(deadline, self.ws.next()).await else {
                return Ok(None);
            };
            let frame = match frame {
                None => return Err(self.server_closed(None, Some("end of stream".to_owned()))),
                Some(Err(e)) => return Err(self.server_closed(None, Some(e.to_string()))),
                Some(Ok(frame)) => frame,
            };
            match frame {
                WsMessage::Binary(data) => {
                    let message = Message::decode(&data, MAX_FRAME).map_err(|e| {
                        SyncError::Protocol(format!("undecodable frame from the server: {e}"))
                    })?;
                    *self.received.entry(message.type_name()).or_default() += 1;
                    if let Message::Error(e) = &message {
                        self.last_error = Some(e.message.clone());
                    }
                    return Ok(Some(message));
                }
                WsMessage::Close(frame) => {
                    // Let tungstenite send its half of the close handshake; best effort.
                    let _ = timeout(CLOSE_GRACE, self.ws.flush()).await;
                    return Err(self.server_closed(frame, None));
                }
                WsMessage::Text(_) => {
                    return Err(SyncError::Protocol(
                        "the server sent a text frame".to_owned(),
                    ));
                }
                // Pings are answered by tungstenite itself.
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
            }
        }
    }

    /// After an `error` the server closes: wait briefly for the close to report both the
    /// error text and the close frame.
    async fn after_error(&mut self, error: String) -> ServerClosed {
        self.last_error = Some(error);
        let deadline = Instant::now() + CLOSE_GRACE;
        loop {
            match self.recv(deadline).await {
                Err(SyncError::Closed(closed)) => return closed,
                // Anything sent between `error` and the close changes nothing: the error is final.
                Ok(Some(_)) | Err(SyncError::Protocol(_)) => {}
                Ok(None) | Err(SyncError::Timeout { .. } | SyncError::Transport(_)) => {
                    let closed = ServerClosed {
                        error: self.last_error.clone(),
                        code: None,
                        reason: None,
                        transport: Some("no close after `error`".to_owned()),
                    };
                    self.closed = Some(closed.clone());
                    return closed;
                }
            }
        }
    }

    /// Records that the server closed (with this close frame, or this transport reason).
    fn server_closed(
        &mut self,
        frame: Option<tungstenite::protocol::CloseFrame>,
        transport: Option<String>,
    ) -> SyncError {
        let closed = ServerClosed {
            error: self.last_error.clone(),
            code: frame.as_ref().map(|f| u16::from(f.code)),
            reason: frame.map(|f| f.reason.as_str().to_owned()),
            transport,
        };
        self.closed = Some(closed.clone());
        SyncError::Closed(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diary() -> AutoCommit {
        taccuino_sync::schema::new_diary(Uuid::new_v4(), Uuid::new_v4())
            .expect("a new diary is valid")
    }

    /// Writes and commits one record, as `Device::record` does.
    fn add_record(doc: &mut AutoCommit) {
        let fields = RecordFields {
            service_type_id: Uuid::new_v4(),
            started_at: Utc::now(),
            ended_at: None,
            quantity: None,
            km: None,
            origin: None,
            destination: None,
            position: None,
            notes: String::new(),
            missed: false,
            missed_reason: None,
            recorded_at: Utc::now(),
        };
        let written = taccuino_sync::schema::upsert_record(doc, Uuid::new_v4(), &fields);
        finish_edit(doc, written, "record").expect("valid record");
    }

    /// Runs automerge sync between `a` (the "device") and `b` (the "server") until neither has
    /// anything to say.
    fn converge(
        a: &mut AutoCommit,
        b: &mut AutoCommit,
        sa: &mut sync::State,
        sb: &mut sync::State,
    ) {
        for _ in 0..20 {
            let to_b = a.sync().generate_sync_message(sa);
            if let Some(m) = to_b.clone() {
                b.sync()
                    .receive_sync_message(sb, m)
                    .expect("in-memory sync applies");
            }
            let to_a = b.sync().generate_sync_message(sb);
            if let Some(m) = to_a.clone() {
                a.sync()
                    .receive_sync_message(sa, m)
                    .expect("in-memory sync applies");
            }
            if to_b.is_none() && to_a.is_none() {
                return;
            }
        }
        panic!("in-memory sync did not converge");
    }

    #[test]
    fn not_done_before_the_server_speaks() {
        let mut doc = diary();
        assert_eq!(outcome_of(&mut doc, &sync::State::new()), None);
    }

    #[test]
    fn same_heads_is_synced() {
        let mut server = diary();
        let mut device = empty_document();
        let (mut sd, mut ss) = (sync::State::new(), sync::State::new());
        converge(&mut device, &mut server, &mut sd, &mut ss);
        assert_eq!(
            outcome_of(&mut device, &sd),
            Some(DocOutcome::Synced { read_only: false })
        );
    }

    #[test]
    fn read_only_server_refusing_local_changes_is_final() {
        let mut server = diary();
        let mut device = empty_document();
        let (mut sd, mut ss) = (sync::State::new(), sync::State::new_read_only());
        converge(&mut device, &mut server, &mut sd, &mut ss);
        assert_eq!(
            outcome_of(&mut device, &sd),
            Some(DocOutcome::Synced { read_only: true })
        );

        add_record(&mut device);
        converge(&mut device, &mut server, &mut sd, &mut ss);
        assert_eq!(
            outcome_of(&mut device, &sd),
            Some(DocOutcome::LocalChangesRefused)
        );
    }

    #[test]
    fn device_ahead_of_a_read_write_server_is_not_done() {
        let mut server = diary();
        let mut device = server.fork();
        add_record(&mut device);
        let (mut sd, mut ss) = (sync::State::new(), sync::State::new());
        // The server's first answer only announces its own heads: it has not stored the
        // device's record yet, so the device must keep waiting.
        let hello = device
            .sync()
            .generate_sync_message(&mut sd)
            .expect("a fresh state always speaks");
        server
            .sync()
            .receive_sync_message(&mut ss, hello)
            .expect("applies");
        let answer = server
            .sync()
            .generate_sync_message(&mut ss)
            .expect("the server answers a fresh peer");
        device
            .sync()
            .receive_sync_message(&mut sd, answer)
            .expect("applies");
        assert_eq!(outcome_of(&mut device, &sd), None);
    }

    /// Loopback stories against our own sans-IO server state machine
    /// (`taccuino_sync::protocol::Connection`) behind a bare WebSocket listener, with an
    /// in-memory "storage" that stores at once: they check the device's loop end to end before
    /// the real endpoint exists. Documents and their access are fixed per test.
    mod loopback {
        use std::collections::VecDeque;

        use taccuino_sync::protocol::{
            Connection as ServerConnection, ConnectionConfig, Event, Output,
        };
        use tokio::net::TcpListener;
        use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

        use super::*;

        type ServerDocs = Arc<Mutex<HashMap<DocumentId, (AutoCommit, Access)>>>;

        const LIMIT: Duration = Duration::from_secs(10);
        const AUTHORIZED: &str = "device-peer";

        /// Serves connections one after another until the test ends; returns the URL.
        async fn serve(docs: ServerDocs) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!("ws://{}/", listener.local_addr().expect("address"));
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                        continue;
                    };
                    run(ws, &docs).await;
                }
            });
            url
        }

        async fn run(mut ws: WebSocketStream<TcpStream>, docs: &ServerDocs) {
            let config = ConnectionConfig::new(
                "server-peer".into(),
                "server-storage".into(),
                AUTHORIZED.into(),
            );
            let mut conn = ServerConnection::new(config, std::time::Instant::now());
            while let Some(Ok(frame)) = ws.next().await {
                let WsMessage::Binary(data) = frame else {
                    continue;
                };
                let mut queue: VecDeque<Output> =
                    conn.handle(Event::Received(data.to_vec())).into();
                while let Some(output) = queue.pop_front() {
                    let more = match output {
                        Output::Send(frame) => {
                            let _ = ws.send(WsMessage::Binary(frame.into())).await;
                            Vec::new()
                        }
                        Output::CheckAccess { document_id } => {
                            let access = lock_server(docs)
                                .get(&document_id)
                                .map_or(Access::ReadWrite, |(_, access)| *access);
                            conn.handle(Event::AccessDecided {
                                document_id,
                                access,
                            })
                        }
                        Output::NeedDocument { document_id } => {
                            let mut docs = lock_server(docs);
                            let doc = docs.get_mut(&document_id).map(|(doc, _)| doc);
                            conn.with_document(document_id, doc)
                        }
                        Output::Store {
                            document_id, token, ..
                        } => conn.handle(Event::Stored { document_id, token }),
                        Output::Close { reason } => {
                            let frame = CloseFrame {
                                code: CloseCode::Policy,
                                reason: reason.to_string().into(),
                            };
                            let _ = ws.close(Some(frame)).await;
                            return;
                        }
                        _ => Vec::new(),
                    };
                    queue.extend(more);
                }
            }
        }

        fn lock_server(
            docs: &ServerDocs,
        ) -> MutexGuard<'_, HashMap<DocumentId, (AutoCommit, Access)>> {
            docs.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn device() -> Device {
            let ticket = Ticket {
                ticket: "t".to_owned(),
                peer_id: AUTHORIZED.into(),
                device_id: Uuid::new_v4(),
                expires_at: Utc::now(),
                url: String::new(),
            };
            Device {
                name: "loopback".to_owned(),
                device_id: ticket.device_id,
                peer_id: ticket.peer_id.clone(),
                storage_id: Uuid::new_v4().to_string(),
                registration: ticket,
                docs: Arc::default(),
            }
        }

        async fn connect(device: &Device, url: &str) -> Connection {
            let mut conn = device
                .open_url(url, device.peer_id.clone())
                .await
                .expect("upgrade");
            conn.join(device.join_message(&device.registration), LIMIT)
                .await
                .expect("join");
            conn
        }

        fn id() -> DocumentId {
            DocumentId::from(Uuid::new_v4())
        }

        #[tokio::test]
        async fn a_device_syncs_both_ways_and_sees_refusals() {
            let (shared, read_only, denied, missing) = (id(), id(), id(), id());
            let docs = ServerDocs::default();
            lock_server(&docs).extend([
                (shared, (diary(), Access::ReadWrite)),
                (read_only, (diary(), Access::ReadOnly)),
                (denied, (diary(), Access::Denied)),
            ]);
            let url = serve(Arc::clone(&docs)).await;
            let device = device();

            let mut conn = connect(&device, &url).await;
            let report = conn
                .sync(&[shared, read_only, denied, missing], LIMIT)
                .await
                .expect("first sync");
            assert_eq!(
                report.outcome(shared),
                Some(DocOutcome::Synced { read_only: false })
            );
            assert_eq!(
                report.outcome(read_only),
                Some(DocOutcome::Synced { read_only: true })
            );
            assert!(report.is_unavailable(denied) && report.is_unavailable(missing));
            assert_eq!(
                device.doc_ids().len(),
                2,
                "nothing kept of unavailable documents"
            );
            assert_eq!(conn.received_count("request"), 0);

            // Edits while online go out with the next sync; the read-only one stays local.
            let record = Uuid::new_v4();
            add_record(&mut device.doc_mut(shared));
            add_record(&mut device.doc_mut(read_only));
            device
                .tombstone(shared, record, Utc::now())
                .expect_err("no such record");
            let report = conn
                .sync(&[shared, read_only], LIMIT)
                .await
                .expect("second sync");
            assert!(report.is_synced(shared));
            assert_eq!(
                report.outcome(read_only),
                Some(DocOutcome::LocalChangesRefused)
            );
            conn.close().await;
            {
                let server = lock_server(&docs);
                let records = |doc: &AutoCommit| DiaryView::read(doc).expect("diary").records.len();
                assert_eq!(records(&server.get(&shared).expect("shared").0), 1);
                assert_eq!(records(&server.get(&read_only).expect("read-only").0), 0);
            }

            // A new connection starts from fresh sync states and converges again.
            let mut conn = connect(&device, &url).await;
            let report = conn
                .sync(&[shared, read_only], LIMIT)
                .await
                .expect("third sync");
            assert!(report.is_synced(shared));
            assert_eq!(
                report.outcome(read_only),
                Some(DocOutcome::LocalChangesRefused)
            );
            assert_eq!(device.diary(shared).records.len(), 1);
            assert!(conn.unsolicited().is_empty());
            conn.close().await;
        }

        #[tokio::test]
        async fn a_wrong_peer_id_gets_the_error_text_and_a_close() {
            let url = serve(ServerDocs::default()).await;
            let device = device();
            let mut conn = device
                .open_url(&url, device.peer_id.clone())
                .await
                .expect("upgrade");
            let mut join = device.join_message(&device.registration);
            join.sender_id = "someone-else".into();
            let error = conn.join(join, LIMIT).await.expect_err("refused");
            let ConnectError::Closed(closed) = &error else {
                panic!("expected a close, got {error}");
            };
            assert!(error.error_text().is_some_and(|t| !t.is_empty()), "{error}");
            assert_eq!(closed.code, Some(1008), "{error}");
        }

        #[tokio::test]
        async fn garbage_before_join_is_refused() {
            let url = serve(ServerDocs::default()).await;
            let device = device();
            let mut conn = device
                .open_url(&url, device.peer_id.clone())
                .await
                .expect("upgrade");
            conn.send_raw(vec![0xff, 0x00]).await.expect("sent");
            let message = conn.next_message(LIMIT).await.expect("an answer");
            assert!(matches!(message, Some(Message::Error(_))), "{message:?}");
            let closed = conn.wait_closed(LIMIT).await.expect("closed");
            assert!(closed.error.is_some(), "{closed}");
            assert!(matches!(
                conn.next_message(LIMIT).await,
                Err(SyncError::Closed(_))
            ));
        }

        /// The upgrade refusal of a spent ticket. The signature is tungstenite's callback.
        #[allow(
            clippy::result_large_err,
            reason = "tungstenite's handshake callback type"
        )]
        fn refuse(_: &Request, _: Response) -> Result<Response, ErrorResponse> {
            let mut refusal = ErrorResponse::new(Some("ticket already used".to_owned()));
            *refusal.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
            Err(refusal)
        }

        #[tokio::test]
        async fn a_refused_upgrade_shows_its_status() {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!("ws://{}/", listener.local_addr().expect("address"));
            tokio::spawn(async move {
                if let Ok((stream, _)) = listener.accept().await {
                    let _ = tokio_tungstenite::accept_hdr_async(stream, refuse).await;
                }
            });
            let error = device()
                .open_url(&url, AUTHORIZED.into())
                .await
                .expect_err("refused");
            assert_eq!(error.status(), Some(401), "{error}");
        }
    }

    #[test]
    fn tickets_read_from_the_contract() {
        let body = json!({
            "ticket": "t",
            "peer_id": "device-1",
            "device_id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
            "expires_at": "2030-01-01T00:01:00+00:00",
            "url": "/api/v1/sync?ticket=t",
        });
        let ticket = Ticket::from_json(&body).expect("a well-formed ticket reads");
        assert_eq!(ticket.peer_id, PeerId::from("device-1"));
        assert_eq!(ticket.url, "/api/v1/sync?ticket=t");
        assert!(Ticket::from_json(&json!({"ticket": "t"})).is_err());
    }

    #[test]
    fn listed_documents_read_from_the_contract() {
        let id = DocumentId::from(Uuid::new_v4());
        let item = json!({
            "document_id": id.to_string(),
            "url": id.to_url(),
            "kind": "plan",
            "care_plan_id": Uuid::new_v4().to_string(),
            "operator_id": null,
            "access": "read_only",
        });
        let listed = ListedDocument::from_json(&item).expect("a well-formed entry reads");
        assert_eq!(listed.document_id, id);
        assert_eq!(listed.kind, DocumentKind::Plan);
        assert_eq!(listed.access, Access::ReadOnly);
        assert_eq!(listed.operator_id, None);
    }
}
