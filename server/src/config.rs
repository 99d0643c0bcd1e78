//! Every setting of the server, its default and the environment variable that overrides it.
//!
//! This is the one place configuration is read; the README's configuration table mirrors it.

use std::{net::SocketAddr, time::Duration};

use thiserror::Error;

/// The JWT secret used only in demo mode, where default secrets are acceptable by design.
const DEMO_JWT_SECRET: &str = "taccuino-demo-secret-do-not-use-in-production-0123456789";
/// RFC 8725 §3.5: an HMAC key needs at least as many bits of entropy as the hash output.
const MIN_JWT_SECRET_BYTES: usize = 32;

/// Why the configuration was refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{var} is not valid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error(
        "TACCUINO_JWT_SECRET must be set to a random string of at least {MIN_JWT_SECRET_BYTES} bytes outside demo mode"
    )]
    WeakJwtSecret,
}

/// Server configuration, built from the environment by [`Config::from_env`].
#[derive(Clone)]
pub struct Config {
    /// `TACCUINO_BIND`, default `127.0.0.1:8080`; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// `DATABASE_URL`, default `sqlite://data/taccuino.db?mode=rwc`; `postgres://...` selects PostgreSQL.
    pub database_url: String,
    /// `--demo`: loads the demo dataset into an empty database and accepts default secrets.
    pub demo: bool,
    /// `TACCUINO_JWT_SECRET`: HMAC key for access tokens (required outside demo mode, >= 32 bytes).
    pub jwt_secret: String,
    /// `TACCUINO_ACCESS_TOKEN_TTL_SECONDS`, default 900 (15 minutes).
    pub access_token_ttl: Duration,
    /// `TACCUINO_REFRESH_TOKEN_TTL_SECONDS`, default 2,592,000 (30 days).
    pub refresh_token_ttl: Duration,
    /// `TACCUINO_PUBLIC_URL`, default `http://<bind>`: the issuer of tokens and links in the docs.
    pub public_url: String,
    /// `TACCUINO_RATE_LIMIT_PER_MINUTE`, default 600: sustained requests per client IP.
    pub rate_limit_per_minute: u32,
    /// `TACCUINO_RATE_LIMIT_BURST`, default 120: requests a client IP may send at once.
    pub rate_limit_burst: u32,
    /// `TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE`, default 5: login attempts per account (and x4 per IP).
    pub login_attempts_per_minute: u32,
    /// `TACCUINO_MAX_BODY_BYTES`, default 262,144: larger request bodies answer 413.
    pub max_body_bytes: usize,
    /// `TACCUINO_DB_MAX_CONNECTIONS`, default 10 on PostgreSQL; SQLite always uses one writer.
    pub db_max_connections: u32,
    /// `TACCUINO_LOG_FORMAT`: `json` for one JSON object per line, anything else for text.
    pub log_json: bool,
    /// The sync endpoint's settings.
    pub sync: SyncConfig,
}

/// Settings of the sync endpoint (`/api/v1/sync`).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// `TACCUINO_SYNC_MAX_MESSAGE_BYTES`, default 16,777,216: larger sync messages close the
    /// connection (a first sync of a big diary can be megabytes).
    pub max_message_bytes: usize,
    /// `TACCUINO_SYNC_MESSAGES_PER_SECOND`, default 200: sustained messages per connection
    /// (bursts of ten times that); a flood closes the connection.
    pub messages_per_second: u32,
    /// `TACCUINO_SYNC_TICKET_TTL_SECONDS`, default 60: how long a connection ticket is valid.
    pub ticket_ttl: Duration,
    /// `TACCUINO_SYNC_KEEPALIVE_SECONDS`, default 30: ping interval; a peer silent for two
    /// intervals is disconnected.
    pub keepalive: Duration,
    /// `TACCUINO_SYNC_IDLE_DOCUMENT_SECONDS`, default 60: a document nobody syncs is dropped
    /// from memory after this long.
    pub idle_document: Duration,
    /// `TACCUINO_SYNC_COMPACT_AFTER_CHUNKS`, default 64: a document stored in more chunks is
    /// compacted into one snapshot.
    pub compact_after_chunks: usize,
    /// `TACCUINO_SYNC_PROJECTION_WORKERS`, default 1 on SQLite (one writer) and 4 on
    /// PostgreSQL: batches of diaries projected at once.
    pub projection_workers: usize,
}

impl std::fmt::Debug for Config {
    // Written by hand so that secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database", &redact_url(&self.database_url))
            .field("demo", &self.demo)
            .field("jwt_secret", &"<redacted>")
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("public_url", &self.public_url)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("login_attempts_per_minute", &self.login_attempts_per_minute)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("db_max_connections", &self.db_max_connections)
            .field("sync", &self.sync)
            .finish()
    }
}

