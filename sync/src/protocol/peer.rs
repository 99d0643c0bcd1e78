//! Who is at the other end: peer ids and the metadata a peer announces in `join` / `peer`.

use std::fmt;

/// A peer id: an opaque string a repo picks for itself (the stock client makes a random one;
/// our server hands each device the one it must use with its ticket).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(String);

impl PeerId {
    /// The peer id as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for PeerId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for PeerId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a repo says about itself in `join` and `peer`. automerge-repo keeps sync states across
/// connections only for peers that announce a `storage_id` and are not ephemeral, and it tracks
/// "the heads this storage has" per storage id: that is how a client can tell that the server
/// holds its changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// The id of the peer's storage (the JS repo stores a UUID string); absent for a repo
    /// without storage.
    pub storage_id: Option<String>,
    /// True for a repo that keeps nothing across restarts.
    pub is_ephemeral: Option<bool>,
}
