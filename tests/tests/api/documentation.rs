//! The API says what it serves and serves what it says: the published OpenAPI document is the
//! committed one, every documented operation is routed, and `/status` tells the truth.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;
use taccuino_tests::{Backend, spawn_app, story};

story!(
    the_published_document_is_the_committed_one,
    |app| async move {
        let served = app.get("/openapi.json").await.expect(200);
        let committed: Value = serde_json::from_str(include_str!("../../../openapi/openapi.json"))
            .expect("openapi/openapi.json is JSON");
        assert!(
            served.body == committed,
            "the served document differs from the committed one"
        );
    }
);

story!(every_documented_operation_is_routed, |app| async move {
    let document = app.get("/openapi.json").await.expect(200).body;
    let paths = document["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, operations) in paths {
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        for method in operations.as_object().expect("operations").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let reply = app.call(method.clone(), &concrete).send().await;
            // Without credentials a routed operation answers 401 (secured), 2xx (status) or a
            // 4xx about the missing body: never the router's 404 or 405.
            assert!(
                ![404, 405].contains(&reply.status),
                "{method} {path} is documented but not routed: {reply}"
            );
            if operations[method.as_str().to_lowercase()]
                .get("security")
                .is_some()
            {
                assert_eq!(
                    reply.status, 401,
                    "{method} {path} must require a token: {reply}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} operations documented");
    let unknown = app.get("/no-such-resource").await.expect(404);
    assert!(
        unknown
            .content_type()
            .starts_with("application/problem+json"),
        "{unknown}"
    );
});

story!(
    the_interactive_documentation_works_offline,
    |app| async move {
        let client = reqwest::Client::new();
        let page = client
            .get(format!("{}/docs/", app.address))
            .send()
            .await
            .expect("docs page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        // Every script and stylesheet is served by us: no CDN.
        assert!(
            !html.contains("https://"),
            "the docs page loads something remote: {html}"
        );
        for asset in [
            "swagger-ui.css",
            "swagger-ui-bundle.js",
            "swagger-initializer.js",
        ] {
            let reply = client
                .get(format!("{}/docs/{asset}", app.address))
                .send()
                .await
                .expect("asset");
            assert_eq!(reply.status(), 200, "{asset}");
        }
    }
);

/// A database that goes away turns `/status` into a 503 problem with `Retry-After`, so load
/// balancers and monitors see it; PostgreSQL only, since a SQLite file cannot be taken away
/// from an open connection.
#[tokio::test]
async fn status_reports_a_database_that_went_away() {
    let app = spawn_app(Backend::Postgres).await;
    app.get("/status").await.expect(200);
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT current_database() AS name",
        ))
        .await
        .expect("query")
        .expect("a row");
    let name: String = row.try_get("", "name").expect("database name");
    let url = std::env::var("TACCUINO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let admin = Database::connect(url)
        .await
        .expect("maintenance connection");
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .expect("drop the database under the server");
    let down = app.get("/status").await.expect(503);
    assert!(
        down.content_type().starts_with("application/problem+json"),
        "{down}"
    );
    assert!(down.header("retry-after").is_some(), "{down:?}");
    assert_eq!(down.body["status"], 503, "{down}");
}
