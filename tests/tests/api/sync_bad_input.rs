//! The sync endpoint under bad input: broken frames, forged sync messages, oversized frames,
//! floods, documents that are not the caller's, bad tickets and bad joins. Each story checks
//! what the misbehaving client sees (an `error` and a close, `doc-unavailable`, an HTTP
//! refusal), that nothing it sent was stored, and that a well-behaved device of the same
//! operator, connected all along, still syncs a new record afterwards: one bad client never
//! takes the others down.

use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use chrono::Utc;
use serde_json::json;
use taccuino_sync::DocumentKind;
use taccuino_sync::protocol::{DocumentId, Ephemeral, Message, PeerId};
use taccuino_tests::device::{Connection, Device, ServerClosed, my_documents};
use taccuino_tests::sync_fixtures::{operator_diary, sad, visit};
use taccuino_tests::{Session, TestApp, demo, story};
use tokio::time::{Instant, sleep};
use uuid::Uuid;

/// How long one exchange may take on a busy 2-core machine running other tests.
const LIMIT: Duration = Duration::from_secs(20);

/// How long the projection may take to show a synced record in `service_records` (it promises
/// about a second).
const PROJECTION: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Broken and forged frames
// ---------------------------------------------------------------------------------------------

story!(
    a_broken_frame_gets_an_error_and_a_close_and_the_server_stays_up,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;
        let phone = Device::register(&operator, "Telefono guasto").await;
        let mut conn = phone.online(&app, &operator).await;

        // A CBOR map that promises five entries and stops inside the first key.
        conn.send_raw(vec![0xb9, 0x00, 0x05, 0x64, b't', b'y'])
            .await
            .expect("the frame goes out");

        // The server says why before it closes, so the app can log something useful.
        let answer = conn
            .next_message(LIMIT)
            .await
            .expect("an answer, not a drop");
        let Some(Message::Error(error)) = answer else {
            panic!("expected `error`, got {answer:?}");
        };
        assert!(error.message.starts_with("malformed message"), "{error:?}");
        let closed = closed_by_server(&mut conn).await;
        assert_eq!(closed.code, Some(1008), "a policy close: {closed}");

        // Nothing crashed: a device connecting now syncs as usual.
        let newcomer = Device::register(&operator, "Telefono nuovo").await;
        let mut fresh = newcomer.online(&app, &operator).await;
        let report = fresh
            .sync(&[diary], LIMIT)
            .await
            .expect("a fresh device syncs");
        assert!(report.is_synced(diary), "{report:?}");
        bystander.still_syncs(&operator).await;
    }
);

story!(
    sync_data_that_is_not_an_automerge_message_is_refused_and_nothing_stored,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;
        let stored_before = stored_chunks(&app).await;

        let phone = Device::register(&operator, "Telefono").await;
        let mut conn = phone.online(&app, &operator).await;
        let body = conn.sync_body(diary, b"not an automerge sync message".to_vec());
        conn.send(&Message::Sync(body))
            .await
            .expect("the frame goes out");

        let closed = closed_by_server(&mut conn).await;
        assert_eq!(
            closed.error.as_deref(),
            Some("invalid automerge sync message"),
            "{closed}"
        );
        assert_eq!(
            stored_chunks(&app).await,
            stored_before,
            "nothing was stored"
        );
        bystander.still_syncs(&operator).await;
    }
);

story!(
    a_sync_message_carrying_corrupt_changes_is_refused_and_nothing_stored,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let service_type = sad(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        let phone = Device::register(&operator, "Telefono").await;
        let mut conn = phone.online(&app, &operator).await;
        let report = conn.sync(&[diary], LIMIT).await.expect("the first sync");
        assert!(report.is_synced(diary), "{report:?}");
        let stored_before = stored_chunks(&app).await;

        // A well-formed automerge sync message whose change is cut off halfway: the kind of
        // damage a buggy client or a bad disk produces.
        phone
            .record(diary, Uuid::new_v4(), &visit(service_type, 1))
            .expect("a valid visit");
        let forged = {
            let mut doc = phone.doc_mut(diary);
            let change = doc
                .get_last_local_change()
                .expect("the visit was committed")
                .raw_bytes()
                .to_vec();
            let mut message = doc
                .sync()
                .generate_sync_message(&mut sync::State::new())
                .expect("a fresh sync state always speaks");
            message.changes = vec![change[..change.len() / 2].to_vec()].into();
            message.encode()
        };
        conn.send(&Message::Sync(conn.sync_body(diary, forged)))
            .await
            .expect("the frame goes out");

        let closed = closed_by_server(&mut conn).await;
        assert_eq!(
            closed.error.as_deref(),
            Some("invalid automerge changes"),
            "{closed}"
        );
        assert_eq!(
            stored_chunks(&app).await,
            stored_before,
            "the corrupt change was not stored"
        );
        // The diary as any device gets it is unharmed and does not hold the visit.
        let check = Device::register(&operator, "Controllo").await;
        let mut fresh = check.online(&app, &operator).await;
        let report = fresh
            .sync(&[diary], LIMIT)
            .await
            .expect("the diary still loads");
        assert!(report.is_synced(diary), "{report:?}");
        assert_eq!(
            check.diary(diary).records.len(),
            phone.diary(diary).records.len() - 1,
            "only the forged visit is missing"
        );
        bystander.still_syncs(&operator).await;
    }
);

