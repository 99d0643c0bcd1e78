//! Creating and loading documents with the text encoding the JS client uses.

use automerge::{AutoCommit, LoadOptions, TextEncoding};

use super::error::SchemaError;

/// How text indexes are counted: UTF-16 code units, like JavaScript strings. The encoding is
/// not stored in the document, so every load must state it again (see [`load_document`]);
/// otherwise Rust counts code points and a splice after an emoji lands in the wrong place.
pub const TEXT_ENCODING: TextEncoding = TextEncoding::Utf16CodeUnit;

/// An empty document using [`TEXT_ENCODING`].
pub(crate) fn empty_document() -> AutoCommit {
    AutoCommit::new_with_encoding(TEXT_ENCODING)
}

/// Loads a saved document (or concatenated saved chunks) using [`TEXT_ENCODING`].
pub fn load_document(bytes: &[u8]) -> Result<AutoCommit, SchemaError> {
    let options = LoadOptions::new().text_encoding(TEXT_ENCODING);
    Ok(AutoCommit::load_with_options(bytes, options)?)
}
