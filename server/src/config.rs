//! Every setting of the server, its default and the environment variable that overrides it.
//!
//! This is the one place configuration is read; the README's configuration table mirrors it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use chrono::NaiveTime;
use lettre::message::Mailbox;
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
    /// Email notifications: transport, sender, digest time, retries (docs/mail.md).
    pub mail: MailConfig,
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

/// Email notifications (docs/mail.md).
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `TACCUINO_MAIL_TRANSPORT`: `smtp`, `folder` or `off`. Default: `smtp` when
    /// `TACCUINO_SMTP_HOST` is set, else `folder` in demo mode, else `off` (logged at start-up:
    /// a production server never pretends to send mail into a folder nobody reads).
    pub transport: MailTransport,
    /// `TACCUINO_MAIL_FROM`, the sender (`Name <address>`); required with SMTP outside demo
    /// mode, else `Taccuino <noreply@taccuino.invalid>`.
    pub from: Mailbox,
    /// `TACCUINO_MAIL_DIGEST_AT`, default `07:30`: Italian local time (Europe/Rome) of the
    /// social workers' daily digest; `off` disables the scheduler (`taccuino send-digest` still
    /// works, e.g. from cron).
    pub digest_at: Option<NaiveTime>,
    /// `TACCUINO_MAIL_RETRY_SECONDS`, default 30: the wait after a first failed delivery,
    /// doubled after each further failure up to an hour.
    pub retry_first: Duration,
    /// `TACCUINO_MAIL_POLL_SECONDS`, default 10: how often the worker looks for due messages
    /// besides being woken by new ones (retries and other instances' rows are found this way).
    pub poll_interval: Duration,
}

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// An SMTP server.
    Smtp(SmtpConfig),
    /// `TACCUINO_MAIL_FOLDER`, default `data/mail`: one `.eml` file per message.
    Folder(PathBuf),
    /// No email at all: workflow steps enqueue nothing.
    Off,
}

/// An SMTP submission server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `TACCUINO_SMTP_HOST`.
    pub host: String,
    /// `TACCUINO_SMTP_PORT`, default 587 with STARTTLS, 465 with TLS, 25 with none.
    pub port: u16,
    /// `TACCUINO_SMTP_SECURITY`: `starttls` (default), `tls` (implicit) or `none`.
    pub security: SmtpSecurity,
    /// `TACCUINO_SMTP_USERNAME` and `TACCUINO_SMTP_PASSWORD`: AUTH, when both are set.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpConfig {
    // Written by hand so that the password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| format!("{user}:<redacted>")),
            )
            .finish()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (submission, port 587).
    StartTls,
    /// TLS from the first byte (submissions, port 465).
    Tls,
    /// No encryption: only for a relay on the same host or the tests' loopback server.
    None,
}

