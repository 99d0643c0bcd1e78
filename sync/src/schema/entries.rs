//! Maps keyed by UUID (diary records, planned services, reviews), read entry by entry so one
//! malformed entry is reported instead of making the whole document unreadable.

use automerge::{ObjId, ReadDoc};
use uuid::Uuid;

use super::error::{SchemaError, join};
use super::value::get_map;

/// An entry of a UUID-keyed map that could not be read; the other entries still were.
#[derive(Debug)]
pub struct EntryProblem {
    /// The entry's key as stored (not necessarily a valid UUID: that can be the problem).
    pub key: String,
    /// What is wrong, with the field path.
    pub error: SchemaError,
}

/// The key a writer uses for `id`: the lowercase hyphenated form, as `crypto.randomUUID()`
/// makes it.
pub(crate) fn key_of(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Parses an entry key, accepting only the canonical form: otherwise `ABC...` and `abc...`
/// would be two entries for one UUID, and our writer (which uses the canonical key) would
/// never update the other one.
fn parse_key(key: &str, path: &str) -> Result<Uuid, SchemaError> {
    match Uuid::try_parse(key) {
        Ok(id) if key_of(id) == key => Ok(id),
        _ => Err(SchemaError::invalid(
            path.to_owned(),
            "key is not a lowercase hyphenated UUID",
        )),
    }
}

/// Reads every entry of the map `map` (at `path`) with `read_entry(doc, entry_obj, id,
/// entry_path)`, sorted by key. Entries that fail are returned as problems.
pub(crate) fn read_entries<D: ReadDoc, T>(
    doc: &D,
    map: &ObjId,
    path: &str,
    read_entry: impl Fn(&D, &ObjId, Uuid, &str) -> Result<T, SchemaError>,
) -> (Vec<T>, Vec<EntryProblem>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let keys: Vec<String> = doc.keys(map).collect();
    for key in keys {
        let entry_path = join(path, &key);
        let read = parse_key(&key, &entry_path).and_then(|id| {
            let obj = get_map(doc, map, path, &key)?.ok_or_else(|| SchemaError::Missing {
                path: entry_path.clone(),
            })?;
            read_entry(doc, &obj, id, &entry_path)
        });
        match read {
            Ok(entry) => entries.push(entry),
            Err(error) => problems.push(EntryProblem { key, error }),
        }
    }
    (entries, problems)
}
