//! The golden frames written by automerge-repo 2.5.6's own encoder (tests/fixtures/README.md)
//! decode, re-encode to frames that decode to the same message, and carry what the JS library
//! put in them.

use std::path::PathBuf;

use taccuino_sync::protocol::{DocumentId, Message};

const LIMIT: usize = 1 << 20;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode(name: &str) -> Message {
    let frame = fixture(&format!("{name}.cbor"));
    let message = Message::decode(&frame, LIMIT).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(message.type_name(), name.trim_end_matches("-ephemeral"));
    // Our encoding of it decodes to the same message.
    assert_eq!(
        Message::decode(&message.encode(), LIMIT).as_ref(),
        Ok(&message)
    );
    message
}

fn js_document_id() -> DocumentId {
    let text = String::from_utf8(fixture("document-id.txt")).expect("utf-8");
    text.lines()
        .next()
        .expect("id line")
        .parse()
        .expect("valid id")
}

#[test]
fn every_golden_fixture_decodes() {
    for name in [
        "join",
        "join-ephemeral",
        "peer",
        "error",
        "request",
        "sync",
        "doc-unavailable",
        "ephemeral",
        "remote-subscription-change",
        "remote-heads-changed",
    ] {
        decode(name);
    }
}

#[test]
fn document_ids_match_the_js_library() {
    let text = String::from_utf8(fixture("document-id.txt")).expect("utf-8");
    let mut lines = text.lines();
    let (b58, hex) = (lines.next().expect("id"), lines.next().expect("hex"));
    let id: DocumentId = b58.parse().expect("valid id");
    let id_hex: String = id.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(id_hex, hex);
    assert_eq!(id.to_string(), b58);
}

#[test]
fn fixture_contents() {
    let Message::Join(join) = decode("join") else {
        panic!("join")
    };
    assert_eq!(join.sender_id.as_str(), "client-peer-1");
    assert_eq!(join.supported_protocol_versions, Some(vec!["1".to_owned()]));
    assert_eq!(join.peer_metadata.is_ephemeral, Some(false));
    assert!(join.peer_metadata.storage_id.is_some());

    // A repo without storage: cbor-x writes `storageId: undefined`.
    let Message::Join(join) = decode("join-ephemeral") else {
        panic!("join")
    };
    assert_eq!(join.peer_metadata.storage_id, None);
    assert_eq!(join.peer_metadata.is_ephemeral, Some(true));

    let Message::Sync(sync) = decode("sync") else {
        panic!("sync")
    };
    assert_eq!(sync.document_id, js_document_id());
    assert_eq!(sync.data, fixture("sync-data.bin"));
    // The payload is an automerge sync message the Rust crate reads, changes included.
    let message = automerge::sync::Message::decode(&sync.data).expect("automerge reads JS sync");
    assert_eq!(message.heads.len(), 1);

    let Message::Request(request) = decode("request") else {
        panic!("request")
    };
    let message = automerge::sync::Message::decode(&request.data).expect("reads");
    assert!(message.heads.is_empty());

    let Message::Ephemeral(eph) = decode("ephemeral") else {
        panic!("ephemeral")
    };
    assert_eq!((eph.count, eph.session_id.as_str()), (7, "k2j3h4g5"));

    // cbor-x writes the millisecond timestamp as a float64.
    let Message::RemoteHeadsChanged(rh) = decode("remote-heads-changed") else {
        panic!("rh")
    };
    let heads = rh.new_heads.values().next().expect("one storage");
    assert_eq!(heads.timestamp, 1_767_225_600_000);
    assert_eq!(heads.heads.len(), 1);
}
