//! One fresh database per test: a SQLite file in a temporary directory, or a PostgreSQL database.

use std::path::PathBuf;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

/// The database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL of the tests is; `TACCUINO_TEST_POSTGRES_URL` overrides it. Test
/// databases are created and dropped through this connection.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for one test and is removed when dropped.
#[derive(Debug)]
pub(crate) enum TestDatabase {
    Sqlite {
        dir: PathBuf,
        url: String,
    },
    Postgres {
        maintenance_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    pub(crate) async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("taccuino-test-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("create a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.join("taccuino.db").display());
                Self::Sqlite { dir, url }
            }
            Backend::Postgres => {
                let maintenance_url = std::env::var("TACCUINO_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let name = format!("taccuino_t_{}", uuid::Uuid::new_v4().simple());
                let admin = connect(&maintenance_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {}: {e}.\n\
                         The PostgreSQL half of the suite needs a running server: start one, \
                         or point TACCUINO_TEST_POSTGRES_URL at it.",
                        taccuino_server::config::redact_url(&maintenance_url)
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
                let _ = admin.close().await;
                let url = with_database(&maintenance_url, &name);
                Self::Postgres {
                    maintenance_url,
                    name,
                    url,
                }
            }
        }
    }

    pub(crate) fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            Self::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres {
                maintenance_url,
                name,
                ..
            } => {
                // Drop runs inside the test's runtime, which cannot be blocked on: use a thread
                // with a runtime of its own.
                let (url, name) = (maintenance_url.clone(), name.clone());
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let outcome = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let admin = connect(&url).await.map_err(|e| e.to_string())?;
                        admin
                            .execute_unprepared(&sql)
                            .await
                            .map_err(|e| e.to_string())?;
                        admin.close().await.map_err(|e| e.to_string())
                    })
                })
                .join();
                if let Ok(Err(e)) = outcome {
                    eprintln!("could not drop the test database {name}: {e}");
                }
            }
        }
    }
}

/// A maintenance connection that gives up quickly when PostgreSQL is not there.
async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// `url` with its database name replaced by `name` (and its query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432?sslmode=disable", "t1"),
            "postgres://u:p@db:5432/t1?sslmode=disable"
        );
    }
}
