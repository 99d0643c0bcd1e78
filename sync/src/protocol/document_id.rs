//! Document ids as automerge-repo spells them: base58check of a 16-byte UUID.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The id of an automerge-repo document: 16 bytes (a UUID), written on the wire and in
/// `automerge:` URLs as base58check (double SHA-256, 4-byte checksum, no version byte), exactly
/// like the JS library's `bs58check.encode(binaryDocumentId)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentIdError {
    /// Not base58, or the checksum does not match.
    #[error("not a base58check string")]
    NotBase58Check,
    /// Valid base58check, but not 16 bytes: automerge-repo makes its ids from UUIDs, and we
    /// serve no other kind.
    #[error("expected 16 bytes, found {0}")]
    WrongLength(usize),
}

impl DocumentId {
    /// The id made of these 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes of the id.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id as a UUID, the form the SQL tables keep.
    pub fn to_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.0)
    }

    /// The `automerge:` URL of the document, as the JS client's `repo.find()` takes it.
    pub fn to_url(&self) -> String {
        format!("automerge:{self}")
    }
}

impl From<uuid::Uuid> for DocumentId {
    fn from(uuid: uuid::Uuid) -> Self {
        Self(uuid.into_bytes())
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // A 16-byte payload with its checksum is at most 28 characters; refusing long input
        // first keeps the decoder from working on a megabyte of hostile text.
        if s.len() > 64 {
            return Err(DocumentIdError::NotBase58Check);
        }
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| DocumentIdError::NotBase58Check)?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| DocumentIdError::WrongLength(bytes.len()))?;
        Ok(Self(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by automerge-repo 2.5.6's `generateAutomergeUrl()` (see tests/fixtures/README.md).
    const JS_ID: &str = "2RBQcVJPP5xmgRr4ChAjmfE3vZNK";
    const JS_HEX: &str = "65b3d713901c4fa1b1d40009303e6f8d";

    fn js_bytes() -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&JS_HEX[2 * i..2 * i + 2], 16).unwrap_or_default();
        }
        out
    }

    #[test]
    fn matches_the_js_library_both_ways() {
        let id: DocumentId = JS_ID.parse().expect("the JS id parses");
        assert_eq!(id.as_bytes(), &js_bytes());
        assert_eq!(DocumentId::from_bytes(js_bytes()).to_string(), JS_ID);
        assert_eq!(id.to_url(), format!("automerge:{JS_ID}"));
    }

    #[test]
    fn rejects_bad_checksums_lengths_and_junk() {
        let mut tampered = JS_ID.to_string();
        tampered.replace_range(3..4, "x");
        assert_eq!(
            tampered.parse::<DocumentId>(),
            Err(DocumentIdError::NotBase58Check)
        );
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert_eq!(
            short.parse::<DocumentId>(),
            Err(DocumentIdError::WrongLength(8))
        );
        assert!("".parse::<DocumentId>().is_err());
        assert!("0OIl".parse::<DocumentId>().is_err());
        assert!("1".repeat(10_000).parse::<DocumentId>().is_err());
    }

    #[test]
    fn uuid_round_trip() {
        let uuid = uuid::Uuid::from_bytes(js_bytes());
        assert_eq!(DocumentId::from(uuid).to_uuid(), uuid);
    }
}
