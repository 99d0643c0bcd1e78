//! The delivery worker: claims due outbox rows, sends them, and schedules retries.
//!
//! A failed attempt is retried after `TACCUINO_MAIL_RETRY_SECONDS`, doubling up to an hour, for
//! as long as it takes: a message is never dropped. Delivery is at least once: a server that
//! dies between the SMTP server's acceptance and the `sent_at` update sends that message again
//! after its lease expires (the stable `Message-ID` lets mail systems spot the duplicate).
//! Logs name the row id, its kind and the failure's category; never an address or a body.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use lettre::{
    Message,
    message::{Mailbox, MultiPart},
};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::{sync::Notify, task::JoinHandle};

use super::{
    outbox,
    transport::{SendError, Transport},
};
use crate::{config::MailConfig, db::entities::mail_outbox};

/// Longest wait between two attempts at one message.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a claimed row stays reserved for its sender: longer than any attempt can last
/// (lettre's per-command timeout is 30 s), short enough that a crashed sender's rows come back
/// soon.
const LEASE: Duration = Duration::from_secs(300);
/// Rows read per query.
const BATCH: u64 = 50;
/// After a wake-up, the time given to the enqueuing transaction to commit.
const SETTLE: Duration = Duration::from_millis(250);

/// New messages wake every worker of the process. A process-wide signal, because the hooks run
/// inside request handlers that only hold the configuration; a worker woken for another
/// server's database (tests run many) just finds nothing due.
static WAKE: Notify = Notify::const_new();

/// Tells the workers that a message was enqueued.
pub fn wake() {
    WAKE.notify_waiters();
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Messages handed to the transport.
    pub sent: u64,
    /// Failed attempts (each rescheduled).
    pub failed: u64,
}

/// Starts the worker: a pass now, then after every wake-up and every poll interval.
pub fn spawn(
    db: DatabaseConnection,
    transport: Arc<Transport>,
    config: MailConfig,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // Registered before the pass, so a message enqueued during it is not missed.
            let woken = WAKE.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match deliver_due(&db, &transport, &config).await {
                Ok(done) if done != Delivered::default() => {
                    tracing::info!(sent = done.sent, failed = done.failed, "mail outbox pass");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail outbox unreadable; retrying"),
            }
            tokio::select! {
                () = &mut woken => tokio::time::sleep(SETTLE).await,
                () = tokio::time::sleep(config.poll_interval) => {}
            }
        }
    })
}

/// Sends every message due now, once each; used by the worker and by `taccuino send-digest`.
pub async fn deliver_due(
    db: &DatabaseConnection,
    transport: &Transport,
    config: &MailConfig,
) -> Result<Delivered, DbErr> {
    let mut done = Delivered::default();
    loop {
        let now = Utc::now();
        let rows = outbox::due(db, now, BATCH).await?;
        if rows.is_empty() {
            return Ok(done);
        }
        for row in rows {
            let now = Utc::now();
            if !outbox::claim(db, row.id, now, now + LEASE).await? {
                continue; // another sender took it
            }
            let attempts = row.attempts.saturating_add(1);
            let result = match build(&config.from, &row) {
                Ok(message) => transport.send(message, &file_stem(&row)).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    outbox::mark_sent(db, row.id, attempts, Utc::now()).await?;
                    tracing::info!(id = %row.id, kind = %row.kind, attempts, "mail sent");
                    done.sent += 1;
                }
                Err(error) => {
                    let wait = backoff(config.retry_first, attempts);
                    let next = retry_at(Utc::now(), wait);
                    outbox::mark_failed(db, row.id, attempts, next, &error.0).await?;
                    tracing::warn!(
                        id = %row.id,
                        kind = %row.kind,
                        attempts,
                        retry_in_secs = wait.as_secs(),
                        %error,
                        "mail not delivered; will retry"
                    );
                    done.failed += 1;
                }
            }
        }
    }
}

