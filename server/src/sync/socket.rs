//! One sync connection over actix-ws: the transport around a
//! [`taccuino_sync::protocol::Connection`]. actix-ws's stream is not `Send`, so each
//! connection runs as a local task on its worker; everything it waits for (policy answers,
//! storage commits, other connections' changes, revocations) reaches it through one channel.
//!
//! The task executes the state machine's outputs in order. Policy checks and storage writes
//! run as separate tasks so that one connection's slow database round trip never blocks its
//! socket; documents are locked only for the synchronous automerge work.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use governor::{Quota, RateLimiter};
use taccuino_sync::protocol::{
    self, Access, Connection, ConnectionConfig, DocumentId, ErrorMessage, Event, Message, Output,
    PeerId,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::connections::{ConnectionEvent, ConnectionId};
use super::storage::{INCREMENTAL, NewChunk};
use super::{SyncService, policy};
use crate::db::accounts;
use crate::domain::roles::Caller;

/// Who is on the other end, as established by the ticket.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The user, as loaded when the ticket was redeemed.
    pub caller: Caller,
    /// The user's id.
    pub user_id: Uuid,
    /// The device the ticket was issued to.
    pub device_id: Uuid,
    /// The peer id the device must use.
    pub peer_id: PeerId,
}

/// How often the task wakes up for keepalive and the handshake timeout.
const TICK: Duration = Duration::from_secs(5);

