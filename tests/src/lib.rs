//! Black-box test harness: the real server, on a real port, over a fresh database.
//!
//! Every test gets its own server with the demo data loaded, on SQLite (a fresh file in a fresh
//! temporary directory) or PostgreSQL (a fresh database, dropped afterwards). Tests talk to it
//! over HTTP only, through [`TestApp`] and [`Session`], and read the answers as [`Reply`]s.
//!
//! The [`story!`] macro runs one story on both backends.

mod database;
pub mod device;
pub mod fixtures;
mod http;
pub mod node;
pub mod process;
pub mod smtp;
pub mod sync_fixtures;
pub mod tax_code;

use std::future::Future;

use taccuino_server::{app::Application, config::Config};

pub use database::Backend;
use database::TestDatabase;
pub use http::{Call, Reply, Session};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = taccuino_server::demo::DEMO_PASSWORD;

/// The demo users, one per role (DESIGN.md §2).
pub mod demo {
    /// System administrator of the Comune di Melegnano.
    pub const ADMIN: &str = "admin@example.org";
    /// Social worker of the municipality.
    pub const SOCIAL_WORKER: &str = "assistente@example.org";
    /// Administrative staff of the municipality.
    pub const ADMINISTRATIVE: &str = "amministrativo@example.org";
    /// Coordinator of the Cooperativa Sociale Il Girasole.
    pub const COORDINATOR: &str = "coordinatore@example.org";
    /// Field operator of Il Girasole, authorized on several active plans.
    pub const OPERATOR: &str = "operatore@example.org";
    /// Coordinator of the Cooperativa Sociale Arcobaleno.
    pub const ARCOBALENO_COORDINATOR: &str = "coordinatore.arcobaleno@example.org";
    /// Field operator of Arcobaleno.
    pub const ARCOBALENO_OPERATOR: &str = "operatore.arcobaleno1@example.org";
    /// Administrative staff of Il Girasole.
    pub const GIRASOLE_ADMINISTRATIVE: &str = "amministrativo.girasole@example.org";

    pub const MUNICIPALITY: &str = "Comune di Melegnano";
    pub const GIRASOLE: &str = "Cooperativa Sociale Il Girasole";
    pub const ARCOBALENO: &str = "Cooperativa Sociale Arcobaleno";
}

/// A running server and the database behind it. Dropping it drops the database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `address` + `/api/v1`: every path given to the helpers is relative to it.
    pub api: String,
    /// The server's own database connection, to check what was persisted.
    pub db: sea_orm::DatabaseConnection,
    /// Which backend this server runs on.
    pub backend: Backend,
    client: reqwest::Client,
    // Last, so the database is dropped after everything that uses it.
    _database: TestDatabase,
}

/// Starts a server in demo mode on `backend`, with generous rate limits so that only the tests
/// about rate limiting ever meet them.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| None).await
}

/// Like [`spawn_app`], with settings: `overrides(name)` answers first for every variable.
pub async fn spawn_app_with(
    backend: Backend,
    overrides: impl Fn(&str) -> Option<String>,
) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let database_url = database.url().to_owned();
    let config = Config::from_lookup(true, |name| {
        overrides(name).or_else(|| {
            let default = match name {
                "TACCUINO_BIND" => "127.0.0.1:0",
                "DATABASE_URL" => &database_url,
                "TACCUINO_RATE_LIMIT_PER_MINUTE" => "100000",
                "TACCUINO_RATE_LIMIT_BURST" => "100000",
                "TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE" => "1000",
                // No email unless a story asks for it (tests/api/mail.rs): demo mode would
                // otherwise write every notification into a folder under the working directory.
                "TACCUINO_MAIL_TRANSPORT" => "off",
                _ => return None,
            };
            Some(default.to_owned())
        })
    })
    .expect("the test configuration is valid");
    let app = Application::build(config)
        .await
        .unwrap_or_else(|e| panic!("the server failed to start on {backend:?}: {e:#}"));
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    TestApp {
        api: format!("{address}/api/v1"),
        address,
        db,
        backend,
        client,
        _database: database,
    }
}

/// Settings for [`spawn_app_with`] from a list of pairs.
pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
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

/// Runs one story against a fresh server; used by [`story!`].
pub async fn run_story<F, Fut>(backend: Backend, settings: &[(&str, &str)], story: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = spawn_app_with(backend, env(settings)).await;
    story(app).await;
}

/// Declares a story that runs on both SQLite and PostgreSQL:
///
/// ```ignore
/// story!(a_social_worker_sees_the_register, |app| async move { ... });
/// story!(logins_are_limited, env = [("TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE", "3")], |app| async move { ... });
/// ```
#[macro_export]
macro_rules! story {
    ($name:ident, $story:expr) => {
        $crate::story!($name, env = [], $story);
    };
    ($name:ident, env = [$(($key:expr, $value:expr)),* $(,)?], $story:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                $crate::run_story($crate::Backend::Sqlite, &[$(($key, $value)),*], $story).await;
            }

            #[tokio::test]
            async fn postgres() {
                $crate::run_story($crate::Backend::Postgres, &[$(($key, $value)),*], $story).await;
            }
        }
    };
}

impl TestApp {
    /// A request to `path` (relative to `/api/v1`, or an absolute URL), without credentials.
    pub fn call(&self, method: reqwest::Method, path: &str) -> Call {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.api)
        };
        Call::new(self.client.request(method.clone(), url), method, path)
    }

    /// An anonymous GET.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(reqwest::Method::GET, path).send().await
    }

    /// An anonymous POST of a JSON body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.call(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
    }

    /// An anonymous POST of raw bytes with any content type, for malformed input.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Reply {
        self.call(reqwest::Method::POST, path)
            .raw(content_type, body.into())
            .send()
            .await
    }

    /// An anonymous POST of an `application/x-www-form-urlencoded` body.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.post_raw(path, "application/x-www-form-urlencoded", body)
            .await
    }

    /// `POST /auth/login` with any password, whatever the outcome.
    pub async fn try_login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// Logs a demo user in with the demo password; panics unless the server says 200.
    pub async fn login(&self, email: &str) -> Session {
        self.login_with(email, DEMO_PASSWORD).await
    }

    /// Logs a user in; panics unless the server says 200.
    pub async fn login_with(&self, email: &str, password: &str) -> Session {
        let reply = self.try_login(email, password).await.expect(200);
        let mut session = self.session(reply.str("access_token"));
        session.who = email.to_owned();
        session.refresh_token = reply.body["refresh_token"].as_str().map(str::to_owned);
        session
    }

    /// Exchanges API client credentials for a token (`POST /auth/token`); panics unless 200.
    pub async fn client_credentials(&self, client_id: &str, client_secret: &str) -> Session {
        let reply = self
            .post_form(
                "/auth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret),
                ],
            )
            .await
            .expect(200);
        let mut session = self.session(reply.str("access_token"));
        session.who = format!("api client {client_id}");
        session
    }

    /// The first column of every row `sql` returns, as text: to check what the server stored.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        use sea_orm::{ConnectionTrait, Statement};
        let statement = Statement::from_string(self.db.get_database_backend(), sql);
        let rows = self
            .db
            .query_all_raw(statement)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| {
                row.try_get_by_index::<String>(0)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            })
            .collect()
    }

    /// A session that presents `token` as its bearer token, whatever it is.
    pub fn session(&self, token: impl Into<String>) -> Session {
        Session::new(self.client.clone(), self.api.clone(), token.into())
    }
}

/// Percent-encodes a form value (RFC 3986 unreserved characters pass through).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A short unique suffix for names, emails and codes that must not collide.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
}
