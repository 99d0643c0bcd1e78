//! Round trips, tolerance and hostile input for the wire format.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn id() -> DocumentId {
    DocumentId::from_bytes([7; 16])
}

fn every_variant() -> Vec<Message> {
    let (a, b): (PeerId, PeerId) = ("client".into(), "server".into());
    let mut new_heads = BTreeMap::new();
    new_heads.insert(
        "storage-1".to_owned(),
        RemoteHeads {
            heads: vec!["2abWVgzwjn2c".into()],
            timestamp: 1_767_225_600_000,
        },
    );
    vec![
        Message::Join(Join {
            sender_id: a.clone(),
            peer_metadata: PeerMetadata {
                storage_id: Some("s".into()),
                is_ephemeral: Some(false),
            },
            supported_protocol_versions: Some(vec!["1".into()]),
        }),
        Message::Join(Join {
            sender_id: a.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: None,
        }),
        Message::Peer(Peer {
            sender_id: b.clone(),
            target_id: a.clone(),
            peer_metadata: PeerMetadata {
                storage_id: Some("t".into()),
                is_ephemeral: Some(false),
            },
            selected_protocol_version: "1".into(),
        }),
        Message::Error(ErrorMessage {
            sender_id: b.clone(),
            target_id: a.clone(),
            message: "nope".into(),
        }),
        Message::Request(SyncMessage {
            sender_id: a.clone(),
            target_id: b.clone(),
            document_id: id(),
            data: vec![0x42, 0, 0, 1, 0, 0],
        }),
        Message::Sync(SyncMessage {
            sender_id: a.clone(),
            target_id: b.clone(),
            document_id: id(),
            data: vec![1, 2, 3],
        }),
        Message::DocUnavailable(DocUnavailable {
            sender_id: b.clone(),
            target_id: a.clone(),
            document_id: id(),
        }),
        Message::Ephemeral(Ephemeral {
            sender_id: a.clone(),
            target_id: b.clone(),
            document_id: id(),
            session_id: "sess".into(),
            count: 9,
            data: vec![0xa0],
        }),
        Message::RemoteSubscriptionChange(RemoteSubscriptionChange {
            sender_id: a.clone(),
            target_id: b.clone(),
            add: Some(vec!["x".into()]),
            remove: None,
        }),
        Message::RemoteHeadsChanged(RemoteHeadsChanged {
            sender_id: b,
            target_id: a,
            document_id: id(),
            new_heads,
        }),
    ]
}

#[test]
fn every_variant_round_trips() {
    for message in every_variant() {
        let frame = message.encode();
        assert_eq!(Message::decode(&frame, 1 << 20), Ok(message));
    }
}

/// Writes one value into a hand-built frame.
type Writer<'a> = &'a dyn Fn(&mut minicbor::Encoder<Vec<u8>>);