story!(
    a_frame_over_the_size_limit_closes_with_1009,
    env = [("TACCUINO_SYNC_MAX_MESSAGE_BYTES", "65536")],
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;
        let stored_before = stored_chunks(&app).await;

        let phone = Device::register(&operator, "Telefono").await;
        let mut conn = phone.online(&app, &operator).await;
        conn.send_raw(vec![0x42; 100 * 1024])
            .await
            .expect("the frame goes out");

        let closed = closed_by_server(&mut conn).await;
        assert_eq!(closed.code, Some(1009), "`message too big`: {closed}");
        assert_eq!(
            closed.error.as_deref(),
            Some("message too large"),
            "{closed}"
        );
        assert_eq!(stored_chunks(&app).await, stored_before);
        bystander.still_syncs(&operator).await;
    }
);

story!(
    a_flood_of_messages_closes_only_the_flooding_connection,
    // 5 messages a second, bursts of 50.
    env = [("TACCUINO_SYNC_MESSAGES_PER_SECOND", "5")],
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        // 200 presence updates as fast as the socket takes them: harmless one by one (the
        // server drops presence), but four times the burst allowed.
        let phone = Device::register(&operator, "Telefono impazzito").await;
        let mut conn = phone.online(&app, &operator).await;
        let server = server_peer(&conn);
        for count in 0..200 {
            let presence = Message::Ephemeral(Ephemeral {
                sender_id: conn.peer_id().clone(),
                target_id: server.clone(),
                document_id: diary,
                session_id: "cursor".to_owned(),
                count,
                data: vec![0xa0],
            });
            // Once the server has closed, sending fails: the flood is over.
            if conn.send(&presence).await.is_err() {
                break;
            }
        }

        let closed = closed_by_server(&mut conn).await;
        assert!(
            closed
                .error
                .as_deref()
                .is_some_and(|e| e.contains("too many messages")),
            "{closed}"
        );
        assert_eq!(closed.code, Some(1008), "{closed}");
        bystander.still_syncs(&operator).await;
    }
);

// ---------------------------------------------------------------------------------------------
// Documents that are not the caller's
// ---------------------------------------------------------------------------------------------

story!(
    unknown_and_foreign_documents_get_the_same_answer_and_the_connection_stays_usable,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;
        // A diary of another provider's operator, which Il Girasole's operator may not see.
        let other = app.login(demo::ARCOBALENO_OPERATOR).await;
        let foreign = my_documents(&other)
            .await
            .into_iter()
            .find(|d| d.kind == DocumentKind::Diary)
            .expect("the Arcobaleno operator has a diary")
            .document_id;
        assert!(
            my_documents(&operator)
                .await
                .iter()
                .all(|d| d.document_id != foreign),
            "the story needs a diary Il Girasole's operator is not listed for"
        );
        let unknown = DocumentId::from(Uuid::new_v4());

        let phone = Device::register(&operator, "Telefono curioso").await;
        let mut conn = phone.online(&app, &operator).await;
        let mut answers = Vec::new();
        for document in [unknown, foreign] {
            let request = Message::Request(conn.sync_body(document, hello()));
            conn.send(&request).await.expect("the request goes out");
            let answer = conn.next_message(LIMIT).await.expect("an answer");
            let Some(Message::DocUnavailable(unavailable)) = answer else {
                panic!("expected `doc-unavailable` for {document}, got {answer:?}");
            };
            assert_eq!(unavailable.document_id, document);
            answers.push(unavailable);
        }
        // Nothing tells a document that exists from one that does not: same sender, same
        // target, only the document id differs.
        assert_eq!(
            (&answers[0].sender_id, &answers[0].target_id),
            (&answers[1].sender_id, &answers[1].target_id)
        );

        // The same through the device's own sync loop, and the connection goes on serving the
        // documents the operator does have.
        let report = conn
            .sync(&[unknown, foreign, diary], LIMIT)
            .await
            .expect("the connection is still open");
        assert!(report.is_unavailable(unknown), "{report:?}");
        assert!(report.is_unavailable(foreign), "{report:?}");
        assert!(report.is_synced(diary), "{report:?}");
        assert!(!phone.has_doc(foreign) && !phone.has_doc(unknown));
        bystander.still_syncs(&operator).await;
    }
);

