//! One simulated device reconnecting: WebSocket connect, `join` / `peer`, then automerge sync
//! messages for its diary until the server's sync state shows it has all of the device's
//! changes (the heads the server last announced equal the device's heads). Every frame is
//! encoded and decoded by `taccuino_sync::protocol::Message`, so the generator exercises our
//! wire code against whichever server it talks to.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use futures_util::{SinkExt, StreamExt};
use taccuino_sync::protocol::{
    DocumentId, Join, Message, PROTOCOL_V1, PeerId, PeerMetadata, SyncMessage,
};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::workload::DeviceDoc;

/// The largest frame the generator accepts from a server (the protocol's default limit).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Which message type carries the device's first sync message. The stock client sends `sync`
/// for a document it has (a device with offline records has its diary) and `request` only for
/// a document it has nothing of; see docs/sync-protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirstMessage {
    /// `sync`, as the stock client does for a document it holds.
    Sync,
    /// `request`, as the stock client does for a document it does not hold.
    Request,
}

/// What one device measured.
#[derive(Debug, Clone)]
pub struct DeviceOutcome {
    /// From the start of the TCP connect to "fully synced".
    pub elapsed: Duration,
    /// From the start of the TCP connect to the server's `peer`.
    pub joined_after: Duration,
    /// Sync messages the device sent (the first included).
    pub sync_sent: u32,
    /// Sync messages the device received.
    pub sync_received: u32,
    /// Bytes of WebSocket payload sent and received.
    pub bytes_sent: u64,
    /// See `bytes_sent`.
    pub bytes_received: u64,
    /// The document's id and heads once synced (for the storage check).
    pub document_id: DocumentId,
    /// See `document_id`.
    pub heads: Vec<ChangeHash>,
    /// Records the document holds.
    pub records: usize,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Session {
    ws: Ws,
    me: PeerId,
    server: Option<PeerId>,
    bytes_sent: u64,
    bytes_received: u64,
}

impl Session {
    async fn send(&mut self, msg: &Message) -> anyhow::Result<()> {
        let frame = msg.encode();
        self.bytes_sent += frame.len() as u64;
        self.ws
            .send(WsMessage::Binary(frame.into()))
            .await
            .context("sending a frame")
    }

    /// The next protocol message, skipping control frames. `Ok(None)` when the server closed.
    async fn next(&mut self) -> anyhow::Result<Option<Message>> {
        loop {
            let Some(frame) = self.ws.next().await else {
                return Ok(None);
            };
            match frame.context("reading a frame")? {
                WsMessage::Binary(data) => {
                    self.bytes_received += data.len() as u64;
                    let msg = Message::decode(&data, MAX_FRAME)
                        .map_err(|e| anyhow!("undecodable frame from the server: {e}"))?;
                    return Ok(Some(msg));
                }
                WsMessage::Close(_) => return Ok(None),
                WsMessage::Text(_) => bail!("the server sent a text frame"),
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
            }
        }
    }

    /// Sends a close frame and waits (at most 2 s) for the server's, so the server sees a
    /// clean close handshake rather than the connection dropping. It does not wait for the
    /// server to end the TCP connection too (actix does that about a second later).
    async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            if self.ws.close(None).await.is_ok() {
                while let Some(Ok(frame)) = self.ws.next().await {
                    if frame.is_close() {
                        break;
                    }
                }
            }
        })
        .await;
    }

    fn sync_message(&self, document_id: DocumentId, data: Vec<u8>) -> anyhow::Result<SyncMessage> {
        Ok(SyncMessage {
            sender_id: self.me.clone(),
            target_id: self.server.clone().context("no server peer yet")?,
            document_id,
            data,
        })
    }
}

fn synced(state: &sync::State, doc: &mut AutoCommit) -> bool {
    let Some(theirs) = &state.their_heads else {
        return false;
    };
    let mut theirs = theirs.clone();
    let mut ours = doc.get_heads();
    theirs.sort_unstable();
    ours.sort_unstable();
    theirs == ours
}

/// Who a device is on the wire and where it connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The WebSocket URL (with its `?ticket=` for our server).
    pub url: String,
    /// The peer id the device announces in `join` (our server: the one on the ticket).
    pub peer_id: PeerId,
    /// The storage id announced in `join`, if the device has storage.
    pub storage_id: Option<String>,
}

impl Endpoint {
    /// A device with a fresh random peer id and no storage id, for a server that accepts any
    /// peer (the reference server).
    pub fn anonymous(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            peer_id: PeerId::from(format!("bench-{}", uuid::Uuid::new_v4())),
            storage_id: None,
        }
    }
}