/// Hides the password of a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Reads the environment; `demo` comes from the command line.
    pub fn from_env(demo: bool) -> Result<Self, ConfigError> {
        Self::from_lookup(demo, |name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can configure without touching the process env.
    pub fn from_lookup(
        demo: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let bind: SocketAddr = parse(&lookup, "TACCUINO_BIND", "127.0.0.1:8080".parse().ok())?;
        let jwt_secret = match lookup("TACCUINO_JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES && secret != DEMO_JWT_SECRET => {
                secret
            }
            Some(_) | None if demo => DEMO_JWT_SECRET.to_owned(),
            _ => return Err(ConfigError::WeakJwtSecret),
        };
        let public_url = lookup("TACCUINO_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let database_url = lookup("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://data/taccuino.db?mode=rwc".to_owned());
        let sqlite = database_url.starts_with("sqlite:");
        Ok(Self {
            bind,
            database_url,
            demo,
            jwt_secret,
            access_token_ttl: Duration::from_secs(parse(
                &lookup,
                "TACCUINO_ACCESS_TOKEN_TTL_SECONDS",
                Some(900),
            )?),
            refresh_token_ttl: Duration::from_secs(parse(
                &lookup,
                "TACCUINO_REFRESH_TOKEN_TTL_SECONDS",
                Some(30 * 24 * 3600),
            )?),
            public_url: public_url.trim_end_matches('/').to_owned(),
            rate_limit_per_minute: positive(&lookup, "TACCUINO_RATE_LIMIT_PER_MINUTE", 600)?,
            rate_limit_burst: positive(&lookup, "TACCUINO_RATE_LIMIT_BURST", 120)?,
            login_attempts_per_minute: positive(&lookup, "TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE", 5)?,
            max_body_bytes: parse(&lookup, "TACCUINO_MAX_BODY_BYTES", Some(256 * 1024))?,
            db_max_connections: positive(&lookup, "TACCUINO_DB_MAX_CONNECTIONS", 10)?,
            log_json: lookup("TACCUINO_LOG_FORMAT").is_some_and(|f| f == "json"),
            sync: SyncConfig {
                max_message_bytes: positive_usize(
                    &lookup,
                    "TACCUINO_SYNC_MAX_MESSAGE_BYTES",
                    16 * 1024 * 1024,
                )?,
                messages_per_second: positive(&lookup, "TACCUINO_SYNC_MESSAGES_PER_SECOND", 200)?,
                ticket_ttl: seconds(&lookup, "TACCUINO_SYNC_TICKET_TTL_SECONDS", 60)?,
                keepalive: seconds(&lookup, "TACCUINO_SYNC_KEEPALIVE_SECONDS", 30)?,
                idle_document: seconds(&lookup, "TACCUINO_SYNC_IDLE_DOCUMENT_SECONDS", 60)?,
                compact_after_chunks: positive_usize(
                    &lookup,
                    "TACCUINO_SYNC_COMPACT_AFTER_CHUNKS",
                    64,
                )?,
                projection_workers: positive_usize(
                    &lookup,
                    "TACCUINO_SYNC_PROJECTION_WORKERS",
                    if sqlite { 1 } else { 4 },
                )?,
            },
        })
    }

    /// True when the database URL selects SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn parse<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Option<T>,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(var) {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                var,
                reason: e.to_string(),
            }),
        None => default.ok_or(ConfigError::Invalid {
            var,
            reason: "missing".into(),
        }),
    }
}

fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let value: u32 = parse(lookup, var, Some(default))?;
    if value == 0 {
        return Err(ConfigError::Invalid {
            var,
            reason: "must be greater than zero".into(),
        });
    }
    Ok(value)
}

fn positive_usize(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    let value: usize = parse(lookup, var, Some(default))?;
    if value == 0 {
        return Err(ConfigError::Invalid {
            var,
            reason: "must be greater than zero".into(),
        });
    }
    Ok(value)
}

fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(positive(lookup, var, default)?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn refuses_to_start_without_a_strong_secret_outside_demo_mode() {
        assert!(matches!(
            Config::from_lookup(false, env(&[])),
            Err(ConfigError::WeakJwtSecret)
        ));
        assert!(matches!(
            Config::from_lookup(false, env(&[("TACCUINO_JWT_SECRET", "short")])),
            Err(ConfigError::WeakJwtSecret)
        ));
        assert!(matches!(
            Config::from_lookup(false, env(&[("TACCUINO_JWT_SECRET", DEMO_JWT_SECRET)])),
            Err(ConfigError::WeakJwtSecret)
        ));
        let strong = "x".repeat(40);
        assert!(Config::from_lookup(false, env(&[("TACCUINO_JWT_SECRET", &strong)])).is_ok());
    }

    #[test]
    fn demo_mode_accepts_the_default_secret() {
        let config = Config::from_lookup(true, env(&[])).expect("demo config");
        assert_eq!(config.jwt_secret, DEMO_JWT_SECRET);
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert!(config.is_sqlite());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config::from_lookup(
            true,
            env(&[("DATABASE_URL", "postgres://app:hunter2@db/taccuino")]),
        )
        .expect("config");
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains(DEMO_JWT_SECRET));
    }

    #[test]
    fn rejects_garbage_numbers_naming_the_variable() {
        let err = Config::from_lookup(true, env(&[("TACCUINO_RATE_LIMIT_BURST", "many")]))
            .expect_err("invalid");
        assert!(err.to_string().contains("TACCUINO_RATE_LIMIT_BURST"));
    }
}