// ---------------------------------------------------------------------------------------------
// Tickets and joins
// ---------------------------------------------------------------------------------------------

story!(
    an_expired_ticket_is_refused_with_401,
    env = [("TACCUINO_SYNC_TICKET_TTL_SECONDS", "1")],
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        // The phone got a ticket, then the user put it away for longer than the ticket lives.
        let phone = Device::register(&operator, "Telefono").await;
        let ticket = phone.ticket(&operator).await;
        let expired = ticket.expires_at + chrono::Duration::milliseconds(500);
        let wait = (expired - Utc::now()).to_std().unwrap_or_default();
        // A sleep, not a poll: the story is about time passing.
        sleep(wait).await;

        let refused = phone
            .connect(&app, ticket.clone())
            .await
            .expect_err("an expired ticket opens nothing");
        assert_eq!(refused.status(), Some(401), "{refused}");
        expect_refused_upgrade(&app, &ticket.url).await;
        bystander.still_syncs(&operator).await;
    }
);

story!(a_ticket_opens_one_connection_only, |app| async move {
    let operator = app.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let bystander = Bystander::connect(&app, &operator, diary).await;

    let phone = Device::register(&operator, "Telefono").await;
    let ticket = phone.ticket(&operator).await;
    let first = phone
        .connect(&app, ticket.clone())
        .await
        .expect("the first use of a ticket connects");
    let refused = phone
        .connect(&app, ticket.clone())
        .await
        .expect_err("the second use of the ticket is refused");
    assert_eq!(refused.status(), Some(401), "{refused}");
    expect_refused_upgrade(&app, &ticket.url).await;
    first.close().await;
    bystander.still_syncs(&operator).await;
});

story!(
    a_join_with_another_peer_id_than_the_ticket_is_refused,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        // The phone holds a ticket, and claims to be the operator's other device: a ticket is
        // for one device, not for any device of its user.
        let phone = Device::register(&operator, "Telefono").await;
        let ticket = phone.ticket(&operator).await;
        let mut conn = phone.open(&app, ticket.clone()).await.expect("the upgrade");
        let mut join = phone.join_message(&ticket);
        join.sender_id = bystander.device.peer_id.clone();
        let refused = conn
            .join(join, LIMIT)
            .await
            .expect_err("a join under another peer id is refused");
        assert_eq!(
            refused.error_text(),
            Some("peer id does not match the ticket"),
            "{refused}"
        );
        assert!(conn.closed().is_some(), "the server closed the connection");
        bystander.still_syncs(&operator).await;
    }
);

story!(a_text_frame_closes_the_connection, |app| async move {
    let operator = app.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let bystander = Bystander::connect(&app, &operator, diary).await;

    let phone = Device::register(&operator, "Telefono").await;
    let mut conn = phone.online(&app, &operator).await;
    conn.send_text(r#"{"type":"sync"}"#.to_owned())
        .await
        .expect("the frame goes out");

    // The protocol is binary CBOR only: a JSON text frame is a client from another protocol.
    let closed = closed_by_server(&mut conn).await;
    assert!(
        closed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("text frame")),
        "{closed}"
    );
    assert_eq!(closed.code, Some(1003), "`unsupported data`: {closed}");
    bystander.still_syncs(&operator).await;
});

story!(a_social_worker_gets_no_sync_ticket, |app| async move {
    let operator = app.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let bystander = Bystander::connect(&app, &operator, diary).await;

    // Social workers work from the office application; they have no diary to sync.
    let worker = app.login(demo::SOCIAL_WORKER).await;
    Device::request_ticket(&worker, None, Some("Portatile"))
        .await
        .expect_problem(403, "forbidden");
    bystander.still_syncs(&operator).await;
});

story!(
    a_ticket_for_someone_elses_device_is_refused_naming_device_id,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        let other = app.login(demo::ARCOBALENO_OPERATOR).await;
        let theirs = Device::register(&other, "Telefono Arcobaleno").await;
        // Asking for a ticket for their device (and so for its peer id) tells nothing about
        // it: the id is simply not one of the operator's devices.
        Device::request_ticket(&operator, Some(theirs.device_id), None)
            .await
            .expect_invalid("device_id");
        Device::request_ticket(&operator, Some(Uuid::new_v4()), None)
            .await
            .expect_invalid("device_id");
        bystander.still_syncs(&operator).await;
    }
);

