//! Durability of sync across a crash (issue 5): the server runs as a separate process and is
//! killed with SIGKILL, the way a power cut or the OOM killer stops it, then started again on
//! the same database.
//!
//! - What the server acknowledged (announced heads that include a device's change) survives
//!   the crash, in the document and in `service_records`.
//! - An upload cut by the crash, before the device saw any acknowledgement, arrives exactly
//!   once when the device retries: nothing lost, nothing stored twice.

use std::collections::HashSet;
use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use taccuino_server::db::entities::sync_chunk;
use taccuino_sync::protocol::{DocumentId, Message};
use taccuino_tests::device::{Connection, Device};
use taccuino_tests::process::ServerProcess;
use taccuino_tests::sync_fixtures::{operator_diary, sad, visit};
use taccuino_tests::{Backend, Session, TestApp, demo};
use tokio::time::{Instant, sleep};
use uuid::Uuid;

/// How long one sync may take on a busy 2-core machine (300 records in a debug build).
const LIMIT: Duration = Duration::from_secs(60);

/// How many records the phone collects offline before the interrupted upload.
const OFFLINE_RECORDS: usize = 300;

/// Runs a crash story on SQLite and on PostgreSQL, each with its own server process.
macro_rules! crash_story {
    ($name:ident) => {
        mod $name {
            use super::Backend;

            #[tokio::test]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(Backend::Postgres).await;
            }
        }
    };
}

crash_story!(an_acknowledged_record_survives_a_crash);
crash_story!(an_upload_cut_by_a_crash_arrives_exactly_once);
crash_story!(an_upload_stored_but_not_acknowledged_arrives_exactly_once);
crash_story!(tickets_and_tokens_never_reach_the_log);

/// A device writes a visit and syncs until the server announces heads equal to its own: the
/// server acknowledged it. The server is killed at once. After the restart the visit is in the
/// diary a new device downloads, and in the register within a second.
async fn an_acknowledged_record_survives_a_crash(backend: Backend) {
    let mut server = ServerProcess::start(backend, &[]).await;
    let operator = server.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let record_id = Uuid::new_v4();
    let fields = visit(sad(&operator).await, 1);

    let phone = Device::register(&operator, "Telefono di servizio").await;
    let mut conn = phone.online(&server, &operator).await;
    let first = conn.sync(&[diary], LIMIT).await.expect("the first sync");
    assert!(first.is_synced(diary), "{first:?}");
    phone
        .record(diary, record_id, &fields)
        .expect("a valid visit");
    let report = conn.sync(&[diary], LIMIT).await.expect("the upload");
    // `Synced` means the server announced heads equal to the phone's, visit included: from
    // here on, the phone may forget that the visit still needs uploading.
    assert!(report.is_synced(diary), "{report:?}");

    server.kill();
    drop(conn);
    server.restart().await;
    let restarted = Instant::now();

    // The visit is in the diary a new device downloads...
    let operator = server.login(demo::OPERATOR).await;
    let tablet = Device::register(&operator, "Tablet").await;
    let mut conn = tablet.online(&server, &operator).await;
    let report = conn
        .sync(&[diary], LIMIT)
        .await
        .expect("a new device syncs");
    assert!(report.is_synced(diary), "{report:?}");
    let synced = tablet.diary(diary);
    let record = synced
        .records
        .iter()
        .find(|r| r.id == record_id)
        .unwrap_or_else(|| panic!("the acknowledged visit {record_id} was lost in the crash"));
    assert_eq!(record.fields, fields, "the visit arrived as written");
    conn.close().await;

    // ...and in the register, within a second or so of the restart, without any device
    // having to sync again.
    let deadline = restarted + Duration::from_secs(3);
    let row = poll_record(&operator, record_id, deadline).await;
    assert!(
        row.is_some(),
        "the acknowledged visit {record_id} is not in service_records {:?} after the restart",
        restarted.elapsed(),
    );
}

/// A phone that was offline for weeks sends its 300 visits; the server dies right after the
/// upload frame left the phone, before any acknowledgement. The phone retries with a new
/// ticket: every visit arrives, once.
async fn an_upload_cut_by_a_crash_arrives_exactly_once(backend: Backend) {
    interrupted_upload(backend, Interruption::RightAfterSending).await;
}

