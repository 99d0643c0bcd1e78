//! CBOR encoding and decoding of [`Message`]: the field names, which fields each type needs,
//! and the tolerance rules (unknown fields skipped, `null`/`undefined` read as absent).

use std::collections::BTreeMap;
use std::convert::Infallible;

use minicbor::{Decoder, Encoder};

use super::cbor;
use super::document_id::DocumentId;
use super::error::DecodeError;
use super::message::{
    DocUnavailable, Ephemeral, ErrorMessage, Join, Message, Peer, RemoteHeads, RemoteHeadsChanged,
    RemoteSubscriptionChange, SyncMessage,
};
use super::peer::{PeerId, PeerMetadata};

/// Every field any message type may carry, read in one pass because `type` may come anywhere
/// in the map.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    sender_id: Option<String>,
    target_id: Option<String>,
    document_id: Option<String>,
    data: Option<Vec<u8>>,
    peer_metadata: Option<PeerMetadata>,
    supported_protocol_versions: Option<Vec<String>>,
    selected_protocol_version: Option<String>,
    message: Option<String>,
    session_id: Option<String>,
    count: Option<u64>,
    add: Option<Vec<String>>,
    remove: Option<Vec<String>>,
    new_heads: Option<BTreeMap<String, RemoteHeads>>,
}

pub(super) fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut d = Decoder::new(frame);
    let fields = read_fields(&mut d)?;
    if d.position() != frame.len() {
        return Err(DecodeError::TrailingBytes);
    }
    build(fields)
}

fn read_fields(d: &mut Decoder<'_>) -> Result<Fields, DecodeError> {
    if d.datatype()? != minicbor::data::Type::Map {
        return Err(DecodeError::NotAMap);
    }
    let len = cbor::map_len(d, "message")?;
    let mut f = Fields::default();
    for _ in 0..len {
        let key = match d.datatype()? {
            minicbor::data::Type::String => d.str()?,
            // A non-string key cannot be one of ours: skip the entry.
            _ => {
                cbor::skip(d, 1)?;
                cbor::skip(d, 1)?;
                continue;
            }
        };
        if cbor::take_absent(d)? {
            continue;
        }
        match key {
            "type" => f.kind = Some(cbor::string(d, "type")?),
            "senderId" => f.sender_id = Some(cbor::string(d, "senderId")?),
            "targetId" => f.target_id = Some(cbor::string(d, "targetId")?),
            "documentId" => f.document_id = Some(cbor::string(d, "documentId")?),
            "data" => f.data = Some(cbor::bytes(d, "data")?),
            "peerMetadata" => f.peer_metadata = Some(read_peer_metadata(d)?),
            "supportedProtocolVersions" => {
                f.supported_protocol_versions =
                    Some(cbor::strings(d, "supportedProtocolVersions")?);
            }
            "selectedProtocolVersion" => {
                f.selected_protocol_version = Some(cbor::string(d, "selectedProtocolVersion")?);
            }
            "message" => f.message = Some(cbor::string(d, "message")?),
            "sessionId" => f.session_id = Some(cbor::string(d, "sessionId")?),
            "count" => f.count = Some(cbor::unsigned(d, "count")?),
            "add" => f.add = Some(cbor::strings(d, "add")?),
            "remove" => f.remove = Some(cbor::strings(d, "remove")?),
            "newHeads" => f.new_heads = Some(read_new_heads(d)?),
            _ => cbor::skip(d, 1)?,
        }
    }
    Ok(f)
}

fn read_peer_metadata(d: &mut Decoder<'_>) -> Result<PeerMetadata, DecodeError> {
    let len = cbor::map_len(d, "peerMetadata")?;
    let mut meta = PeerMetadata::default();
    for _ in 0..len {
        let key = cbor::string(d, "peerMetadata")?;
        if cbor::take_absent(d)? {
            continue;
        }
        match key.as_str() {
            "storageId" => meta.storage_id = Some(cbor::string(d, "storageId")?),
            "isEphemeral" => meta.is_ephemeral = Some(cbor::boolean(d, "isEphemeral")?),
            _ => cbor::skip(d, 2)?,
        }
    }
    Ok(meta)
}

