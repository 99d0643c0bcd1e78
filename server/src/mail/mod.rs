//! Email notifications through an outbox (docs/mail.md).
//!
//! A workflow step never talks to an SMTP server: inside its own transaction it writes its
//! messages into `mail_outbox` ([`outbox::enqueue`], called by the hooks in [`notify`]), so the
//! messages exist exactly when the step does, and an SMTP outage can neither block nor lose
//! it. A background worker ([`delivery`]) claims due rows, sends them through a
//! [`transport::Transport`] (SMTP, or `.eml` files in a folder) and retries failures with
//! exponential backoff, forever. [`digest`] writes the social workers' daily digest, once per
//! worker per day whatever the number of restarts or instances.
//!
//! Messages are Italian, plain text and HTML ([`templates`]), and carry no personal data of the
//! people assisted: what happened, and a link into the app, where access rules apply.

pub mod delivery;
pub mod digest;
pub mod notify;
pub mod outbox;
pub mod templates;
pub mod transport;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

use crate::config::Config;

/// The running mail tasks: the delivery worker and the digest scheduler. Dropping it stops
/// them, so a server that stops leaves no task behind that could touch a closed database.
#[derive(Debug, Default)]
pub struct MailService {
    tasks: Vec<JoinHandle<()>>,
}

impl MailService {
    /// Starts the worker and (unless `TACCUINO_MAIL_DIGEST_AT=off`) the digest scheduler on the
    /// current runtime; with `TACCUINO_MAIL_TRANSPORT=off` starts nothing.
    pub fn start(db: DatabaseConnection, config: Arc<Config>) -> anyhow::Result<Self> {
        let Some(transport) = transport::Transport::from_config(&config.mail)? else {
            tracing::warn!(
                "email is off (TACCUINO_MAIL_TRANSPORT): no notification will be written or sent"
            );
            return Ok(Self::default());
        };
        let mut tasks = vec![delivery::spawn(
            db.clone(),
            Arc::new(transport),
            config.mail.clone(),
        )];
        if let Some(at) = config.mail.digest_at {
            tasks.push(digest::spawn(db, config, at));
        }
        Ok(Self { tasks })
    }
}

impl Drop for MailService {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
