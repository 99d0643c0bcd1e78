//! Vetting the changes a sync message carries before they are stored.

use automerge::{AutoCommit, Automerge, Change};

/// The changes of an incoming sync message are not valid automerge data.
#[derive(Debug)]
pub(super) struct InvalidChanges;

/// The bytes to store for the chunks of `message` that `doc` does not already have: `None`
/// when there is nothing new (a retry after a lost acknowledgement), so nothing is written
/// twice. Each chunk must parse on its own, strictly, as a change or as a whole document (what
/// automerge sends when most of a document is missing on the other side): stored bytes must
/// always load again, so garbage is refused here rather than found at the next load.
pub(super) fn new_changes(
    doc: &mut AutoCommit,
    message: &automerge::sync::Message,
) -> Result<Option<Vec<u8>>, InvalidChanges> {
    let mut out = Vec::new();
    for chunk in message.changes.iter() {
        let heads = match Change::try_from(chunk) {
            Ok(change) => vec![change.hash()],
            // Not a change chunk: it must be a complete, valid document.
            Err(_) => Automerge::load(chunk)
                .map_err(|_| InvalidChanges)?
                .get_heads(),
        };
        // Every change we have comes with all its ancestors, so known heads mean the whole
        // chunk is already ours.
        let known = heads
            .iter()
            .all(|hash| doc.get_change_meta_by_hash(hash).is_some());
        if !known {
            out.extend_from_slice(chunk);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}