fn read_new_heads(d: &mut Decoder<'_>) -> Result<BTreeMap<String, RemoteHeads>, DecodeError> {
    let len = cbor::map_len(d, "newHeads")?;
    let mut out = BTreeMap::new();
    for _ in 0..len {
        let storage_id = cbor::string(d, "newHeads")?;
        let entries = cbor::map_len(d, "newHeads")?;
        let (mut heads, mut timestamp) = (None, None);
        for _ in 0..entries {
            let key = cbor::string(d, "newHeads")?;
            match key.as_str() {
                "heads" => heads = Some(cbor::strings(d, "heads")?),
                "timestamp" => timestamp = Some(cbor::unsigned(d, "timestamp")?),
                _ => cbor::skip(d, 3)?,
            }
        }
        let heads = heads.ok_or(DecodeError::MissingField("heads"))?;
        let timestamp = timestamp.ok_or(DecodeError::MissingField("timestamp"))?;
        out.insert(storage_id, RemoteHeads { heads, timestamp });
    }
    Ok(out)
}

const KNOWN_TYPES: [&str; 9] = [
    "join",
    "peer",
    "error",
    "request",
    "sync",
    "doc-unavailable",
    "ephemeral",
    "remote-subscription-change",
    "remote-heads-changed",
];

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField(field))
}

fn build(f: Fields) -> Result<Message, DecodeError> {
    let kind = required(f.kind, "type")?;
    // The type decides before anything else: an unknown one is reported as such, not as a
    // field it happens to lack.
    if !KNOWN_TYPES.contains(&kind.as_str()) {
        return Err(DecodeError::UnknownType(kind));
    }
    let sender_id = PeerId::from(required(f.sender_id, "senderId")?);
    if kind == "join" {
        return Ok(Message::Join(Join {
            sender_id,
            peer_metadata: f.peer_metadata.unwrap_or_default(),
            supported_protocol_versions: f.supported_protocol_versions,
        }));
    }
    let target_id = PeerId::from(required(f.target_id, "targetId")?);
    let document_id = || -> Result<DocumentId, DecodeError> {
        Ok(required(f.document_id.as_deref(), "documentId")?.parse()?)
    };
    let message = match kind.as_str() {
        "peer" => Message::Peer(Peer {
            sender_id,
            target_id,
            peer_metadata: f.peer_metadata.unwrap_or_default(),
            selected_protocol_version: required(
                f.selected_protocol_version,
                "selectedProtocolVersion",
            )?,
        }),
        "error" => Message::Error(ErrorMessage {
            sender_id,
            target_id,
            message: required(f.message, "message")?,
        }),
        "request" | "sync" => {
            let body = SyncMessage {
                sender_id,
                target_id,
                document_id: document_id()?,
                data: required(f.data, "data")?,
            };
            if kind == "request" {
                Message::Request(body)
            } else {
                Message::Sync(body)
            }
        }
        "doc-unavailable" => Message::DocUnavailable(DocUnavailable {
            sender_id,
            target_id,
            document_id: document_id()?,
        }),
        "ephemeral" => Message::Ephemeral(Ephemeral {
            sender_id,
            target_id,
            document_id: document_id()?,
            session_id: required(f.session_id, "sessionId")?,
            count: required(f.count, "count")?,
            data: required(f.data, "data")?,
        }),
        "remote-subscription-change" => {
            Message::RemoteSubscriptionChange(RemoteSubscriptionChange {
                sender_id,
                target_id,
                add: f.add,
                remove: f.remove,
            })
        }
        "remote-heads-changed" => Message::RemoteHeadsChanged(RemoteHeadsChanged {
            sender_id,
            target_id,
            document_id: document_id()?,
            new_heads: required(f.new_heads, "newHeads")?,
        }),
        _ => return Err(DecodeError::UnknownType(kind)),
    };
    Ok(message)
}

pub(super) fn encode(message: &Message) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    match write(&mut e, message) {
        Ok(()) => e.into_writer(),
        // Writing into a Vec cannot fail (its error type is `Infallible`), and we write only
        // primitives, which never raise a message or custom error.
        Err(e) => match e.into_write() {
            Some(never) => match never {},
            None => unreachable!("minicbor primitives raise only write errors"),
        },
    }
}

