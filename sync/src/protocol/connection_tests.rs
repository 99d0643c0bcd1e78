//! Two in-memory peers: a Rust automerge-repo client against [`super::Connection`] run by a
//! harness with a shared document registry and storage that checks, on every frame, that no
//! sync message advertises heads storage does not hold.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

use super::test_peer::{TestClient, TestServer};
use super::*;

fn doc_id(n: u8) -> DocumentId {
    DocumentId::from_bytes([n; 16])
}

fn diary(doc: &mut AutoCommit) {
    doc.put(ROOT, "kind", "diary").expect("put");
    let records = doc.put_object(ROOT, "records", ObjType::Map).expect("map");
    for i in 0..3 {
        let record = doc
            .put_object(&records, format!("record-{i}"), ObjType::Map)
            .expect("map");
        doc.put(&record, "minutes", 30 + i).expect("put");
    }
}

fn record_count(doc: &AutoCommit) -> usize {
    match doc.get(ROOT, "records").expect("get") {
        Some((_, records)) => doc.length(&records),
        None => 0,
    }
}

fn add_record(doc: &mut AutoCommit, key: &str) {
    let records = match doc.get(ROOT, "records").expect("get") {
        Some((_, records)) => records,
        None => doc.put_object(ROOT, "records", ObjType::Map).expect("map"),
    };
    let record = doc.put_object(&records, key, ObjType::Map).expect("map");
    doc.put(&record, "minutes", 45).expect("put");
    doc.commit();
}

/// Exchanges frames between the client and connection `c` until both are quiet; frames the
/// server fans out to `c` from other connections are delivered too.
fn converse(server: &mut TestServer, c: usize, client: &mut TestClient, first: Vec<Vec<u8>>) {
    let mut to_server = first;
    for _ in 0..50 {
        let mut to_client = Vec::new();
        for frame in to_server.drain(..) {
            to_client.extend(server.deliver(c, frame));
        }
        to_client.extend(server.take_fanout(c));
        if to_client.is_empty() {
            return;
        }
        for frame in to_client {
            to_server.extend(client.receive(&frame));
        }
    }
    panic!("no quiescence after 50 rounds");
}

/// Connects and joins `client`; returns the connection index.
fn join(server: &mut TestServer, client: &mut TestClient) -> usize {
    client.disconnect();
    let c = server.connect(client.peer_id.as_str());
    let join = client.join();
    converse(server, c, client, vec![join]);
    assert!(client.joined);
    c
}

fn sync(server: &mut TestServer, c: usize, client: &mut TestClient, id: DocumentId) {
    let first = client.sync_frame(id).into_iter().collect();
    converse(server, c, client, first);
}

fn count<F: Fn(&Output) -> bool>(server: &TestServer, f: F) -> usize {
    server.events.iter().filter(|o| f(o)).count()
}

#[test]
fn first_sync_brings_a_document_with_records() {
    let mut server = TestServer::default();
    server.create(doc_id(1), diary);
    server.grant("device-a", doc_id(1), Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);

    sync(&mut server, c, &mut client, doc_id(1));

    let mut durable = server.durable(doc_id(1));
    assert_eq!(client.heads(doc_id(1)), durable.get_heads());
    assert_eq!(record_count(&client.docs[&doc_id(1)]), 3);
    assert!(client.unavailable.is_empty());
    assert_eq!(count(&server, |o| matches!(o, Output::Store { .. })), 0);
}

