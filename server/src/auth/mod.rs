//! Authentication: passwords, access tokens, refresh tokens, API client credentials, and the
//! extractor that turns a bearer token into a [`crate::domain::roles::Caller`].

pub mod caller;
pub mod jwt;
pub mod password;
pub mod secrets;
