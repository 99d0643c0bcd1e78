//! The one error type of the schema layer.

use automerge::AutomergeError;

/// Why a document, or one entry of it, could not be read or written.
///
/// Messages name the field path (`records.<uuid>.started_at`) and the kind of problem, never
/// the value: documents carry personal data and these errors end up in logs.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A required field is absent (or `null`).
    #[error("`{path}` is missing")]
    Missing {
        /// Dotted path of the field.
        path: String,
    },
    /// A field holds a value of another type (say, a map where a string belongs).
    #[error("`{path}` should be {expected}, found {found}")]
    WrongType {
        /// Dotted path of the field.
        path: String,
        /// What the schema expects.
        expected: &'static str,
        /// The automerge type found instead.
        found: String,
    },
    /// A field has the right type but an unacceptable value (a string that is not a UUID, a
    /// latitude of 200, an unknown document kind...).
    #[error("`{path}` is not valid: {reason}")]
    Invalid {
        /// Dotted path of the field.
        path: String,
        /// What is wrong, without the value itself.
        reason: String,
    },
    /// The automerge library refused an operation (an object id of another document...).
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
}

impl SchemaError {
    /// The field path the error is about, when it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Missing { path } | Self::WrongType { path, .. } | Self::Invalid { path, .. } => {
                Some(path)
            }
            Self::Automerge(_) => None,
        }
    }

    pub(crate) fn invalid(path: String, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path,
            reason: reason.into(),
        }
    }
}

/// Joins a parent path and a key: `join("records.x", "km") == "records.x.km"`.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}