/// As above, but the server dies after it stored the upload and before the phone read the
/// acknowledgement: the retry must not store the visits a second time, and the register must
/// still get them.
async fn an_upload_stored_but_not_acknowledged_arrives_exactly_once(backend: Backend) {
    interrupted_upload(backend, Interruption::AfterStoring).await;
}

/// When the server dies during the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    /// As soon as the frame carrying the changes is sent: usually before the server stored
    /// anything.
    RightAfterSending,
    /// Once the changes are in the database, before the phone reads any answer.
    AfterStoring,
}

async fn interrupted_upload(backend: Backend, interruption: Interruption) {
    let mut server = ServerProcess::start(backend, &[]).await;
    let operator = server.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let service_type = sad(&operator).await;
    let register_before = register_ids(&operator).await;

    // The phone syncs once, then collects visits offline.
    let phone = Device::register(&operator, "Telefono di servizio").await;
    let mut conn = phone.online(&server, &operator).await;
    let first = conn.sync(&[diary], LIMIT).await.expect("the first sync");
    assert!(first.is_synced(diary), "{first:?}");
    conn.close().await;
    let records_before = phone.diary(diary).records.len();
    let written: Vec<Uuid> = (0..OFFLINE_RECORDS)
        .map(|i| {
            let id = Uuid::new_v4();
            let days_ago = 1 + (i % 60) as u64;
            phone
                .record(diary, id, &visit(service_type, days_ago))
                .expect("a valid visit");
            id
        })
        .collect();
    let chunks_before = stored_chunks(&server, diary).await;

    // Back online: the upload starts, and the server dies under it.
    let mut conn = phone.online(&server, &operator).await;
    upload_without_waiting(&phone, &mut conn, diary).await;
    if interruption == Interruption::AfterStoring {
        wait_for_chunks(&server, diary, chunks_before + 1).await;
    }
    server.kill();
    drop(conn);
    server.restart().await;

    // The phone retries as it always does: a new ticket, a new connection, a plain sync.
    let operator = server.login(demo::OPERATOR).await;
    let mut conn = phone.online(&server, &operator).await;
    let report = conn.sync(&[diary], LIMIT).await.expect("the retry");
    assert!(report.is_synced(diary), "{report:?}");
    conn.close().await;

    // A new device downloads the diary: every visit, with its own id.
    let tablet = Device::register(&operator, "Tablet").await;
    let mut conn = tablet.online(&server, &operator).await;
    let report = conn
        .sync(&[diary], LIMIT)
        .await
        .expect("a new device syncs");
    assert!(report.is_synced(diary), "{report:?}");
    conn.close().await;
    let downloaded = tablet.diary(diary);
    assert_eq!(
        downloaded.records.len(),
        records_before + OFFLINE_RECORDS,
        "the diary holds what it held plus the offline visits"
    );
    let ids: HashSet<Uuid> = downloaded.records.iter().map(|r| r.id).collect();
    let missing = written.iter().filter(|id| !ids.contains(id)).count();
    assert_eq!(missing, 0, "offline visits lost in the crash");

    // Storage took the upload once: whichever side of the crash stored it, the other wrote
    // nothing (the server stores only chunks the document lacks).
    assert_eq!(
        stored_chunks(&server, diary).await,
        chunks_before + 1,
        "the upload is stored exactly once"
    );

    // The register gets every visit, once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let register = loop {
        let register = register_ids(&operator).await;
        let arrived = written.iter().filter(|id| register.contains(id)).count();
        if arrived == OFFLINE_RECORDS {
            break register;
        }
        assert!(
            Instant::now() < deadline,
            "{arrived} of {OFFLINE_RECORDS} offline visits reached service_records"
        );
        sleep(Duration::from_millis(100)).await;
    };
    let unique: HashSet<Uuid> = register.iter().copied().collect();
    assert_eq!(unique.len(), register.len(), "no visit is listed twice");
    assert_eq!(
        register.len(),
        register_before.len() + OFFLINE_RECORDS,
        "the register gained exactly the offline visits"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Does by hand what `Connection::sync` does, but stops as soon as the frame carrying the
/// phone's changes is sent: the phone's hello, the server's answer (its heads), then the
/// changes the server lacks. Nothing the server says after that is read.
async fn upload_without_waiting(phone: &Device, conn: &mut Connection, diary: DocumentId) {
    let mut state = sync::State::new();
    let hello = phone
        .doc_mut(diary)
        .sync()
        .generate_sync_message(&mut state)
        .expect("a fresh sync state always speaks");
    conn.send(&Message::Sync(conn.sync_body(diary, hello.encode())))
        .await
        .expect("the hello goes out");
    let answer = loop {
        match conn.next_message(LIMIT).await.expect("the server answers") {
            Some(Message::Sync(m)) if m.document_id == diary => break m,
            Some(_) => {}
            None => panic!("no answer to the hello within {LIMIT:?}"),
        }
    };
    let answer = sync::Message::decode(&answer.data).expect("the server's sync message decodes");
    let upload = {
        let mut doc = phone.doc_mut(diary);
        doc.sync()
            .receive_sync_message(&mut state, answer)
            .expect("the server's answer applies");
        doc.sync()
            .generate_sync_message(&mut state)
            .expect("the phone has changes to send")
    };
    assert!(
        !upload.changes.is_empty(),
        "the second message carries the offline visits"
    );
    conn.send(&Message::Sync(conn.sync_body(diary, upload.encode())))
        .await
        .expect("the upload goes out");
}

/// Waits until storage holds `expected` chunks of `diary`.
async fn wait_for_chunks(app: &TestApp, diary: DocumentId, expected: u64) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let stored = stored_chunks(app, diary).await;
        if stored >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the upload was not stored within {LIMIT:?} ({stored} chunks)"
        );
        // Short: the point is to kill the server before it goes on to anything else.
        sleep(Duration::from_millis(2)).await;
    }
}