/// The wait after the `attempts`-th failure: `first`, doubled each time, at most an hour.
pub fn backoff(first: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    first
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF.max(first))
}

fn retry_at(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(now)
}

/// The `Message-ID` and file name come from the outbox id, so every attempt at one row is the
/// same message for the receiving systems.
fn build(from: &Mailbox, row: &mail_outbox::Model) -> Result<Message, SendError> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|_| SendError("invalid recipient address".to_owned()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}@{}>", row.id, from.email.domain())))
        .multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            row.body_html.clone(),
        ))
        .map_err(|_| SendError("message could not be built".to_owned()))
}

fn file_stem(row: &mail_outbox::Model) -> String {
    format!("{}-{}", row.created_at.format("%Y%m%dT%H%M%S"), row.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{
        notify::tests::{config, demo_db, outbox},
        outbox::{MailKind, OutgoingMessage, enqueue},
        templates,
    };

    fn message(recipient: &str) -> OutgoingMessage {
        OutgoingMessage {
            kind: MailKind::DailyDigest,
            recipient: recipient.to_owned(),
            content: templates::daily_digest(
                "https://taccuino.example",
                Utc::now().date_naive(),
                3,
                0,
            ),
            dedupe_key: None,
        }
    }

    #[tokio::test]
    async fn the_folder_transport_writes_one_eml_file_per_message() {
        let db = demo_db().await;
        let dir = std::env::temp_dir().join(format!("taccuino-mail-{}", uuid::Uuid::new_v4()));
        let config = config("folder").mail;
        enqueue(&db, &message("assistente@example.org"))
            .await
            .expect("enqueued");

        let transport = Transport::Folder(dir.clone());
        let done = deliver_due(&db, &transport, &config).await.expect("pass");
        assert_eq!(done, Delivered { sent: 1, failed: 0 });
        let files: Vec<_> = std::fs::read_dir(&dir)
            .expect("the folder exists")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let eml = std::fs::read_to_string(&files[0]).expect("readable");
        assert!(eml.contains("To: assistente@example.org"), "{eml}");
        assert!(eml.contains("multipart/alternative"), "{eml}");
        assert!(
            eml.contains("text/plain") && eml.contains("text/html"),
            "{eml}"
        );
        let rows = outbox(&db).await;
        assert!(rows[0].sent_at.is_some());
        assert_eq!(rows[0].attempts, 1);

        // Nothing is due any more: a second pass sends nothing.
        let again = deliver_due(&db, &transport, &config).await.expect("pass");
        assert_eq!(again, Delivered::default());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[tokio::test]
    async fn a_failed_attempt_is_rescheduled_with_backoff_and_kept() {
        let db = demo_db().await;
        // A file where the folder should be: every write fails.
        let blocker = std::env::temp_dir().join(format!("taccuino-mail-{}", uuid::Uuid::new_v4()));
        std::fs::write(&blocker, b"not a folder").expect("file");
        let config = config("folder").mail;
        enqueue(&db, &message("assistente@example.org"))
            .await
            .expect("enqueued");

        let before = Utc::now();
        let done = deliver_due(&db, &Transport::Folder(blocker.clone()), &config)
            .await
            .expect("pass");
        assert_eq!(done, Delivered { sent: 0, failed: 1 });
        let row = outbox(&db).await.remove(0);
        assert_eq!(row.attempts, 1);
        assert!(row.sent_at.is_none() && row.leased_until.is_none());
        assert!(row.next_attempt_at >= before + chrono::Duration::seconds(29));
        let error = row.last_error.unwrap_or_default();
        assert!(error.starts_with("folder:"), "{error}");
        assert!(!error.contains("assistente"), "{error}");
        std::fs::remove_file(&blocker).expect("cleanup");
    }

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_an_hour() {
        let first = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=9).map(|n| backoff(first, n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(first, i32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(first, 0), first);
        assert_eq!(backoff(Duration::from_secs(1), 3), Duration::from_secs(4));
    }
}
