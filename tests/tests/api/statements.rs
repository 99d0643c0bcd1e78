//! Monthly statements: the provider drafts and submits the month, the municipality approves it,
//! the month's records lock, a reopening (with a reason) unlocks them; exports read back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use taccuino_server::domain::statement::Month;
use taccuino_tests::{Reply, Session, demo, fixtures::Demo, story};

/// A month of the demo data with reviewed records: the demo records cover the last 30 days and
/// those older than a week are mostly validated.
fn demo_month() -> Month {
    Month::of(Utc::now() - Duration::days(20))
}

/// The records of `month` (in Rome) the session sees.
async fn month_records(session: &Session, month: Month) -> Vec<Value> {
    let (start, end) = month.bounds();
    session
        .list_all(&format!(
            "/service-records?from={}&to={}",
            start.to_rfc3339_opts(SecondsFormat::Secs, true),
            end.to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
        .await
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn milli(value: &Value) -> i64 {
    (value.as_f64().expect("a number") * 1000.0).round() as i64
}

/// Cents of a `{amount, currency}` money object.
fn cents(money: &Value) -> i64 {
    assert_eq!(money["currency"], "EUR", "money in euros: {money}");
    let amount = text(&money["amount"]);
    let (units, decimals) = amount.split_once('.').expect("two decimals");
    assert_eq!(decimals.len(), 2, "two decimals: {amount}");
    let value = units.trim_start_matches('-').parse::<i64>().expect("units") * 100
        + decimals.parse::<i64>().expect("cents");
    if amount.starts_with('-') {
        -value
    } else {
        value
    }
}

/// Tariffs in cents per service type id.
async fn tariffs(session: &Session) -> BTreeMap<String, i64> {
    session
        .list_all("/service-types")
        .await
        .iter()
        .map(|t| (text(&t["id"]), cents(&t["tariff"])))
        .collect()
}

/// Checks a statement's figures against the records as the API lists them: validated records
/// summed per plan and service type, times the tariff, rounded half up to the cent once per
/// line; the others listed apart.
fn assert_figures(statement: &Value, records: &[Value], tariffs: &BTreeMap<String, i64>) {
    let mut expected: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut apart = BTreeSet::new();
    for r in records {
        if r["status"] == "validated" {
            let line = expected
                .entry((text(&r["care_plan_id"]), text(&r["service_type_id"])))
                .or_default();
            line.0 += 1;
            line.1 += milli(&r["quantity"]);
        } else {
            apart.insert(text(&r["id"]));
        }
    }
    let expected: BTreeMap<_, _> = expected
        .into_iter()
        .map(|(key, (count, quantity))| {
            let tariff = tariffs[&key.1];
            (
                key,
                (count, quantity, tariff, (quantity * tariff + 500) / 1000),
            )
        })
        .collect();
    let lines = statement["lines"].as_array().expect("lines");
    let actual: BTreeMap<_, _> = lines
        .iter()
        .map(|l| {
            (
                (text(&l["care_plan_id"]), text(&l["service_type_id"])),
                (
                    l["records"].as_i64().expect("records"),
                    milli(&l["quantity"]),
                    cents(&l["tariff"]),
                    cents(&l["amount"]),
                ),
            )
        })
        .collect();
    assert_eq!(actual, expected, "lines of {statement}");
    let total: i64 = expected.values().map(|line| line.3).sum();
    assert_eq!(
        cents(&statement["total"]),
        total,
        "total is the sum of the lines"
    );
    let excluded: BTreeSet<String> = statement["excluded_records"]
        .as_array()
        .expect("excluded records")
        .iter()
        .map(|x| {
            let kind = if x["status"] == "rejected" {
                "rejected"
            } else {
                "pending"
            };
            assert_eq!(x["exclusion"], kind, "{x}");
            text(&x["id"])
        })
        .collect();
    assert_eq!(excluded, apart, "records listed apart");
    // Statements never name people (DESIGN.md §2): pseudonyms only.
    let body = statement.to_string();
    for identity in ["given_name", "family_name", "tax_code"] {
        assert!(
            !body.contains(identity),
            "{identity} in a statement: {body}"
        );
    }
}

/// A visit of the demo operator on the demo Girasole plan in the middle of `month`.
fn visit_in(demo: &Demo, month: Month) -> Value {
    let day = month.first_day() + Duration::days(14);
    json!({
        "care_plan_id": demo.girasole_plan_id(),
        "operator_id": demo.operator_id,
        "service_type_id": demo.sad_id,
        "started_at": format!("{day}T07:00:00Z"),
        "ended_at": format!("{day}T08:30:00Z"),
    })
}

/// Validates a record as the social worker, setting aside the automatic checks' blocking
/// findings when it has any (the statements do not depend on them).
async fn validate(worker: &Session, record_id: &str) {
    let path = format!("/service-records/{record_id}");
    let etag = worker.get(&path).await.expect(200).etag();
    let validate = format!("{path}/validate");
    let reply = worker.post_if_match(&validate, json!({}), &etag).await;
    if reply.problem_code() == Some("blocking-findings") {
        worker
            .post_if_match(
                &validate,
                json!({"override_reason": "Verificato con la cooperativa"}),
                &etag,
            )
            .await
            .expect(200);
    } else {
        reply.expect(200);
    }
}

async fn draft(session: &Session, demo: &Demo, month: Month) -> Reply {
    session
        .post(
            "/statements",
            json!({"municipality_id": demo.municipality_id, "month": month.to_string()}),
        )
        .await
}

/// Drafts and submits the Girasole statement of `month`; returns its path and ETag.
async fn submitted(coordinator: &Session, demo: &Demo, month: Month) -> (String, String) {
    let created = draft(coordinator, demo, month).await.expect(201);
    let path = format!("/statements/{}", created.id());
    let reply = coordinator
        .post_if_match(&format!("{path}/submit"), json!({}), &created.etag())
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "submitted");
    (path, reply.etag())
}

story!(
    a_month_is_drafted_submitted_approved_locked_and_reopened,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let office = app.login(demo::ADMINISTRATIVE).await;
        let admin = app.login(demo::ADMIN).await;
        let month = demo_month();
        let tariffs = tariffs(&coordinator).await;

        // The social worker validates what is still waiting, but for one record left pending.
        let records = month_records(&coordinator, month).await;
        let waiting: Vec<String> = records
            .iter()
            .filter(|r| r["status"] == "recorded")
            .map(|r| text(&r["id"]))
            .collect();
        for id in waiting.iter().skip(1) {
            validate(&worker, id).await;
        }
        let records = month_records(&coordinator, month).await;
        assert!(
            records.iter().any(|r| r["status"] == "validated"),
            "the demo month has validated records"
        );

        // The coordinator drafts the month: live figures, the rest listed apart.
        let created = draft(&coordinator, &demo, month).await.expect(201);
        let path = format!("/statements/{}", created.id());
        assert_eq!(created.location(), format!("/api/v1{path}"));
        let body = &created.body;
        assert_eq!(body["status"], "draft");
        assert_eq!(body["frozen"], false);
        assert_eq!(body["month"], month.to_string());
        assert_eq!(body["provider_id"], demo.girasole_id);
        assert_eq!(body["provider_name"], demo::GIRASOLE);
        assert_eq!(body["period_start"], month.first_day().to_string());
        assert_eq!(body["period_end"], month.last_day().to_string());
        assert_figures(body, &records, &tariffs);
        if let Some(pending) = waiting.first() {
            assert!(
                body["excluded_records"]
                    .as_array()
                    .expect("excluded")
                    .iter()
                    .any(|x| x["id"] == pending.as_str() && x["status"] == "recorded"),
                "the pending record is listed apart: {body}"
            );
        }
        let draft_etag = created.etag();

        // Each side takes only its own steps.
        office
            .post_if_match(&format!("{path}/submit"), json!({}), &draft_etag)
            .await
            .expect_problem(403, "forbidden");
        coordinator
            .post_if_match(&format!("{path}/approve"), json!({}), &draft_etag)
            .await
            .expect_problem(403, "forbidden");
        office
            .post_if_match(&format!("{path}/approve"), json!({}), &draft_etag)
            .await
            .expect_problem(409, "invalid-transition");
        worker
            .post_if_match(
                &format!("{path}/reopen"),
                json!({"reason": "x"}),
                &draft_etag,
            )
            .await
            .expect_problem(409, "invalid-transition");

        let submitted = coordinator
            .post_if_match(&format!("{path}/submit"), json!({}), &draft_etag)
            .await
            .expect(200);
        assert_eq!(submitted.body["status"], "submitted");
        assert_eq!(submitted.body["frozen"], true);
        assert_eq!(submitted.body["outdated"], false);
        assert_eq!(submitted.body["lines"], created.body["lines"]);
        assert_eq!(submitted.body["total"], created.body["total"]);

        worker
            .post_if_match(&format!("{path}/approve"), json!({}), &submitted.etag())
            .await
            .expect_problem(403, "forbidden");
        office
            .post_if_match(&format!("{path}/approve"), json!({}), &draft_etag)
            .await
            .expect_problem(412, "version-mismatch");
        let approved = office
            .post_if_match(&format!("{path}/approve"), json!({}), &submitted.etag())
            .await
            .expect(200);
        assert_eq!(approved.body["status"], "approved");
        assert!(approved.body["approved_at"].is_string());
        assert_eq!(approved.body["total"], created.body["total"]);

        // The month is locked: no record of it changes, no new one enters it.
        let record = records
            .iter()
            .find(|r| r["status"] == "validated")
            .expect("a validated record");
        let record_path = format!("/service-records/{}", text(&record["id"]));
        let record_etag = coordinator.get(&record_path).await.expect(200).etag();
        let locked = coordinator
            .patch(&record_path, json!({"notes": "Correzione"}), &record_etag)
            .await
            .expect_problem(409, "month-locked");
        assert!(
            text(&locked.body["detail"]).contains(&created.id()),
            "the problem names the statement: {locked}"
        );
        coordinator
            .post("/service-records", visit_in(&demo, month))
            .await
            .expect_problem(409, "month-locked");

        // Only the municipality reopens, and only with a reason.
        coordinator
            .post_if_match(
                &format!("{path}/reopen"),
                json!({"reason": "x"}),
                &approved.etag(),
            )
            .await
            .expect_problem(403, "forbidden");
        worker
            .post_if_match(&format!("{path}/reopen"), json!({}), &approved.etag())
            .await
            .expect_invalid("reason");
        let reason = "Ore di ottobre da correggere per il piano di Anna";
        let reopened = worker
            .post_if_match(
                &format!("{path}/reopen"),
                json!({"reason": reason}),
                &approved.etag(),
            )
            .await
            .expect(200);
        assert_eq!(reopened.body["status"], "draft");
        assert_eq!(reopened.body["status_reason"], reason);
        assert_eq!(reopened.body["frozen"], false);
        let history: Vec<(String, String)> = reopened.body["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|e| (text(&e["action"]), text(&e["status"])))
            .collect();
        let steps: Vec<(&str, &str)> = history
            .iter()
            .map(|(a, s)| (a.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("create", "draft"),
                ("submit", "submitted"),
                ("approve", "approved"),
                ("reopen", "draft")
            ]
        );
        assert_eq!(reopened.body["history"][3]["reason"], reason);
        let audit = admin
            .list_all("/audit-events?action=statement.reopen")
            .await;
        assert!(
            audit
                .iter()
                .any(|e| e["resource_id"] == created.id().as_str()),
            "the reopening is audited: {audit:?}"
        );

        // The record can be corrected again; it goes back to review.
        let edited = coordinator
            .patch(&record_path, json!({"notes": "Correzione"}), &record_etag)
            .await
            .expect(200);
        assert_eq!(edited.body["status"], "amended");
        let after = coordinator.get(&path).await.expect(200);
        assert_figures(
            &after.body,
            &month_records(&coordinator, month).await,
            &tariffs,
        );
    }
);

story!(
    an_approval_waits_for_the_figures_the_records_say_now,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let office = app.login(demo::ADMINISTRATIVE).await;
        let month = demo_month();
        let (path, etag) = submitted(&coordinator, &demo, month).await;
        let before = office.get(&path).await.expect(200);

        // A record enters the month and is validated after the submission.
        let record = coordinator
            .post("/service-records", visit_in(&demo, month))
            .await
            .expect(201);
        validate(&worker, &record.id()).await;
        let now = office.get(&path).await.expect(200);
        assert_eq!(now.body["outdated"], true);
        assert_eq!(
            now.body["lines"], before.body["lines"],
            "submitted figures stay"
        );
        office
            .post_if_match(&format!("{path}/approve"), json!({}), &etag)
            .await
            .expect_problem(409, "statement-outdated");
        assert_eq!(
            office.get(&path).await.expect(200).body["status"],
            "submitted"
        );

        // Reopened and submitted again, it holds the new record and can be approved.
        let reopened = office
            .post_if_match(
                &format!("{path}/reopen"),
                json!({"reason": "Prestazione validata dopo l'invio"}),
                &etag,
            )
            .await
            .expect(200);
        let resubmitted = coordinator
            .post_if_match(&format!("{path}/submit"), json!({}), &reopened.etag())
            .await
            .expect(200);
        assert_ne!(resubmitted.body["total"], before.body["total"]);
        office
            .post_if_match(&format!("{path}/approve"), json!({}), &resubmitted.etag())
            .await
            .expect(200);
    }
);

story!(
    exports_read_back_as_a_spreadsheet_and_as_json,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let office = app.login(demo::ADMINISTRATIVE).await;
        let month = demo_month();
        let (path, _) = submitted(&coordinator, &demo, month).await;
        let statement = office.get(&path).await.expect(200).body;
        let lines = statement["lines"].as_array().expect("lines").clone();
        assert!(!lines.is_empty(), "the demo month has figures");

        let csv = office
            .get(&format!("{path}/export?format=csv"))
            .await
            .expect(200);
        assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
        let disposition = csv.header("content-disposition").unwrap_or_default();
        assert!(
            disposition.starts_with("attachment")
                && disposition.contains(&format!("rendicontazione-{month}-"))
                && disposition.contains(".csv"),
            "{disposition}"
        );
        let text = csv.body.as_str().expect("CSV is text").to_owned();
        let rows_text = text
            .strip_prefix('\u{feff}')
            .expect("a UTF-8 byte order mark first");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(true)
            .from_reader(rows_text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("a header row")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header[0], "Progetto");
        assert_eq!(header[6], "Quantità");
        assert_eq!(header[8], "Importo (EUR)");
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map(|r| r.expect("a well-formed row"))
            .collect();
        assert_eq!(rows.len(), lines.len() + 1, "one row per line and a total");
        let from_comma = |cell: &str| -> i64 {
            assert!(!cell.contains('.'), "decimal comma, no dots: {cell}");
            cents(&json!({"amount": cell.replace(',', "."), "currency": "EUR"}))
        };
        for (row, line) in rows.iter().zip(&lines) {
            assert_eq!(&row[0], line["plan_title"].as_str().expect("title"));
            assert_eq!(&row[2], line["service_type_code"].as_str().expect("code"));
            assert_eq!(row[5].parse::<i64>().ok(), line["records"].as_i64());
            let quantity: f64 = row[6].replace(',', ".").parse().expect("a quantity");
            assert_eq!(milli(&json!(quantity)), milli(&line["quantity"]));
            assert_eq!(from_comma(&row[7]), cents(&line["tariff"]));
            assert_eq!(from_comma(&row[8]), cents(&line["amount"]));
        }
        let total = rows.last().expect("a total row");
        assert_eq!(&total[0], "Totale");
        assert_eq!(from_comma(&total[8]), cents(&statement["total"]));
        let sum: i64 = rows[..lines.len()].iter().map(|r| from_comma(&r[8])).sum();
        assert_eq!(
            sum,
            cents(&statement["total"]),
            "the rows add up to the total"
        );

        let exported = coordinator
            .get(&format!("{path}/export?format=json"))
            .await
            .expect(200);
        assert!(exported.content_type().starts_with("application/json"));
        assert!(
            exported
                .header("content-disposition")
                .is_some_and(|d| d.contains(".json")),
            "{exported}"
        );
        assert_eq!(exported.body["id"], statement["id"]);
        assert_eq!(exported.body["lines"], statement["lines"]);
        assert_eq!(exported.body["total"], statement["total"]);
        coordinator
            .get(&format!("{path}/export?format=pdf"))
            .await
            .expect_invalid("format");

        let page = office.get(&format!("{path}/print")).await.expect(200);
        assert!(page.content_type().starts_with("text/html"));
        let html = page.body.as_str().expect("HTML is text");
        assert!(html.contains(&format!("Rendicontazione {month}")));
        assert!(html.contains(demo::GIRASOLE));
        assert!(
            !html.contains("<script") && !html.contains("http"),
            "self-contained"
        );
    }
);