#[test]
fn reconnect_with_offline_edits_on_both_sides_converges() {
    let id = doc_id(2);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);

    // Offline: the device records two services, the server writes a review (stored first,
    // then applied to the shared document, as the connection's rustdoc requires).
    let device_doc = client.docs.get_mut(&id).expect("synced");
    add_record(device_doc, "offline-1");
    add_record(device_doc, "offline-2");
    let shared = server.docs.get_mut(&id).expect("loaded");
    let before = shared.get_heads();
    add_record(shared, "from-server");
    let server_change = shared.save_after(&before);
    server.storage.entry(id).or_default().push(server_change);

    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);

    let mut durable = server.durable(id);
    let shared_heads = server.docs.get_mut(&id).expect("loaded").get_heads();
    assert_eq!(client.heads(id), shared_heads);
    assert_eq!(durable.get_heads(), shared_heads);
    assert_eq!(record_count(&durable), 6);
    assert_eq!(record_count(&client.docs[&id]), 6);
}

#[test]
fn a_change_reaches_the_other_devices_connection() {
    let id = doc_id(3);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    server.grant("device-b", id, Access::ReadWrite);
    let mut a = TestClient::new("device-a");
    let mut b = TestClient::new("device-b");
    let ca = join(&mut server, &mut a);
    let cb = join(&mut server, &mut b);
    sync(&mut server, ca, &mut a, id);
    sync(&mut server, cb, &mut b, id);

    add_record(a.docs.get_mut(&id).expect("synced"), "from-a");
    sync(&mut server, ca, &mut a, id);
    // B's connection was told and has frames waiting for B.
    converse(&mut server, cb, &mut b, Vec::new());

    assert_eq!(a.heads(id), b.heads(id));
    assert_eq!(record_count(&b.docs[&id]), 4);
}

#[test]
fn denied_and_unknown_documents_are_unavailable_alike() {
    let (denied, unknown) = (doc_id(4), doc_id(5));
    let mut server = TestServer::default();
    server.create(denied, diary);
    server.grant("device-a", unknown, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);

    sync(&mut server, c, &mut client, denied);
    sync(&mut server, c, &mut client, unknown);

    assert!(client.unavailable.contains(&denied));
    assert!(client.unavailable.contains(&unknown));
    assert!(client.heads(denied).is_empty());
    // The denied document was never even loaded.
    let loads = |id| count(&server, |o| *o == Output::NeedDocument { document_id: id });
    assert_eq!(loads(denied), 0);
    assert_eq!(loads(unknown), 1);
    assert!(server.closes.is_empty());
}

#[test]
fn access_is_checked_once_per_document_and_connection() {
    let id = doc_id(6);
    let mut server = TestServer::default();
    server.create(id, diary);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    for _ in 0..3 {
        client.disconnect_state_only(id);
        sync(&mut server, c, &mut client, id);
    }
    assert_eq!(
        count(&server, |o| matches!(o, Output::CheckAccess { .. })),
        1
    );
}

#[test]
fn a_read_only_document_cannot_be_written() {
    let id = doc_id(7);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadOnly);
    let mut client = TestClient::new("device-a");
    client.ignore_read_only = true;
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);
    assert_eq!(record_count(&client.docs[&id]), 3);

    add_record(client.docs.get_mut(&id).expect("synced"), "forged");
    sync(&mut server, c, &mut client, id);

    assert!(
        count(&server, |o| matches!(
            o,
            Output::ReadOnlyWriteIgnored { .. }
        )) >= 1
    );
    assert_eq!(count(&server, |o| matches!(o, Output::Store { .. })), 0);
    assert_eq!(server.storage[&id].len(), 1);
    assert_eq!(record_count(&server.docs[&id]), 3);
    assert!(server.closes.is_empty());
}

#[test]
fn no_reply_is_sent_before_the_store_completes() {
    let id = doc_id(8);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);

    server.hold_stores = true;
    add_record(client.docs.get_mut(&id).expect("synced"), "new");
    let frame = client.sync_frame(id).expect("has changes to send");
    let replies = server.deliver(c, frame);

    assert!(replies.is_empty(), "replied before the store completed");
    assert_eq!(server.held_stores.len(), 1);
    assert_eq!(record_count(&server.docs[&id]), 3, "applied before stored");

    let replies = server.complete_store(0);
    assert_eq!(replies.len(), 1);
    assert_eq!(record_count(&server.docs[&id]), 4);
    assert!(count(&server, |o| matches!(o, Output::DocumentChanged { .. })) == 1);
    converse(&mut server, c, &mut client, Vec::new());
    for frame in replies {
        let more = client.receive(&frame);
        converse(&mut server, c, &mut client, more);
    }
    assert_eq!(client.heads(id), server.durable(id).get_heads());
}

