//! Access tokens: short-lived HS256 JWTs, validated as RFC 8725 asks (fixed algorithm, issuer,
//! audience, expiry and an explicit `typ`).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// RFC 9068 media type of access tokens, so a token of another kind is never accepted as one.
const TOKEN_TYPE: &str = "at+jwt";
const AUDIENCE: &str = "taccuino-api";

/// Who a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A person, after login.
    User,
    /// A vendor's system, after the client-credentials grant.
    Client,
}

/// The claims of an access token. Roles are not in the token: they are loaded for each
/// request, so a change or a deactivation takes effect at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub kind: SubjectKind,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys from the configured secret.
    pub fn new(secret: &str, issuer: &str, ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            issuer: issuer.to_owned(),
            ttl,
        }
    }

    /// Lifetime of the tokens issued, in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl.as_secs() as i64
    }

    /// Issues an access token.
    pub fn issue(&self, sub: Uuid, kind: SubjectKind) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub,
            kind,
            iat: now,
            exp: now + self.ttl_seconds(),
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        Ok(encode(&header, &claims, &self.encoding)?)
    }

    /// Verifies a token; `None` for anything not issued by us, expired, or of another type.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation).ok()?;
        (data.header.typ.as_deref() == Some(TOKEN_TYPE)).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, ttl: u64) -> TokenKeys {
        TokenKeys::new(secret, "http://test", Duration::from_secs(ttl))
    }

    #[test]
    fn a_token_verifies_with_its_own_keys_only() {
        let a = keys(&"a".repeat(32), 60);
        let b = keys(&"b".repeat(32), 60);
        let sub = Uuid::new_v4();
        let token = a.issue(sub, SubjectKind::User).expect("token");
        assert_eq!(a.verify(&token).map(|c| c.sub), Some(sub));
        assert!(b.verify(&token).is_none());
        assert!(a.verify("not.a.token").is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = keys(&"a".repeat(32), 60);
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: "http://test".into(),
            aud: AUDIENCE.into(),
            sub: Uuid::new_v4(),
            kind: SubjectKind::User,
            iat: now - 120,
            exp: now - 60,
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.into());
        let token = encode(&header, &claims, &k.encoding).expect("token");
        assert!(k.verify(&token).is_none());
    }

    #[test]
    fn tokens_without_the_access_token_type_are_refused() {
        let k = keys(&"a".repeat(32), 60);
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: "http://test".into(),
            aud: AUDIENCE.into(),
            sub: Uuid::new_v4(),
            kind: SubjectKind::User,
            iat: now,
            exp: now + 60,
            jti: Uuid::new_v4(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).expect("token");
        assert!(k.verify(&token).is_none());
    }
}