type Enc = Encoder<Vec<u8>>;
type EncResult = Result<(), minicbor::encode::Error<Infallible>>;

fn write(e: &mut Enc, message: &Message) -> EncResult {
    let kind = message.type_name();
    let sender = message.sender_id().as_str();
    let target = message.target_id().map(PeerId::as_str);
    match message {
        Message::Join(m) => {
            let versions = m.supported_protocol_versions.as_ref();
            e.map(3 + u64::from(versions.is_some()))?;
            e.str("type")?.str(kind)?.str("senderId")?.str(sender)?;
            e.str("peerMetadata")?;
            write_peer_metadata(e, &m.peer_metadata)?;
            if let Some(versions) = versions {
                e.str("supportedProtocolVersions")?;
                write_strings(e, versions)?;
            }
        }
        Message::Peer(m) => {
            head(e, 5, kind, sender, target)?;
            e.str("peerMetadata")?;
            write_peer_metadata(e, &m.peer_metadata)?;
            e.str("selectedProtocolVersion")?
                .str(&m.selected_protocol_version)?;
        }
        Message::Error(m) => {
            head(e, 4, kind, sender, target)?;
            e.str("message")?.str(&m.message)?;
        }
        Message::Request(m) | Message::Sync(m) => {
            head(e, 5, kind, sender, target)?;
            e.str("documentId")?.str(&m.document_id.to_string())?;
            e.str("data")?.bytes(&m.data)?;
        }
        Message::DocUnavailable(m) => {
            head(e, 4, kind, sender, target)?;
            e.str("documentId")?.str(&m.document_id.to_string())?;
        }
        Message::Ephemeral(m) => {
            head(e, 7, kind, sender, target)?;
            e.str("documentId")?.str(&m.document_id.to_string())?;
            e.str("sessionId")?.str(&m.session_id)?;
            e.str("count")?.u64(m.count)?;
            e.str("data")?.bytes(&m.data)?;
        }
        Message::RemoteSubscriptionChange(m) => {
            let n = 3 + u64::from(m.add.is_some()) + u64::from(m.remove.is_some());
            head(e, n, kind, sender, target)?;
            if let Some(add) = &m.add {
                e.str("add")?;
                write_strings(e, add)?;
            }
            if let Some(remove) = &m.remove {
                e.str("remove")?;
                write_strings(e, remove)?;
            }
        }
        Message::RemoteHeadsChanged(m) => {
            head(e, 5, kind, sender, target)?;
            e.str("documentId")?.str(&m.document_id.to_string())?;
            e.str("newHeads")?.map(m.new_heads.len() as u64)?;
            for (storage_id, heads) in &m.new_heads {
                e.str(storage_id)?.map(2)?;
                e.str("heads")?;
                write_strings(e, &heads.heads)?;
                e.str("timestamp")?.u64(heads.timestamp)?;
            }
        }
    }
    Ok(())
}

/// Map header with `type`, `senderId` and `targetId`, the fields every non-join message has.
fn head(e: &mut Enc, fields: u64, kind: &str, sender: &str, target: Option<&str>) -> EncResult {
    e.map(fields)?;
    e.str("type")?.str(kind)?.str("senderId")?.str(sender)?;
    e.str("targetId")?.str(target.unwrap_or_default())?;
    Ok(())
}

fn write_peer_metadata(e: &mut Enc, meta: &PeerMetadata) -> EncResult {
    e.map(u64::from(meta.storage_id.is_some()) + u64::from(meta.is_ephemeral.is_some()))?;
    if let Some(storage_id) = &meta.storage_id {
        e.str("storageId")?.str(storage_id)?;
    }
    if let Some(is_ephemeral) = meta.is_ephemeral {
        e.str("isEphemeral")?.bool(is_ephemeral)?;
    }
    Ok(())
}

fn write_strings(e: &mut Enc, values: &[String]) -> EncResult {
    e.array(values.len() as u64)?;
    for value in values {
        e.str(value)?;
    }
    Ok(())
}