#[test]
fn a_storage_failure_closes_without_acknowledging() {
    let id = doc_id(9);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);

    server.hold_stores = true;
    add_record(client.docs.get_mut(&id).expect("synced"), "lost");
    let frame = client.sync_frame(id).expect("changes");
    assert!(server.deliver(c, frame).is_empty());
    let (_, document_id, token) = server.held_stores[0];
    let replies = server.event(c, Event::StorageFailed { document_id, token });

    assert_eq!(server.closes, vec![CloseReason::StorageFailed]);
    assert_eq!(replies.len(), 1, "only the error message");
    assert!(matches!(
        Message::decode(&replies[0], usize::MAX),
        Ok(Message::Error(_))
    ));
    assert_eq!(record_count(&server.docs[&id]), 3);
    assert!(server.connections[c].is_closed());
}

#[test]
fn a_retried_upload_is_not_stored_twice() {
    let id = doc_id(10);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);
    add_record(client.docs.get_mut(&id).expect("synced"), "once");
    let frame = client.sync_frame(id).expect("changes");
    server.deliver(c, frame.clone());
    assert_eq!(server.storage[&id].len(), 2);

    // The acknowledgement was lost: the device reconnects and sends the same changes.
    let c2 = server.connect("device-a");
    server.deliver(c2, client.join());
    server.deliver(c2, frame);
    assert_eq!(server.storage[&id].len(), 2);
    assert_eq!(count(&server, |o| matches!(o, Output::Store { .. })), 1);
}

#[test]
fn a_new_document_uploaded_whole_is_stored_then_served() {
    // The server knows the document but has only an empty shell; the device has everything
    // and automerge sends it as one document chunk.
    let id = doc_id(11);
    let mut server = TestServer::default();
    server.create(id, |doc| {
        doc.put(ROOT, "kind", "diary").expect("put");
    });
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);
    let device = client.docs.get_mut(&id).expect("synced");
    for i in 0..20 {
        add_record(device, &format!("bulk-{i}"));
    }
    sync(&mut server, c, &mut client, id);
    // Chunk type byte after magic and checksum: 0 is a whole document.
    let whole = server
        .events
        .iter()
        .any(|o| matches!(o, Output::Store { changes, .. } if changes.get(8) == Some(&0)));
    assert!(whole, "expected the device to send a document chunk");
    assert_eq!(record_count(&server.durable(id)), 20);
    assert_eq!(client.heads(id), server.durable(id).get_heads());
}