/// Connects to `endpoint`, syncs `dev`'s diary starting from sync state `state` (fresh, or
/// the one the device kept from its last connection) and reports as soon as the server holds
/// all of its changes (through `done`, before returning), then stays connected, answering
/// the server, until `release` turns true, and closes. Everything before "synced" must
/// finish by `deadline`; the wait for `release` is bounded by `hold_deadline`.
#[allow(clippy::too_many_arguments)]
pub async fn run_device(
    endpoint: Endpoint,
    dev: DeviceDoc,
    mut state: sync::State,
    first: FirstMessage,
    deadline: Instant,
    hold_deadline: Instant,
    mut release: watch::Receiver<bool>,
    done: tokio::sync::mpsc::UnboundedSender<anyhow::Result<DeviceOutcome>>,
) {
    let DeviceDoc {
        document_id,
        mut doc,
        records,
    } = dev;
    let start = Instant::now();
    let result = timeout_at(
        deadline,
        sync_phase(&endpoint, document_id, &mut doc, &mut state, first, start),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow!("timed out before being fully synced")));
    let mut session = match result {
        Ok((session, mut outcome)) => {
            outcome.records = records;
            let _ = done.send(Ok(outcome));
            session
        }
        Err(e) => {
            let _ = done.send(Err(e));
            return;
        }
    };
    // Stay online like a real device until every device is done, so the server carries all
    // connections at once; answer whatever it still says about the document.
    let _ = timeout_at(hold_deadline, async {
        loop {
            tokio::select! {
                changed = release.changed() => {
                    if changed.is_err() || *release.borrow() {
                        break;
                    }
                }
                msg = session.next() => {
                    let Ok(Some(msg)) = msg else { break };
                    if let Message::Sync(m) | Message::Request(m) = msg
                        && m.document_id == document_id
                        && let Ok(sm) = sync::Message::decode(&m.data)
                        && doc.sync().receive_sync_message(&mut state, sm).is_ok()
                        && let Some(reply) = doc.sync().generate_sync_message(&mut state)
                        && let Ok(body) = session.sync_message(document_id, reply.encode())
                        && session.send(&Message::Sync(body)).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    session.close().await;
}

/// Fetches document `document_id` into an empty local copy the way the stock client first
/// gets a document it does not hold: `join`, then `request`, then sync messages until it has
/// the server's heads. Returns the document and the sync state (for the next connection) and
/// closes the connection. Fails after `deadline`.
pub async fn fetch(
    endpoint: &Endpoint,
    document_id: DocumentId,
    deadline: Instant,
) -> anyhow::Result<(AutoCommit, sync::State)> {
    let mut doc = AutoCommit::new_with_encoding(taccuino_sync::schema::TEXT_ENCODING);
    let mut state = sync::State::new();
    let (mut session, _) = timeout_at(
        deadline,
        sync_phase(
            endpoint,
            document_id,
            &mut doc,
            &mut state,
            FirstMessage::Request,
            Instant::now(),
        ),
    )
    .await
    .map_err(|_| anyhow!("timed out fetching the document"))??;
    if doc.get_heads().is_empty() {
        bail!("the server sent an empty document");
    }
    session.close().await;
    Ok((doc, state))
}

async fn sync_phase(
    endpoint: &Endpoint,
    document_id: DocumentId,
    doc: &mut AutoCommit,
    state: &mut sync::State,
    first: FirstMessage,
    start: Instant,
) -> anyhow::Result<(Session, DeviceOutcome)> {
    let (ws, _response) = connect_async(endpoint.url.as_str())
        .await
        .context("WebSocket connect")?;
    let mut s = Session {
        ws,
        me: endpoint.peer_id.clone(),
        server: None,
        bytes_sent: 0,
        bytes_received: 0,
    };
    s.send(&Message::Join(Join {
        sender_id: s.me.clone(),
        peer_metadata: PeerMetadata {
            storage_id: endpoint.storage_id.clone(),
            is_ephemeral: Some(false),
        },
        supported_protocol_versions: Some(vec![PROTOCOL_V1.to_owned()]),
    }))
    .await?;
    match s.next().await? {
        None => bail!("the server closed the connection before `peer`"),
        Some(Message::Peer(peer)) => {
            if peer.target_id != s.me {
                bail!("`peer` addressed to {}, not to us", peer.target_id);
            }
            if peer.selected_protocol_version != PROTOCOL_V1 {
                bail!(
                    "the server chose protocol {:?}",
                    peer.selected_protocol_version
                );
            }
            s.server = Some(peer.sender_id);
        }
        Some(Message::Error(e)) => bail!("the server sent error: {}", e.message),
        Some(other) => bail!("expected `peer`, got `{}`", other.type_name()),
    }
    let joined_after = start.elapsed();

    let first_data = doc
        .sync()
        .generate_sync_message(state)
        .context("automerge had no first sync message")?
        .encode();
    let body = s.sync_message(document_id, first_data)?;
    s.send(&match first {
        FirstMessage::Sync => Message::Sync(body),
        FirstMessage::Request => Message::Request(body),
    })
    .await?;
    let mut sync_sent = 1u32;
    let mut sync_received = 0u32;

    loop {
        let msg = s
            .next()
            .await?
            .context("the server closed the connection before the device was synced")?;
        match msg {
            Message::Sync(m) | Message::Request(m) if m.document_id == document_id => {
                sync_received += 1;
                let sm = sync::Message::decode(&m.data)
                    .map_err(|e| anyhow!("undecodable automerge sync message: {e}"))?;
                doc.sync()
                    .receive_sync_message(state, sm)
                    .context("applying the server's sync message")?;
                if synced(state, doc) {
                    let outcome = DeviceOutcome {
                        elapsed: start.elapsed(),
                        joined_after,
                        sync_sent,
                        sync_received,
                        bytes_sent: s.bytes_sent,
                        bytes_received: s.bytes_received,
                        document_id,
                        heads: doc.get_heads(),
                        records: 0,
                    };
                    return Ok((s, outcome));
                }
                if let Some(reply) = doc.sync().generate_sync_message(state) {
                    let body = s.sync_message(document_id, reply.encode())?;
                    s.send(&Message::Sync(body)).await?;
                    sync_sent += 1;
                }
            }
            Message::DocUnavailable(m) if m.document_id == document_id => {
                bail!("the server answered doc-unavailable")
            }
            Message::Error(e) => bail!("the server sent error: {}", e.message),
            // Other documents, ephemeral data, heads gossip: not ours to answer.
            _ => {}
        }
    }
}
