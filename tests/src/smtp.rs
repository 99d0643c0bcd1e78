//! A real SMTP server for the mail stories: `tests/smtp/sink.py` (aiosmtpd, installed by
//! `scripts/ensure-smtp-sink`) as a child process on a free loopback port.
//!
//! [`SmtpSink::start`] waits until it accepts connections; [`SmtpSink::stop`] kills it (an SMTP
//! outage) and [`SmtpSink::restart`] brings it back on the same port. The sink writes each
//! message it accepts as JSON (envelope, raw message, and the subject and text/HTML parts as
//! Python's own email parser decodes them); [`SmtpSink::messages`] and
//! [`SmtpSink::wait_for`] read them back.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::{Instant, sleep};

/// How long the sink may take to listen (a cold Python start on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One message the sink accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// Envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// Envelope recipients (`RCPT TO`).
    pub rcpt_tos: Vec<String>,
    /// The decoded `Subject`.
    pub subject: String,
    /// The `Message-ID` header.
    pub message_id: String,
    /// The top-level MIME type.
    pub content_type: String,
    /// The decoded `text/plain` part.
    pub text: Option<String>,
    /// The decoded `text/html` part.
    pub html: Option<String>,
    /// The message as received.
    pub raw: String,
}

impl Received {
    /// The only envelope recipient; panics if there are several.
    pub fn recipient(&self) -> &str {
        match self.rcpt_tos.as_slice() {
            [one] => one,
            more => panic!("expected one recipient, got {more:?}"),
        }
    }
}

/// The running (or stopped) sink. Dropping it kills the process and removes its files.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    dir: PathBuf,
    python: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// Installs aiosmtpd if needed, starts the sink on a free port and waits until it listens.
    pub async fn start() -> Self {
        let python = tokio::task::spawn_blocking(ensure_sink)
            .await
            .expect("the install thread does not panic");
        let dir =
            std::env::temp_dir().join(format!("taccuino-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("messages")).expect("create the sink's directory");
        let mut sink = Self {
            port: free_port(),
            dir,
            python,
            child: None,
        };
        sink.restart().await;
        sink
    }

    /// The server settings that send through this sink (plain SMTP on loopback).
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("TACCUINO_MAIL_TRANSPORT", "smtp".to_owned()),
            ("TACCUINO_SMTP_HOST", "127.0.0.1".to_owned()),
            ("TACCUINO_SMTP_PORT", self.port.to_string()),
            ("TACCUINO_SMTP_SECURITY", "none".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Kills the sink: connections to its port are refused until [`SmtpSink::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the sink (again) on its port and waits until it accepts connections; the
    /// messages received before are kept.
    pub async fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sink.log"))
            .expect("open the sink's log");
        let errors = log.try_clone().expect("share the sink's log");
        let script = repo_root().join("tests/smtp/sink.py");
        let mut child = Command::new(&self.python)
            .arg(&script)
            .arg(self.port.to_string())
            .arg(self.dir.join("messages"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(errors))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the SMTP sink exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not listen in time: {}",
                self.log()
            );
            sleep(Duration::from_millis(50)).await;
        }
        self.child = Some(child);
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("messages"))
            .expect("the sink's directory")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} messages within {timeout:?}, got {}: {messages:#?}",
                messages.len()
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sink.log")).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the repository")
        .to_owned()
}

/// `scripts/ensure-smtp-sink`: installs aiosmtpd when missing, answers the venv's python.
fn ensure_sink() -> PathBuf {
    let script = repo_root().join("scripts/ensure-smtp-sink");
    let output = Command::new(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
