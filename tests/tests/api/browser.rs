//! The PWA in a real browser (Debian's headless Chromium, driven by playwright-core from
//! `tests/e2e/`), against the real server: offline recording, two phones merging, and a
//! rejection that comes back to the phone and is amended. The browser side of each story is a
//! script in `tests/e2e/`; here we set the stage and check what reached the server.

use std::collections::HashSet;

use serde_json::{Value, json};
use taccuino_sync::protocol::DocumentId;
use taccuino_tests::{
    Backend, DEMO_PASSWORD, Session, TestApp, demo,
    fixtures::{Demo, replan},
    node, story,
    sync_fixtures::register_shows,
};
use uuid::Uuid;

/// Runs a browser story of `tests/e2e/` against `app`, with screenshots kept in
/// `tests/artifacts/screenshots/<backend>/<story>/` (emptied first).
async fn browser(app: &TestApp, script: &str, vars: &[(&str, String)]) -> Value {
    // One browser story at a time: two Chromiums with two or three pages each, beside the
    // servers, saturate CI's two cores, and the stories' waits are for the app, not the host.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    node::ensure("ensure-chromium", &[]);
    node::ensure("ensure-node-deps", &["tests/e2e"]);
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let story = script.trim_end_matches(".mjs");
    let shots = node::repo_root().join(format!("tests/artifacts/screenshots/{backend}/{story}"));
    // Stale failure screenshots of an earlier run would mislead.
    let _ = std::fs::remove_dir_all(&shots);
    let mut all = vec![
        ("TACCUINO_URL".to_owned(), app.address.clone()),
        ("TACCUINO_PASSWORD".to_owned(), DEMO_PASSWORD.to_owned()),
        ("OPERATOR_EMAIL".to_owned(), demo::OPERATOR.to_owned()),
        (
            "SOCIAL_WORKER_EMAIL".to_owned(),
            demo::SOCIAL_WORKER.to_owned(),
        ),
        ("YESTERDAY".to_owned(), yesterday()),
        ("SCREENSHOTS_DIR".to_owned(), shots.display().to_string()),
        ("TIMEOUT_MS".to_owned(), "180000".to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    node::run(&format!("tests/e2e/{script}"), all).await
}

fn yesterday() -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string()
}

/// Every record id the register holds for the demo operator.
async fn register_ids(worker: &Session, demo: &Demo) -> HashSet<String> {
    worker
        .list_all(&format!(
            "/service-records?operator_id={}",
            demo.operator_id
        ))
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The demo operator's active plans other than `except`.
async fn other_active_plans(worker: &Session, demo: &Demo, except: &str) -> Vec<String> {
    worker
        .list_all("/care-plans?status=active")
        .await
        .iter()
        .filter(|p| {
            p["id"] != except
                && p["operator_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| id == demo.operator_id.as_str()))
        })
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a UUID: {value}"))
}

story!(
    an_operator_records_three_visits_offline_and_the_server_gets_exactly_those_three,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let transport_plan = demo.girasole_plan_id();
        // The social worker adds social transports (8 trips a month) to the plan.
        replan(&worker, &transport_plan, |services| {
            services.push(json!({"service_type_id": demo.tra_id, "allowance": 8, "allowance_period": "month"}));
        })
        .await;
        let other_plan = other_active_plans(&worker, &demo, &transport_plan)
            .await
            .into_iter()
            .next()
            .expect("the demo operator has a second active plan");
        let before = register_ids(&worker, &demo).await;

        let result = browser(
            &app,
            "offline-visits.mjs",
            &[
                ("TRANSPORT_PLAN_ID", transport_plan.clone()),
                ("OTHER_PLAN_ID", other_plan.clone()),
                // A plan listed to the phone whose document never reaches it.
                (
                    "UNKNOWN_DOCUMENT_URL",
                    DocumentId::from(Uuid::new_v4()).to_url(),
                ),
            ],
        )
        .await;
        let recorded: HashSet<String> = result["records"]
            .as_array()
            .expect("the story lists its records")
            .iter()
            .map(|id| id.as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(recorded.len(), 3);

        // Exactly those three reached the register, once each.
        let mut rows = Vec::new();
        for id in &recorded {
            rows.push(register_shows(&worker, uuid(&json!(id)), |_| true).await);
        }
        let after = register_ids(&worker, &demo).await;
        let new: HashSet<String> = after.difference(&before).cloned().collect();
        assert_eq!(
            new, recorded,
            "the register's new records are the phone's three"
        );
        let listed = worker
            .list_all(&format!(
                "/service-records?operator_id={}",
                demo.operator_id
            ))
            .await;
        for id in &recorded {
            assert_eq!(listed.iter().filter(|r| r["id"] == id.as_str()).count(), 1);
        }

        let transport = rows
            .iter()
            .find(|r| r["service_type_id"] == demo.tra_id.as_str())
            .expect("the transport");
        assert_eq!(transport["care_plan_id"], transport_plan.as_str());
        assert_eq!(transport["km"], 12.5);
        assert_eq!(transport["origin"], "Casa");
        assert_eq!(transport["destination"], "Ospedale di Vizzolo Predabissi");
        let missed = rows
            .iter()
            .find(|r| r["missed"] == true)
            .expect("the missed visit");
        assert_eq!(missed["missed_reason"], "beneficiary_absent");
        assert_eq!(missed["quantity"], 0.0);
        let timed = rows
            .iter()
            .find(|r| r["notes"] == "Visita con il timer")
            .expect("the visit timed at the door");
        assert_eq!(timed["care_plan_id"], other_plan.as_str());
        assert!(timed["ended_at"].is_string(), "the timer stopped: {timed}");
        for row in &rows {
            assert_eq!(row["operator_id"], demo.operator_id.as_str());
            assert_eq!(row["source"], "sync");
        }
        assert!(result["save_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    }
);

story!(
    two_phones_of_one_operator_edit_offline_and_both_edits_survive,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let plan = demo.girasole_plan_id();
        let result = browser(&app, "two-devices.mjs", &[("PLAN_ID", plan)]).await;

        let worker = app.login(demo::SOCIAL_WORKER).await;
        let merged = result["notes"].as_str().expect("the merged notes");
        register_shows(&worker, uuid(&result["shared"]), |r| r["notes"] == merged).await;
        register_shows(&worker, uuid(&result["added"]), |r| {
            r["notes"] == "Passeggiata"
        })
        .await;
        let devices = app.login(demo::OPERATOR).await.list_all("/devices").await;
        assert!(
            devices.len() >= 2,
            "each phone registered itself: {devices:?}"
        );
    }
);

story!(
    a_rejected_record_comes_back_to_the_phone_with_its_reason_and_is_amended,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let plan = demo.girasole_plan_id();
        let result = browser(&app, "reject-amend.mjs", &[("PLAN_ID", plan.clone())]).await;

        let worker = app.login(demo::SOCIAL_WORKER).await;
        let id = uuid(&result["record"]);
        let row = register_shows(&worker, id, |r| r["status"] == "amended").await;
        assert!(
            row["ended_at"]
                .as_str()
                .is_some_and(|end| end.ends_with("30:00Z")),
            "the amended end time: {row}"
        );
        let history = worker
            .get(&format!("/service-records/{id}/history"))
            .await
            .expect(200);
        let steps: Vec<&str> = history.body["items"]
            .as_array()
            .expect("history steps")
            .iter()
            .filter_map(|s| s["action"].as_str())
            .collect();
        assert!(
            steps.contains(&"rejected") && steps.contains(&"corrected"),
            "rejected, then corrected from the phone: {steps:?}"
        );
        let rejection = history.body["items"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["action"] == "rejected"))
            .expect("the rejection step");
        assert_eq!(rejection["reason_code"], "quantity_mismatch");
        assert_eq!(rejection["note"], result["reason"]);

        // The bulk validation left waiting only what has a blocking finding.
        assert!(
            result["bulk"]
                .as_str()
                .is_some_and(|m| m.starts_with("Validate "))
        );
        let waiting = worker
            .list_all(&format!(
                "/service-records?care_plan_id={plan}&status=recorded"
            ))
            .await;
        for record in &waiting {
            let blocked = record["findings"].as_array().is_some_and(|findings| {
                findings
                    .iter()
                    .any(|f| f["severity"] == "blocking" && f["acknowledgement"].is_null())
            });
            assert!(blocked, "a clean record was left waiting: {record}");
        }
    }
);