story!(
    statements_stay_within_each_side_and_refuse_bad_input,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let girasole_office = app.login(demo::GIRASOLE_ADMINISTRATIVE).await;
        let arcobaleno = app.login(demo::ARCOBALENO_COORDINATOR).await;
        let office = app.login(demo::ADMINISTRATIVE).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let admin = app.login(demo::ADMIN).await;
        let month = demo_month();

        // The provider's administrative office drafts too; the municipality never does.
        let girasole = draft(&girasole_office, &demo, month).await.expect(201);
        let path = format!("/statements/{}", girasole.id());
        draft(&coordinator, &demo, month)
            .await
            .expect_problem(409, "statement-exists");
        draft(&office, &demo, month)
            .await
            .expect_problem(403, "forbidden");
        draft(&worker, &demo, month)
            .await
            .expect_problem(403, "forbidden");
        operator
            .get("/statements")
            .await
            .expect_problem(403, "forbidden");
        admin
            .get("/statements")
            .await
            .expect_problem(403, "forbidden");

        // Another provider sees neither the statement nor its exports.
        let arcobaleno_draft = draft(&arcobaleno, &demo, month).await.expect(201);
        arcobaleno.get(&path).await.expect_problem(404, "not-found");
        arcobaleno
            .get(&format!("{path}/export?format=csv"))
            .await
            .expect_problem(404, "not-found");
        arcobaleno
            .post_if_match(&format!("{path}/submit"), json!({}), &girasole.etag())
            .await
            .expect_problem(404, "not-found");
        let own: Vec<Value> = arcobaleno.list_all("/statements").await;
        assert_eq!(own.len(), 1);
        assert_eq!(own[0]["id"], arcobaleno_draft.id().as_str());

        // The municipality sees both; filters narrow the list.
        assert_eq!(office.list_all("/statements").await.len(), 2);
        let filtered = office
            .list_all(&format!(
                "/statements?provider_id={}&month={month}&status=draft",
                demo.girasole_id
            ))
            .await;
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0]["id"], girasole.id().as_str());
        let page = worker.get("/statements?limit=1").await.expect(200);
        assert_eq!(page.body["total"], 2);
        assert_eq!(page.items().len(), 1);
        office
            .get("/statements?month=2026-13")
            .await
            .expect_invalid("month");

        // Invalid input names its field.
        for bad in ["2026-13", "2026-1", "novembre", "1999-12"] {
            coordinator
                .post(
                    "/statements",
                    json!({"municipality_id": demo.municipality_id, "month": bad}),
                )
                .await
                .expect_invalid("month");
        }
        coordinator
            .post(
                "/statements",
                json!({"municipality_id": demo.municipality_id, "month": Month::of(Utc::now()).next().to_string()}),
            )
            .await
            .expect_invalid("month");
        for unknown in [uuid::Uuid::new_v4().to_string(), demo.girasole_id.clone()] {
            coordinator
                .post(
                    "/statements",
                    json!({"municipality_id": unknown, "month": month.to_string()}),
                )
                .await
                .expect_invalid("municipality_id");
        }
        coordinator
            .post(
                "/statements",
                json!({"municipality_id": demo.municipality_id}),
            )
            .await
            .expect_invalid("month");

        // Transitions need the version read.
        coordinator
            .call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect_problem(428, "if-match-required");
    }
);
