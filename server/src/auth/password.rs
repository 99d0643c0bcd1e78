//! Password hashing with argon2id (OWASP's first choice), PHC strings in the database.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

/// Shortest password accepted when an admin sets one.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a password with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

/// Whether `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash that matches no known password, verified when the account does not exist so that a
/// login for an unknown email costs the same time as one for a known email.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&super::secrets::generate()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password() {
        let stored = hash("correct horse battery").expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batter", &stored));
    }

    #[test]
    fn garbage_hashes_never_match() {
        assert!(!verify("anything", "not-a-phc-string"));
        assert!(decoy_hash().starts_with("$argon2id$"));
        assert!(!verify("anything", decoy_hash()));
    }
}