/// Encodes a map of string keys by hand, to build frames our encoder would never write.
fn map(entries: &[(&str, minicbor::data::Type, Writer<'_>)]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    e.map(entries.len() as u64).expect("vec");
    for (key, _, write) in entries {
        e.str(key).expect("vec");
        write(&mut e);
    }
    e.into_writer()
}

#[test]
fn unknown_fields_are_skipped_and_null_means_absent() {
    use minicbor::data::Type::*;
    let frame = map(&[
        ("futureField", Map, &|e| {
            e.map(1)
                .expect("vec")
                .str("deep")
                .expect("vec")
                .array(2)
                .expect("vec");
            e.u8(1).expect("vec").f64(2.5).expect("vec");
        }),
        ("type", String, &|e| {
            e.str("join").expect("vec");
        }),
        ("senderId", String, &|e| {
            e.str("c").expect("vec");
        }),
        ("peerMetadata", Null, &|e| {
            e.null().expect("vec");
        }),
        ("supportedProtocolVersions", Undefined, &|e| {
            e.undefined().expect("vec");
        }),
    ]);
    let Ok(Message::Join(join)) = Message::decode(&frame, 1024) else {
        panic!("join expected");
    };
    assert_eq!(join.peer_metadata, PeerMetadata::default());
    assert_eq!(join.supported_protocol_versions, None);
}

#[test]
fn unknown_types_missing_fields_and_wrong_types_are_errors() {
    use minicbor::data::Type::*;
    let unknown = map(&[
        ("type", String, &|e| {
            e.str("leave").expect("vec");
        }),
        ("senderId", String, &|e| {
            e.str("c").expect("vec");
        }),
    ]);
    assert_eq!(
        Message::decode(&unknown, 1024),
        Err(DecodeError::UnknownType("leave".into()))
    );
    let no_target = map(&[
        ("type", String, &|e| {
            e.str("sync").expect("vec");
        }),
        ("senderId", String, &|e| {
            e.str("c").expect("vec");
        }),
    ]);
    assert_eq!(
        Message::decode(&no_target, 1024),
        Err(DecodeError::MissingField("targetId"))
    );
    let numeric_sender = map(&[
        ("type", String, &|e| {
            e.str("join").expect("vec");
        }),
        ("senderId", U8, &|e| {
            e.u8(4).expect("vec");
        }),
    ]);
    assert_eq!(
        Message::decode(&numeric_sender, 1024),
        Err(DecodeError::InvalidField("senderId"))
    );
    let mut sync = every_variant().remove(5);
    if let Message::Sync(m) = &mut sync {
        m.data.clear();
    }
    let text_data = sync
        .encode()
        .iter()
        .map(|b| if *b == 0x40 { 0x60 } else { *b })
        .collect::<Vec<_>>();
    assert!(Message::decode(&text_data, 1024).is_err());
    let bad_id = Message::decode(
        &map(&[
            ("type", String, &|e| {
                e.str("doc-unavailable").expect("vec");
            }),
            ("senderId", String, &|e| {
                e.str("c").expect("vec");
            }),
            ("targetId", String, &|e| {
                e.str("s").expect("vec");
            }),
            ("documentId", String, &|e| {
                e.str("not-an-id").expect("vec");
            }),
        ]),
        1024,
    );
    assert!(matches!(bad_id, Err(DecodeError::InvalidDocumentId(_))));
}

#[test]
fn size_limit_nesting_lengths_and_trailing_bytes() {
    let frame = every_variant().remove(0).encode();
    assert_eq!(
        Message::decode(&frame, frame.len() - 1),
        Err(DecodeError::TooLarge {
            size: frame.len(),
            limit: frame.len() - 1
        })
    );
    let mut trailing = frame.clone();
    trailing.push(0);
    assert_eq!(
        Message::decode(&trailing, 1024),
        Err(DecodeError::TrailingBytes)
    );
    assert_eq!(
        Message::decode(&[0x83, 1, 2, 3], 1024),
        Err(DecodeError::NotAMap)
    );

    // A byte string claiming 2^64-1 bytes, a map claiming 2^32 entries, an array 2^60 long.
    let huge_bytes = [
        0xa1, 0x64, b'd', b'a', b't', b'a', 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(Message::decode(&huge_bytes, 1024).is_err());
    assert!(Message::decode(&[0xba, 0xff, 0xff, 0xff, 0xff], 1024).is_err());
    let mut huge_array = vec![0xa1, 0x61, b'x', 0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0];
    huge_array.extend([0u8; 16]);
    assert!(Message::decode(&huge_array, 1024).is_err());

    // 10,000 nested arrays in an unknown field: refused, no stack overflow.
    let mut deep = vec![0xa1, 0x61, b'x'];
    deep.extend(std::iter::repeat_n(0x81, 10_000));
    deep.push(0);
    assert_eq!(Message::decode(&deep, 1 << 20), Err(DecodeError::TooDeep));
    let mut deep_indefinite = vec![0xa1, 0x61, b'x'];
    deep_indefinite.extend(std::iter::repeat_n(0x9f, 10_000));
    assert_eq!(
        Message::decode(&deep_indefinite, 1 << 20),
        Err(DecodeError::TooDeep)
    );
}

#[test]
fn every_truncation_of_every_variant_is_an_error() {
    for message in every_variant() {
        let frame = message.encode();
        for len in 0..frame.len() {
            assert!(Message::decode(&frame[..len], 1 << 20).is_err(), "{len}");
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::decode(&bytes, 1 << 20);
    }

    #[test]
    fn mutated_frames_never_panic(index in 0usize..10, position in any::<usize>(), byte in any::<u8>()) {
        let mut frame = every_variant()[index].encode();
        let at = position % frame.len();
        frame[at] = byte;
        let _ = Message::decode(&frame, 1 << 20);
    }
}
