//! The stock JavaScript client (`@automerge/automerge-repo` 2.5.6 with its WebSocket adapter,
//! pinned in tests/interop/) syncs a diary with our server, reads a review back, and is
//! refused a document it may not see: no protocol code of ours on that side.

use serde_json::{Value, json};
use taccuino_sync::DocumentKind;
use taccuino_tests::{
    DEMO_PASSWORD, TestApp, demo, device::my_documents, fixtures::Demo, node, story,
    sync_fixtures::register_shows,
};
use uuid::Uuid;

/// Runs the Node client in `mode` as `email`; returns its final JSON line.
async fn node_client(app: &TestApp, email: &str, mode: &str, vars: &[(&str, String)]) -> Value {
    node::ensure("ensure-node-deps", &["tests/interop"]);
    let mut all = vec![
        ("TACCUINO_API".to_owned(), app.api.clone()),
        ("TACCUINO_EMAIL".to_owned(), email.to_owned()),
        ("TACCUINO_PASSWORD".to_owned(), DEMO_PASSWORD.to_owned()),
        ("MODE".to_owned(), mode.to_owned()),
        ("TIMEOUT_MS".to_owned(), "20000".to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    node::run("tests/interop/sync-diary.mjs", all).await
}

story!(
    the_stock_javascript_client_records_a_visit_and_reads_its_review,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let plan = demo.girasole_plan_id();
        let record = Uuid::new_v4();
        let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);

        let synced = node_client(
            &app,
            demo::OPERATOR,
            "record",
            &[
                ("CARE_PLAN_ID", plan.clone()),
                ("RECORD_ID", record.to_string()),
                ("SERVICE_TYPE_ID", demo.sad_id.clone()),
                ("STARTED_AT", format!("{yesterday}T15:00:00Z")),
                ("ENDED_AT", format!("{yesterday}T16:00:00Z")),
                ("NOTES", "Passeggiata al parco".to_owned()),
            ],
        )
        .await;
        assert!(synced["heads"].as_array().is_some_and(|h| !h.is_empty()));

        // The server projected it: the social worker sees it and validates it.
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let path = format!("/service-records/{record}");
        let row = register_shows(&worker, record, |_| true).await;
        assert_eq!(row["notes"], "Passeggiata al parco");
        assert_eq!(row["quantity"], 1.0);
        assert_eq!(row["operator_id"], demo.operator_id.as_str());
        // The demo plan's week is already full: the visit passes the allowance, knowingly.
        worker
            .post_if_match(
                &format!("{path}/validate"),
                json!({"override_reason": "Accesso in più concordato con la famiglia"}),
                &worker.get(&path).await.etag(),
            )
            .await
            .expect(200);

        let read = node_client(
            &app,
            demo::OPERATOR,
            "read-review",
            &[
                ("CARE_PLAN_ID", plan.clone()),
                ("RECORD_ID", record.to_string()),
            ],
        )
        .await;
        assert_eq!(read["review"]["status"], "validated");

        // Another provider's diary is unavailable to it, as if it did not exist.
        let foreign = my_documents(&app.login(demo::ARCOBALENO_OPERATOR).await)
            .await
            .into_iter()
            .find(|d| d.kind == DocumentKind::Diary)
            .expect("an Arcobaleno diary");
        let refused = node_client(
            &app,
            demo::OPERATOR,
            "forbidden",
            &[("DOCUMENT_URL", foreign.url.clone())],
        )
        .await;
        assert_eq!(refused["unavailable"], true);
    }
);
