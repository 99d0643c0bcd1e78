//! Why a frame is not a protocol message.

use thiserror::Error;

use super::document_id::DocumentIdError;

/// Why a frame could not be decoded into a [`super::Message`]. Every malformed input ends here:
/// the decoder never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The frame is larger than the configured limit; it was not parsed at all.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the frame.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Not well-formed CBOR, or a value of the wrong CBOR type.
    #[error("malformed CBOR: {0}")]
    Cbor(String),
    /// The top-level value is not a map.
    #[error("message is not a map")]
    NotAMap,
    /// Bytes follow the top-level map.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// Values nested deeper than the decoder follows.
    #[error("values nested too deeply")]
    TooDeep,
    /// A field the message type requires is absent (or null).
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field holds a value of the wrong type or range.
    #[error("invalid field `{0}`")]
    InvalidField(&'static str),
    /// The `type` is not one of the automerge-repo 2.x message types.
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    /// The `documentId` is not a base58check 16-byte id.
    #[error("invalid documentId: {0}")]
    InvalidDocumentId(#[from] DocumentIdError),
}

impl From<minicbor::decode::Error> for DecodeError {
    fn from(e: minicbor::decode::Error) -> Self {
        Self::Cbor(e.to_string())
    }
}
