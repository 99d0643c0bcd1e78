//! Where a built message goes: an SMTP server (lettre, rustls) or a folder of `.eml` files.

use std::{path::PathBuf, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::authentication::Credentials,
};

use crate::config::{MailConfig, MailTransport, SmtpSecurity};

/// How long one SMTP command may take before the attempt counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A configured transport.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server, with pooled connections.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One file per message, named after its outbox id.
    Folder(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Transport::Smtp"),
            Self::Folder(dir) => write!(f, "Transport::Folder({})", dir.display()),
        }
    }
}

/// Why an attempt failed, in a few words that are safe to log and store: never the server's
/// reply text (it may quote an address) nor any part of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Transport {
    /// The transport of the configuration; `None` when mail is off.
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Option<Self>> {
        let smtp = match &config.transport {
            MailTransport::Off => return Ok(None),
            MailTransport::Folder(dir) => return Ok(Some(Self::Folder(dir.clone()))),
            MailTransport::Smtp(smtp) => smtp,
        };
        let builder = match smtp.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
        };
        let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Some(Self::Smtp(builder.build())))
    }

    /// Sends one message; `file_stem` names the file of the folder transport.
    pub async fn send(&self, message: Message, file_stem: &str) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| {
                let code = e.status().map(|c| format!(" {c}")).unwrap_or_default();
                SendError(if e.is_permanent() {
                    format!("SMTP permanent error{code}")
                } else if e.is_transient() {
                    format!("SMTP transient error{code}")
                } else if e.is_timeout() {
                    "SMTP timeout".to_owned()
                } else if e.is_tls() {
                    "SMTP TLS error".to_owned()
                } else {
                    "SMTP connection failed".to_owned()
                })
            }),
            Self::Folder(dir) => {
                let dir = dir.clone();
                let bytes = message.formatted();
                let name = format!("{file_stem}.eml");
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|_| SendError("folder writer stopped".to_owned()))?
                    .map_err(|e| SendError(format!("folder: {}", e.kind())))
            }
        }
    }
}

/// Writes `name` in `dir` through a temporary file and a rename, so a reader (or a crash)
/// never sees half a message.
fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, dir.join(name))
}
