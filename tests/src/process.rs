//! The server as a separate process, for the stories that need to kill it the way a power cut
//! or the OOM killer does: SIGKILL, no shutdown hook, nothing flushed.
//!
//! [`ServerProcess::start`] builds the `taccuino` binary once per test binary (with the cargo
//! that runs the tests, into the target directory the test executable lives in), runs
//! `taccuino serve --demo` on a fresh test database and a free port, and waits for
//! `/api/v1/status`. It dereferences to a [`TestApp`] on that address, so sessions, devices and
//! `app.db` work as with the in-process server. [`ServerProcess::kill`] sends SIGKILL;
//! [`ServerProcess::restart`] starts the binary again on the same port and database.
//!
//! The server's output goes to a log file; when a test fails while the server runs, its tail is
//! printed with the failure.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database};
use tokio::time::{Instant, sleep};

use crate::database::TestDatabase;
use crate::{Backend, TestApp};

/// How long a start may take: migrations and the demo data on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of the server's log a failure shows.
const LOG_TAIL_BYTES: u64 = 6_000;

/// A `taccuino serve --demo` child process and the database it runs on. Dropping it kills the
/// process, then drops the database.
#[derive(Debug)]
pub struct ServerProcess {
    /// Owns the database: `Drop` kills the process before the fields (and so the database) go.
    app: TestApp,
    child: Option<Child>,
    port: u16,
    database_url: String,
    settings: Vec<(String, String)>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the server on a fresh database of `backend`, with the rate limits of
    /// [`crate::spawn_app`] and `settings` (environment variables) on top; waits until it
    /// answers `/api/v1/status` with 200. Panics, with the server's log, if it does not.
    pub async fn start(backend: Backend, settings: &[(&str, &str)]) -> Self {
        let binary = server_binary().await;
        let database = TestDatabase::create(backend).await;
        let database_url = database.url().to_owned();
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let log = std::env::temp_dir().join(format!(
            "taccuino-process-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        // A port nobody else picked between our probe and the server's bind is all but
        // certain; if another process wins that race the server exits at once, and we try again
        // on another port.
        let mut attempt = 0;
        let (child, port) = loop {
            attempt += 1;
            let port = free_port();
            let mut child = spawn(&binary, port, &database_url, &settings, &log);
            match wait_ready(&mut child, port, &log).await {
                Ok(()) => break (child, port),
                Err(exited) if exited && attempt < 3 => continue,
                Err(_) => panic!(
                    "the server process did not start on {backend:?}; its log ends with:\n{}",
                    log_tail(&log)
                ),
            }
        };
        let address = format!("http://127.0.0.1:{port}");
        let app = TestApp {
            api: format!("{address}/api/v1"),
            address,
            db: connect(&database_url).await,
            backend,
            client: http_client(),
            _database: database,
        };
        Self {
            app,
            child: Some(child),
            port,
            database_url,
            settings,
            log,
        }
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server with SIGKILL (`Child::kill` on Unix) and reaps it. Whatever it had
    /// not written to the database is lost, as in a power cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Err: it already exited, which a later check of the log explains.
            let _ = child.kill();
            let _ = child.wait();
            append_log(&self.log, "\n===== SIGKILL =====\n");
        }
    }

    /// Starts the server again, on the same port and database (killing it first if it still
    /// runs), and waits until it answers. Panics, with the log, if it does not come back.
    pub async fn restart(&mut self) {
        self.kill();
        let binary = server_binary().await;
        let mut child = spawn(
            &binary,
            self.port,
            &self.database_url,
            &self.settings,
            &self.log,
        );
        if wait_ready(&mut child, self.port, &self.log).await.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server process did not restart; its log ends with:\n{}",
                log_tail(&self.log)
            );
        }
        self.child = Some(child);
    }
}

impl Deref for ServerProcess {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- server log ({}) -----\n{}",
                self.log.display(),
                log_tail(&self.log)
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Starts `taccuino serve --demo` on `port` over `database_url`, with only the environment
/// given here (like [`crate::spawn_app_with`], which ignores the test's own environment).
fn spawn(
    binary: &Path,
    port: u16,
    database_url: &str,
    settings: &[(String, String)],
    log: &Path,
) -> Child {
    let output = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open the server log {}: {e}", log.display()));
    let errors = output
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot share the server log {}: {e}", log.display()));
    let mut command = Command::new(binary);
    command
        .args(["serve", "--demo"])
        .env_clear()
        .env("TACCUINO_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("TACCUINO_RATE_LIMIT_PER_MINUTE", "100000")
        .env("TACCUINO_RATE_LIMIT_BURST", "100000")
        .env("TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE", "1000")
        // No email (demo mode would write it into a folder under the working directory).
        .env("TACCUINO_MAIL_TRANSPORT", "off")
        .env("RUST_BACKTRACE", "1")
        // Warnings and errors, not one line per request: the log is for failure messages.
        .env("RUST_LOG", "info,access=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(errors));
    for (name, value) in settings {
        command.env(name, value);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
}

/// Polls `/api/v1/status` until it answers 200. `Err(true)` when the process exited first (a
/// port taken under our feet, or a crash: the log says which), `Err(false)` on time out.
async fn wait_ready(child: &mut Child, port: u16, log: &Path) -> Result<(), bool> {
    let status = format!("http://127.0.0.1:{port}/api/v1/status");
    let client = http_client();
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(exit)) = child.try_wait() {
            append_log(log, &format!("\n===== exited: {exit} =====\n"));
            return Err(true);
        }
        let ready = client
            .get(&status)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200);
        if ready {
            return Ok(());
        }
        sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(false)
}

/// The test's own connection to the server's database, to check what was persisted. One
/// connection is enough, and on SQLite it must not compete with the server for the writer.
async fn connect(url: &str) -> sea_orm::DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("cannot open the server's database: {e}"))
}

/// An HTTP client like the in-process [`TestApp`]'s: no proxy, no redirects followed.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// A port free right now on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

/// The server binary, built once per test binary. Panics with cargo's output if it does not
/// build.
async fn server_binary() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    // Building blocks for a while (a minute on a cold cache): off the test's runtime thread.
    let built = tokio::task::spawn_blocking(|| BINARY.get_or_init(build_server).clone())
        .await
        .expect("the build thread does not panic");
    built.unwrap_or_else(|e| panic!("{e}"))
}

/// `cargo build --locked -p taccuino-server --bin taccuino` with the cargo that runs the tests,
/// into the target directory this test executable is in (`<target>/<profile>/deps/api-...`),
/// with the same profile; returns `<target>/<profile>/taccuino`.
fn build_server() -> Result<PathBuf, String> {
    let test_exe = std::env::current_exe().map_err(|e| format!("no test executable: {e}"))?;
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in <target>/<profile>/deps", test_exe.display()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no target directory", profile_dir.display()))?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo =
        std::env::var_os("CARGO").unwrap_or_else(|| option_env!("CARGO").unwrap_or("cargo").into());
    let output = Command::new(&cargo)
        // `--locked`: a test never rewrites Cargo.lock; the cargo running the tests already
        // resolved it.
        .args(["build", "--locked", "--package", "taccuino-server"])
        .args(["--bin", "taccuino"])
        .arg("--profile")
        .arg(profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "building the server binary failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let binary = profile_dir.join(format!("taccuino{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "cargo built the server but {} is missing",
            binary.display()
        ))
    }
}

fn append_log(log: &Path, line: &str) {
    if let Ok(mut file) = OpenOptions::new().append(true).open(log) {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The last [`LOG_TAIL_BYTES`] of the log (or why it cannot be read).
fn log_tail(log: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(log)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()))
}
