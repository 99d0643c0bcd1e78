//! High-entropy secrets: refresh tokens, API client secrets, sync tickets.
//!
//! These are 256-bit random values, so a plain SHA-256 digest is enough to store them: unlike
//! passwords they cannot be guessed, and hashing them with argon2 would only cost CPU.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// A new random secret, URL-safe base64 (43 characters).
pub fn generate() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The digest stored in place of a secret (hex, 64 characters).
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two digests in constant time.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        let a = generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate());
        assert_eq!(digest(&a), digest(&a));
        assert!(digests_match(&digest(&a), &digest(&a)));
        assert!(!digests_match(&digest(&a), &digest("other")));
    }
}