impl MailConfig {
    fn from_lookup(
        demo: bool,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid = |var: &'static str, reason: &str| ConfigError::Invalid {
            var,
            reason: reason.to_owned(),
        };
        let host = lookup("TACCUINO_SMTP_HOST").filter(|h| !h.trim().is_empty());
        let kind = match lookup("TACCUINO_MAIL_TRANSPORT") {
            Some(kind) => kind.trim().to_ascii_lowercase(),
            None if host.is_some() => "smtp".to_owned(),
            None if demo => "folder".to_owned(),
            None => "off".to_owned(),
        };
        let transport = match kind.as_str() {
            "smtp" => {
                let host = host.ok_or_else(|| {
                    invalid("TACCUINO_SMTP_HOST", "required with the smtp transport")
                })?;
                let security = match lookup("TACCUINO_SMTP_SECURITY").as_deref().map(str::trim) {
                    None | Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some("none") => SmtpSecurity::None,
                    Some(_) => {
                        return Err(invalid(
                            "TACCUINO_SMTP_SECURITY",
                            "expected starttls, tls or none",
                        ));
                    }
                };
                let default_port = match security {
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::Tls => 465,
                    SmtpSecurity::None => 25,
                };
                let credentials = match (
                    lookup("TACCUINO_SMTP_USERNAME"),
                    lookup("TACCUINO_SMTP_PASSWORD"),
                ) {
                    (None, None) => None,
                    (Some(user), Some(password)) => Some((user, password)),
                    (Some(_), None) => {
                        return Err(invalid("TACCUINO_SMTP_PASSWORD", "missing"));
                    }
                    (None, Some(_)) => {
                        return Err(invalid("TACCUINO_SMTP_USERNAME", "missing"));
                    }
                };
                if credentials.is_some() && security == SmtpSecurity::None {
                    // The password would cross the network in clear text.
                    return Err(invalid(
                        "TACCUINO_SMTP_SECURITY",
                        "none cannot be used with a username and password",
                    ));
                }
                MailTransport::Smtp(SmtpConfig {
                    host: host.trim().to_owned(),
                    port: parse(lookup, "TACCUINO_SMTP_PORT", Some(default_port))?,
                    security,
                    credentials,
                })
            }
            "folder" => MailTransport::Folder(PathBuf::from(
                lookup("TACCUINO_MAIL_FOLDER").unwrap_or_else(|| "data/mail".to_owned()),
            )),
            "off" => MailTransport::Off,
            _ => {
                return Err(invalid(
                    "TACCUINO_MAIL_TRANSPORT",
                    "expected smtp, folder or off",
                ));
            }
        };
        let from = match lookup("TACCUINO_MAIL_FROM") {
            Some(raw) => raw
                .trim()
                .parse::<Mailbox>()
                .map_err(|e| invalid("TACCUINO_MAIL_FROM", &e.to_string()))?,
            None if !demo && matches!(transport, MailTransport::Smtp(_)) => {
                return Err(invalid(
                    "TACCUINO_MAIL_FROM",
                    "required with the smtp transport outside demo mode",
                ));
            }
            None => Mailbox::new(
                Some("Taccuino".to_owned()),
                lettre::Address::new("noreply", "taccuino.invalid")
                    .map_err(|e| invalid("TACCUINO_MAIL_FROM", &e.to_string()))?,
            ),
        };
        let digest_at = match lookup("TACCUINO_MAIL_DIGEST_AT").as_deref().map(str::trim) {
            Some("off") => None,
            Some(raw) => Some(
                NaiveTime::parse_from_str(raw, "%H:%M")
                    .map_err(|_| invalid("TACCUINO_MAIL_DIGEST_AT", "expected HH:MM or off"))?,
            ),
            None => NaiveTime::from_hms_opt(7, 30, 0),
        };
        Ok(Self {
            transport,
            from,
            digest_at,
            retry_first: seconds(lookup, "TACCUINO_MAIL_RETRY_SECONDS", 30)?,
            poll_interval: seconds(lookup, "TACCUINO_MAIL_POLL_SECONDS", 10)?,
        })
    }

    /// Whether notifications are written at all.
    pub fn enabled(&self) -> bool {
        self.transport != MailTransport::Off
    }
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
            .field("mail", &self.mail)
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
            mail: MailConfig::from_lookup(demo, &lookup)?,
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
    fn mail_defaults_to_a_folder_in_demo_mode_and_off_otherwise() {
        let demo = Config::from_lookup(true, env(&[])).expect("demo config");
        assert_eq!(
            demo.mail.transport,
            MailTransport::Folder(PathBuf::from("data/mail"))
        );
        assert_eq!(demo.mail.digest_at, NaiveTime::from_hms_opt(7, 30, 0));
        assert_eq!(demo.mail.retry_first, Duration::from_secs(30));
        let strong = "x".repeat(40);
        let production =
            Config::from_lookup(false, env(&[("TACCUINO_JWT_SECRET", &strong)])).expect("config");
        assert_eq!(production.mail.transport, MailTransport::Off);
        assert!(!production.mail.enabled());
    }

    #[test]
    fn smtp_settings_are_parsed_and_the_password_is_never_printed() {
        let strong = "x".repeat(40);
        let config = Config::from_lookup(
            false,
            env(&[
                ("TACCUINO_JWT_SECRET", &strong),
                ("TACCUINO_SMTP_HOST", "smtp.example.org"),
                ("TACCUINO_SMTP_SECURITY", "tls"),
                ("TACCUINO_SMTP_USERNAME", "taccuino"),
                ("TACCUINO_SMTP_PASSWORD", "s3cret-smtp"),
                ("TACCUINO_MAIL_FROM", "Taccuino <noreply@comune.example>"),
                ("TACCUINO_MAIL_DIGEST_AT", "off"),
            ]),
        )
        .expect("config");
        let MailTransport::Smtp(smtp) = &config.mail.transport else {
            panic!("expected smtp, got {:?}", config.mail.transport);
        };
        assert_eq!(smtp.port, 465);
        assert_eq!(smtp.security, SmtpSecurity::Tls);
        assert_eq!(config.mail.digest_at, None);
        assert_eq!(config.mail.from.email.to_string(), "noreply@comune.example");
        let printed = format!("{config:?}");
        assert!(printed.contains("smtp.example.org"));
        assert!(!printed.contains("s3cret-smtp"));
    }

    #[test]
    fn unsafe_or_incomplete_mail_settings_are_refused() {
        let strong = "x".repeat(40);
        for (pairs, var) in [
            (
                vec![("TACCUINO_MAIL_TRANSPORT", "smtp")],
                "TACCUINO_SMTP_HOST",
            ),
            (
                vec![("TACCUINO_SMTP_HOST", "smtp.example.org")],
                "TACCUINO_MAIL_FROM",
            ),
            (
                vec![
                    ("TACCUINO_SMTP_HOST", "smtp.example.org"),
                    ("TACCUINO_MAIL_FROM", "noreply@comune.example"),
                    ("TACCUINO_SMTP_SECURITY", "none"),
                    ("TACCUINO_SMTP_USERNAME", "u"),
                    ("TACCUINO_SMTP_PASSWORD", "p"),
                ],
                "TACCUINO_SMTP_SECURITY",
            ),
            (
                vec![("TACCUINO_MAIL_DIGEST_AT", "7.30")],
                "TACCUINO_MAIL_DIGEST_AT",
            ),
            (
                vec![("TACCUINO_MAIL_TRANSPORT", "pigeon")],
                "TACCUINO_MAIL_TRANSPORT",
            ),
        ] {
            let mut pairs = pairs;
            pairs.push(("TACCUINO_JWT_SECRET", &strong));
            let err = Config::from_lookup(false, env(&pairs)).expect_err("invalid");
            assert!(err.to_string().contains(var), "{err} should name {var}");
        }
    }

    #[test]
    fn rejects_garbage_numbers_naming_the_variable() {
        let err = Config::from_lookup(true, env(&[("TACCUINO_RATE_LIMIT_BURST", "many")]))
            .expect_err("invalid");
        assert!(err.to_string().contains("TACCUINO_RATE_LIMIT_BURST"));
    }
}