/// Runs one connection until it closes.
pub async fn run(
    service: SyncService,
    peer: Peer,
    session: Session,
    mut stream: AggregatedMessageStream,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let id = service
        .connections
        .register(peer.user_id, peer.device_id, events_tx.clone());
    let limits = &service.config;
    let mut config = ConnectionConfig::new(
        service.server_peer_id.clone(),
        service.storage_id.clone(),
        peer.peer_id.clone(),
    );
    config.max_message_size = limits.max_message_bytes;
    let mut task = Task {
        id,
        service: service.clone(),
        peer,
        conn: Connection::new(config, Instant::now()),
        events: events_tx,
        plans: HashMap::new(),
        subscribed: HashSet::new(),
        session,
    };
    let budget = RateLimiter::direct(
        Quota::per_second(NonZeroU32::new(limits.messages_per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(
                NonZeroU32::new(limits.messages_per_second.saturating_mul(10))
                    .unwrap_or(NonZeroU32::MIN),
            ),
    );
    let mut ticker = tokio::time::interval(TICK);
    let mut last_heard = Instant::now();
    let mut last_ping = Instant::now();

    let close: Option<CloseReason> = loop {
        let outputs = tokio::select! {
            // Events first: a revocation or policy change queued before a client's frame is
            // applied before that frame is handled.
            biased;
            Some(event) = events.recv() => match task.event(event).await {
                Ok(outputs) => outputs,
                Err(close) => {
                    task.send_error(close).await;
                    break Some(reason(CloseCode::Policy, close));
                }
            },
            frame = stream.next() => match frame {
                Some(Ok(AggregatedMessage::Binary(bytes))) => {
                    last_heard = Instant::now();
                    if budget.check().is_err() {
                        task.send_error("too many messages, slow down").await;
                        break Some(reason(CloseCode::Policy, "too many messages"));
                    }
                    task.conn.handle(Event::Received(bytes.to_vec()))
                }
                Some(Ok(AggregatedMessage::Text(_))) => {
                    task.send_error("malformed message: text frame, expected binary CBOR").await;
                    break Some(reason(CloseCode::Unsupported, "binary frames only"));
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    last_heard = Instant::now();
                    if task.session.pong(&bytes).await.is_err() {
                        break None;
                    }
                    continue;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {
                    last_heard = Instant::now();
                    continue;
                }
                Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                Some(Err(e)) => {
                    // Oversized frames and broken framing end up here.
                    tracing::info!(device = %task.peer.device_id, error = %e, "sync connection: protocol error");
                    let too_big = matches!(e, actix_ws::ProtocolError::Overflow);
                    if too_big {
                        task.send_error("message too large").await;
                    }
                    break Some(reason(
                        if too_big { CloseCode::Size } else { CloseCode::Protocol },
                        if too_big { "message too large" } else { "malformed frame" },
                    ));
                }
            },
            _ = ticker.tick() => {
                let now = Instant::now();
                if now.duration_since(last_heard) > limits.keepalive * 2 {
                    break Some(reason(CloseCode::Away, "no answer to keepalive"));
                }
                if now.duration_since(last_ping) >= limits.keepalive {
                    last_ping = now;
                    if task.session.ping(b"").await.is_err() {
                        break None;
                    }
                }
                task.conn.handle(Event::Tick(now))
            }
        };
        if let Some(close) = task.execute(outputs).await {
            break close;
        }
    };
    task.finish();
    let _ = task.session.close(close).await;
}

fn reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

struct Task {
    id: ConnectionId,
    service: SyncService,
    peer: Peer,
    conn: Connection,
    events: mpsc::UnboundedSender<ConnectionEvent>,
    /// The plan of every document the client asked about that exists, to re-decide when the
    /// plan's authorizations change.
    plans: HashMap<DocumentId, Uuid>,
    subscribed: HashSet<DocumentId>,
    session: Session,
}

impl Task {
    /// Turns an event from elsewhere into state-machine outputs; `Err` closes with a reason.
    async fn event(&mut self, event: ConnectionEvent) -> Result<Vec<Output>, &'static str> {
        Ok(match event {
            ConnectionEvent::DocumentChanged(document_id) => self
                .conn
                .handle(Event::DocumentChangedElsewhere { document_id }),
            ConnectionEvent::AccessDecided {
                document_id,
                access,
                care_plan_id,
            } => {
                if let Some(plan) = care_plan_id {
                    self.plans.insert(document_id, plan);
                }
                self.conn.handle(Event::AccessDecided {
                    document_id,
                    access,
                })
            }
            ConnectionEvent::StoreFinished {
                document_id,
                token,
                stored,
            } => {
                if stored {
                    self.service.hub.appended(document_id, 1);
                    self.conn.handle(Event::Stored { document_id, token })
                } else {
                    self.conn
                        .handle(Event::StorageFailed { document_id, token })
                }
            }
            ConnectionEvent::PolicyChanged(plan) => {
                let caller = accounts::active_user_caller(&self.service.db, self.peer.user_id)
                    .await
                    .map_err(|_| "storage error, retry later")?
                    .ok_or("account disabled")?;
                self.peer.caller = caller;
                let documents: Vec<DocumentId> = self
                    .plans
                    .iter()
                    .filter(|(_, p)| plan.is_none_or(|plan| **p == plan))
                    .map(|(d, _)| *d)
                    .collect();
                // Decided here, not in a spawned task, so that no frame of this client is
                // handled under the old authority once the change is known.
                let db = &self.service.db;
                let mut entries = Vec::new();
                for document_id in documents {
                    if let Some(entry) = self
                        .service
                        .entries
                        .find(db, document_id)
                        .await
                        .map_err(|_| "storage error, retry later")?
                    {
                        entries.push(entry);
                    }
                }
                let decided = policy::decide_all(db, &self.peer.caller, &entries)
                    .await
                    .map_err(|_| "storage error, retry later")?;
                decided
                    .into_iter()
                    .flat_map(|(entry, access)| {
                        self.conn.handle(Event::AccessDecided {
                            document_id: entry.id,
                            access,
                        })
                    })
                    .collect()
            }
            ConnectionEvent::Close(why) => return Err(why),
        })
    }

    /// Carries out outputs in order; returns `Some` when the connection must close.
    async fn execute(&mut self, outputs: Vec<Output>) -> Option<Option<CloseReason>> {
        let mut queue = VecDeque::from(outputs);
        while let Some(output) = queue.pop_front() {
            match output {
                Output::Send(frame) => {
                    if self.session.binary(frame).await.is_err() {
                        return Some(None);
                    }
                }
                Output::CheckAccess { document_id } => self.check_access(document_id),
                Output::NeedDocument { document_id } => {
                    let more = match self.service.hub.open(document_id).await {
                        Ok(mut guard) => self.conn.with_document(document_id, guard.doc()),
                        Err(e) => {
                            tracing::error!(document = %document_id, error = %e, "loading a document failed");
                            self.send_error("storage error, retry later").await;
                            return Some(Some(reason(CloseCode::Error, "storage error")));
                        }
                    };
                    self.resubscribe();
                    for output in more.into_iter().rev() {
                        queue.push_front(output);
                    }
                }
                Output::Store {
                    document_id,
                    changes,
                    token,
                } => {
                    let committer = self.service.committer.clone();
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        let stored = committer
                            .store(NewChunk {
                                document_id: document_id.to_uuid(),
                                kind: INCREMENTAL,
                                data: changes,
                            })
                            .await
                            .is_ok();
                        let _ = events.send(ConnectionEvent::StoreFinished {
                            document_id,
                            token,
                            stored,
                        });
                    });
                }
                Output::DocumentChanged { document_id } => {
                    self.service.hub.changed(document_id, Some(self.id));
                }
                Output::ReadOnlyWriteIgnored { document_id } => {
                    tracing::warn!(device = %self.peer.device_id, document = %document_id, "changes to a read-only document ignored");
                }
                Output::Close { reason: why } => {
                    tracing::info!(device = %self.peer.device_id, reason = %why, "sync connection closed by the server");
                    let code = match why {
                        protocol::CloseReason::StorageFailed => CloseCode::Error,
                        protocol::CloseReason::PeerError => CloseCode::Normal,
                        _ => CloseCode::Policy,
                    };
                    return Some(Some(reason(code, &why.to_string())));
                }
            }
        }
        None
    }

    fn check_access(&self, document_id: DocumentId) {
        let db = self.service.db.clone();
        let entries = self.service.entries.clone();
        let caller = self.peer.caller;
        let events = self.events.clone();
        tokio::spawn(async move {
            let decided = match entries.find(&db, document_id).await {
                Ok(entry) => policy::decide(&db, &caller, entry)
                    .await
                    .map(|access| (access, entry.map(|e| e.care_plan_id))),
                Err(e) => Err(e),
            };
            let (access, care_plan_id) = match decided {
                Ok(decided) => decided,
                Err(e) => {
                    // Unknown beats wrong: the client may ask again on its next connection.
                    tracing::error!(document = %document_id, error = %e, "share policy failed");
                    (Access::Denied, None)
                }
            };
            let _ = events.send(ConnectionEvent::AccessDecided {
                document_id,
                access,
                care_plan_id,
            });
        });
    }

    /// Keeps the hub's subscriptions equal to the documents this connection syncs.
    fn resubscribe(&mut self) {
        let syncing: HashSet<DocumentId> = self.conn.syncing().copied().collect();
        for id in syncing.difference(&self.subscribed) {
            self.service
                .hub
                .subscribe(*id, self.id, self.events.clone());
        }
        let gone: Vec<DocumentId> = self.subscribed.difference(&syncing).copied().collect();
        self.service.hub.unsubscribe(gone, self.id);
        self.subscribed = syncing;
    }

    /// Tells the client why it is being disconnected (the `error` message), before the close.
    async fn send_error(&mut self, why: &str) {
        let frame = Message::Error(ErrorMessage {
            sender_id: self.service.server_peer_id.clone(),
            target_id: self.peer.peer_id.clone(),
            message: why.to_owned(),
        })
        .encode();
        let _ = self.session.binary(frame).await;
    }

    fn finish(&mut self) {
        self.service
            .hub
            .unsubscribe(self.subscribed.drain(), self.id);
        self.service.connections.unregister(self.id);
    }
}