#[test]
fn handshake_rules() {
    let mut server = TestServer::default();
    // A peer id other than the ticket's.
    let c = server.connect("device-a");
    let intruder = TestClient::new("device-b");
    let replies = server.deliver(c, intruder.join());
    assert_eq!(server.closes, vec![CloseReason::PeerIdMismatch]);
    assert!(matches!(
        Message::decode(&replies[0], usize::MAX),
        Ok(Message::Error(_))
    ));

    // Anything before join.
    let mut client = TestClient::new("device-a");
    let c = server.connect("device-a");
    let frame = client.sync_frame(doc_id(1)).expect("request");
    server.deliver(c, frame);
    assert_eq!(server.closes[1], CloseReason::ExpectedJoin);

    // Only protocol versions we do not speak.
    let c = server.connect("device-a");
    let join = Message::Join(Join {
        sender_id: "device-a".into(),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: Some(vec!["2".into()]),
    });
    server.deliver(c, join.encode());
    assert_eq!(server.closes[2], CloseReason::UnsupportedProtocolVersion);

    // Silence.
    let c = server.connect("device-a");
    server.event(c, Event::Tick(Instant::now() + Duration::from_secs(31)));
    assert_eq!(server.closes[3], CloseReason::HandshakeTimeout);
    assert!(server.event(c, Event::Received(client.join())).is_empty());

    // The peer message carries our storage id and is not ephemeral.
    let c = server.connect("device-a");
    let replies = server.deliver(c, client.join());
    match Message::decode(&replies[0], usize::MAX) {
        Ok(Message::Peer(peer)) => {
            assert_eq!(peer.selected_protocol_version, "1");
            assert_eq!(
                peer.peer_metadata.storage_id.as_deref(),
                Some("server-storage")
            );
            assert_eq!(peer.peer_metadata.is_ephemeral, Some(false));
            assert_eq!(peer.target_id.as_str(), "device-a");
        }
        other => panic!("expected peer, got {other:?}"),
    }
}

#[test]
fn bad_frames_close_with_a_reason() {
    let id = doc_id(12);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");

    let c = join(&mut server, &mut client);
    server.deliver(c, vec![0xff, 0x00, 0x13]);
    assert!(matches!(server.closes[0], CloseReason::MalformedMessage(_)));

    let c = join(&mut server, &mut client);
    let garbage = Message::Sync(SyncMessage {
        sender_id: "device-a".into(),
        target_id: test_peer::SERVER.into(),
        document_id: id,
        data: vec![0x42, 0xff, 0xff],
    });
    server.deliver(c, garbage.encode());
    assert_eq!(server.closes[1], CloseReason::InvalidSyncMessage);

    // A well-formed sync message whose change bytes are junk.
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);
    let mut message = automerge::sync::Message::decode(&{
        add_record(client.docs.get_mut(&id).expect("synced"), "x");
        let frame = client.sync_frame(id).expect("changes");
        match Message::decode(&frame, usize::MAX) {
            Ok(Message::Sync(m)) => m.data,
            other => panic!("expected sync, got {other:?}"),
        }
    })
    .expect("decodes");
    message.changes = vec![vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]].into();
    let forged = Message::Sync(SyncMessage {
        sender_id: "device-a".into(),
        target_id: test_peer::SERVER.into(),
        document_id: id,
        data: message.encode(),
    });
    server.deliver(c, forged.encode());
    assert_eq!(server.closes[2], CloseReason::InvalidChanges);
    assert_eq!(server.storage[&id].len(), 1, "junk was stored");

    // A message addressed to another server.
    let c = join(&mut server, &mut client);
    let misaddressed = Message::DocUnavailable(DocUnavailable {
        sender_id: "device-a".into(),
        target_id: "elsewhere".into(),
        document_id: id,
    });
    server.deliver(c, misaddressed.encode());
    assert_eq!(server.closes[3], CloseReason::WrongTarget);
}

#[test]
fn revoking_access_stops_the_sync() {
    let id = doc_id(13);
    let mut server = TestServer::default();
    server.create(id, diary);
    server.grant("device-a", id, Access::ReadWrite);
    let mut client = TestClient::new("device-a");
    let c = join(&mut server, &mut client);
    sync(&mut server, c, &mut client, id);
    assert_eq!(server.connections[c].syncing().count(), 1);

    let replies = server.event(
        c,
        Event::AccessDecided {
            document_id: id,
            access: Access::Denied,
        },
    );
    for frame in replies {
        client.receive(&frame);
    }
    assert!(client.unavailable.contains(&id));
    assert_eq!(server.connections[c].syncing().count(), 0);
    // Further changes are refused like an unknown document's.
    add_record(client.docs.get_mut(&id).expect("synced"), "late");
    sync(&mut server, c, &mut client, id);
    assert_eq!(record_count(&server.docs[&id]), 3);
}