/// Rows of `sync_chunks` holding `diary`.
async fn stored_chunks(app: &TestApp, diary: DocumentId) -> u64 {
    sync_chunk::Entity::find()
        .filter(sync_chunk::Column::DocumentId.eq(diary.to_uuid()))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("counting the chunks of {diary}: {e}"))
}

/// `GET /service-records/{id}` until it answers 200 or `deadline` passes (asking at least
/// once).
async fn poll_record(session: &Session, id: Uuid, deadline: Instant) -> Option<serde_json::Value> {
    loop {
        let reply = session.get(&format!("/service-records/{id}")).await;
        if reply.status == 200 {
            return Some(reply.body);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of every service record the operator sees, as listed (duplicates kept).
async fn register_ids(operator: &Session) -> Vec<Uuid> {
    operator
        .list_all("/service-records")
        .await
        .iter()
        .map(|r| {
            r["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("a service record without a UUID id: {r}"))
        })
        .collect()
}

/// The server's log is read by operations staff: a ticket or a token in it would let them sync
/// as someone else (DESIGN.md §5b).
async fn tickets_and_tokens_never_reach_the_log(backend: Backend) {
    // With the access log on, as in production.
    let server = ServerProcess::start(backend, &[("RUST_LOG", "info")]).await;
    let operator = server.login(demo::OPERATOR).await;
    let diary = operator_diary(&operator).await;
    let phone = Device::register(&operator, "Telefono").await;
    let ticket = phone.ticket(&operator).await;
    let secret = ticket.ticket.clone();
    let mut conn = phone
        .connect(&server, ticket.clone())
        .await
        .expect("the ticket opens a connection");
    assert!(
        conn.sync(&[diary], LIMIT)
            .await
            .expect("sync")
            .is_synced(diary)
    );
    conn.close().await;
    let reused = phone.connect(&server, ticket).await;
    assert_eq!(reused.err().and_then(|e| e.status()), Some(401));

    let log = server.log();
    assert!(
        log.contains("uri=/api/v1/sync "),
        "the connections are logged, without their query"
    );
    assert!(!log.contains(&secret), "a ticket reached the log");
    assert!(
        !log.contains(&operator.token),
        "an access token reached the log"
    );
}
