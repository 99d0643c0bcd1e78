//! Taccuino's sync core (DESIGN.md §5), pure logic over automerge: no network, no SQL, no clock.
//!
//! - [`schema`]: the `plan` and `diary` documents, typed reads and writes (docs/sync.md).
//! - [`protocol`]: the automerge-repo wire protocol and the server's per-connection state
//!   machine, sans-IO (docs/sync-protocol.md).

#![forbid(unsafe_code)]

pub mod protocol;
pub mod schema;

use serde::{Deserialize, Serialize};

/// Version of the document schemas. Readers accept documents of this version and older, and
/// keep fields they do not know, so a newer client never loses data through an older server.
pub const SCHEMA_VERSION: u32 = 1;

/// The two kinds of sync documents, each with one kind of writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// One per care plan; written by the server only, read by the plan's operators.
    Plan,
    /// One per (operator, care plan); written by that operator's devices and their coordinator.
    Diary,
}

impl DocumentKind {
    /// The value of the document's `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Diary => "diary",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_names() {
        assert_eq!(DocumentKind::Plan.as_str(), "plan");
        assert_eq!(DocumentKind::Diary.as_str(), "diary");
    }
}