story!(
    a_revoked_device_is_disconnected_and_gets_no_more_tickets,
    |app| async move {
        let operator = app.login(demo::OPERATOR).await;
        let diary = operator_diary(&operator).await;
        let bystander = Bystander::connect(&app, &operator, diary).await;

        // The phone is lost while connected, with a ticket for later in its storage.
        let lost = Device::register(&operator, "Telefono perso").await;
        let mut conn = lost.online(&app, &operator).await;
        let report = conn
            .sync(&[diary], LIMIT)
            .await
            .expect("the lost phone syncs");
        assert!(report.is_synced(diary), "{report:?}");
        let spare = lost.ticket(&operator).await;

        operator
            .post(&format!("/devices/{}/revoke", lost.device_id), json!({}))
            .await
            .expect(200);

        let closed = closed_by_server(&mut conn).await;
        assert_eq!(closed.error.as_deref(), Some("device revoked"), "{closed}");
        let refused = lost
            .connect(&app, spare)
            .await
            .expect_err("a ticket issued before the revocation opens nothing");
        assert_eq!(refused.status(), Some(401), "{refused}");
        Device::request_ticket(&operator, Some(lost.device_id), None)
            .await
            .expect_problem(409, "device-revoked");
        // The operator's other device is not touched by revoking the lost one.
        bystander.still_syncs(&operator).await;
    }
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A well-behaved device of the same operator, connected and synced before the abuse starts,
/// that must still sync afterwards.
struct Bystander {
    device: Device,
    conn: Connection,
    diary: DocumentId,
}

impl Bystander {
    async fn connect(app: &TestApp, operator: &Session, diary: DocumentId) -> Self {
        let device = Device::register(operator, "Tablet di servizio").await;
        let mut conn = device.online(app, operator).await;
        let report = conn
            .sync(&[diary], LIMIT)
            .await
            .expect("the bystander syncs before the abuse");
        assert!(report.is_synced(diary), "{report:?}");
        Self {
            device,
            conn,
            diary,
        }
    }

    /// Records a visit on the connection it kept open all along and syncs it: the server
    /// acknowledges it (same heads) and the office sees it in `service_records`.
    async fn still_syncs(mut self, operator: &Session) {
        let record_id = Uuid::new_v4();
        self.device
            .record(self.diary, record_id, &visit(sad(operator).await, 2))
            .expect("a valid visit");
        let report = self
            .conn
            .sync(&[self.diary], LIMIT)
            .await
            .unwrap_or_else(|e| panic!("the bystander's connection suffered: {e}"));
        assert!(report.is_synced(self.diary), "{report:?}");
        let path = format!("/service-records/{record_id}");
        let deadline = Instant::now() + PROJECTION;
        loop {
            let reply = operator.get(&path).await;
            if reply.status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the bystander's visit never reached service_records: {reply}"
            );
            sleep(Duration::from_millis(50)).await;
        }
        self.conn.close().await;
    }
}

/// The first message of a device that holds nothing of a document (what `request` carries).
fn hello() -> Vec<u8> {
    automerge::AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .expect("a fresh sync state always speaks")
        .encode()
}

/// The server's peer id on a joined connection.
fn server_peer(conn: &Connection) -> PeerId {
    conn.server_peer()
        .expect("the connection has joined")
        .sender_id
        .clone()
}

/// Waits for the server to close `conn`; panics if it keeps it open.
async fn closed_by_server(conn: &mut Connection) -> ServerClosed {
    conn.wait_closed(LIMIT)
        .await
        .unwrap_or_else(|| panic!("the server kept the connection open for {LIMIT:?}"))
}

/// Rows in `sync_chunks`: every change any device ever had stored.
async fn stored_chunks(app: &TestApp) -> u64 {
    let rows = app
        .strings("SELECT CAST(COUNT(*) AS TEXT) FROM sync_chunks")
        .await;
    rows.first()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("COUNT(*) of sync_chunks is a number: {rows:?}"))
}

/// A WebSocket upgrade request with a refused ticket answers 401 with an RFC 9457 problem, as
/// every other authentication failure of the API (a browser shows nothing of it, but logs and
/// proxies do).
async fn expect_refused_upgrade(app: &TestApp, url: &str) {
    let reply = app
        .call(reqwest::Method::GET, &format!("{}{url}", app.address))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await;
    reply.expect_problem(401, "unauthorized");
}
