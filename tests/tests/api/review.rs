//! The social worker's review: findings against the plan on every record, the queue, bulk
//! validation, overrides and acknowledgements, the record's history, and each municipality's
//! rule settings.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use taccuino_tests::{
    Reply, Session, TestApp, demo,
    fixtures::{Demo, new_beneficiary},
    story,
};

/// A fresh active plan of Il Girasole (6 hours of SAD a week) for a new beneficiary, with the
/// demo operator authorized: its records meet no demo record.
async fn fresh_plan(app: &TestApp, demo: &Demo) -> String {
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let coordinator = app.login(demo::COORDINATOR).await;
    let person = worker
        .post("/beneficiaries", new_beneficiary())
        .await
        .expect(201);
    let plan = worker
        .post("/care-plans", demo.new_plan(&person.id()))
        .await
        .expect(201);
    let path = format!("/care-plans/{}", plan.id());
    worker
        .post_if_match(&format!("{path}/activate"), json!({}), &plan.etag())
        .await
        .expect(200);
    let etag = coordinator.get(&path).await.expect(200).etag();
    coordinator
        .put(
            &format!("{path}/operators"),
            json!({"operator_ids": [demo.operator_id]}),
            &etag,
        )
        .await
        .expect(200);
    tolerate_late_entries(app, demo).await;
    plan.id()
}

/// The stories below enter last week's visits today, as an operator back from a dead zone
/// might: the municipality tolerates a fortnight's delay, so that only the rule each story is
/// about speaks.
async fn tolerate_late_entries(app: &TestApp, demo: &Demo) {
    let admin = app.login(demo::ADMIN).await;
    let path = format!("/organizations/{}/rule-settings", demo.municipality_id);
    let etag = admin.get(&path).await.expect(200).etag();
    admin
        .put(&path, json!({"thresholds": {"late_after_days": 15}}), &etag)
        .await
        .expect(200);
}

/// Monday of last week (a whole week in the past, so no visit is in the future).
fn last_monday() -> NaiveDate {
    let today = Utc::now().date_naive();
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7)
}

/// A SAD visit on `day` between two UTC times, in the evening: after the demo's working hours.
fn visit_on(demo: &Demo, plan: &str, day: NaiveDate, from: &str, to: &str) -> Value {
    json!({
        "care_plan_id": plan,
        "service_type_id": demo.sad_id,
        "started_at": format!("{day}T{from}:00Z"),
        "ended_at": format!("{day}T{to}:00Z"),
    })
}

/// The rule codes of a record's findings.
fn codes(record: &Value) -> Vec<String> {
    record["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn finding<'a>(record: &'a Value, code: &str) -> &'a Value {
    record["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["code"] == code))
        .unwrap_or_else(|| panic!("no {code} finding on {record}"))
}

async fn read(session: &Session, id: &str) -> Reply {
    session
        .get(&format!("/service-records/{id}"))
        .await
        .expect(200)
}

story!(
    the_queue_shows_each_synced_record_with_its_findings,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;

        // Everything waiting for a decision, oldest first, with the findings of each.
        let queue = worker.get("/reviews?limit=200").await.expect(200);
        assert!(queue.body["total"].as_u64() > Some(100), "{queue}");
        let starts: Vec<&str> = queue
            .items()
            .iter()
            .filter_map(|r| r["started_at"].as_str())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        assert!(
            queue
                .items()
                .iter()
                .all(|r| r["status"] == "recorded" || r["status"] == "amended")
        );
        // Each names who delivered it: the demo operator Marco Esposito among them.
        let by_operator = queue
            .items()
            .iter()
            .find(|r| r["operator_id"] == demo.operator_id.as_str())
            .expect("a record of the demo operator is waiting");
        assert_eq!(by_operator["operator_name"], "Marco Esposito");
        assert!(
            queue
                .items()
                .iter()
                .all(|r| r["operator_name"].as_str().is_some_and(|n| n.len() > 3)),
            "every record names its operator"
        );

        // The planted duplicates: each names the other.
        let duplicates = worker.list_all("/reviews?finding=likely_duplicate").await;
        assert_eq!(duplicates.len(), 4, "two planted pairs");
        for record in &duplicates {
            let other = finding(record, "likely_duplicate")["related_record_id"]
                .as_str()
                .expect("the other record");
            assert!(duplicates.iter().any(|r| r["id"] == other));
            assert_eq!(finding(record, "likely_duplicate")["severity"], "blocking");
            assert!(
                finding(record, "likely_duplicate")["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("doppia registrazione")),
                "Italian message"
            );
        }

        // A late record carries the measure: days against the configured limit.
        let late = worker.list_all("/reviews?finding=recorded_late").await;
        assert_eq!(late.len(), 2, "two planted late records");
        let measured = &finding(&late[0], "recorded_late")["measured"];
        assert_eq!(measured["limit"], 5.0);
        assert_eq!(measured["unit"], "days");
        assert!(measured["value"].as_f64() > Some(5.0));

        // A visit while the plan was suspended, and a visit of a service not in the plan.
        assert_eq!(
            worker
                .list_all("/reviews?finding=plan_not_active")
                .await
                .len(),
            2
        );
        assert_eq!(
            worker
                .list_all("/reviews?finding=service_not_in_plan")
                .await
                .len(),
            2
        );

        // Filters: blocking only; one provider only.
        for record in worker.list_all("/reviews?severity=blocking").await {
            assert!(
                record["findings"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f["severity"] == "blocking")),
                "{record}"
            );
        }
        let girasole_plans: Vec<Value> = worker
            .list_all(&format!("/care-plans?provider_id={}", demo.girasole_id))
            .await;
        let of_girasole = worker
            .list_all(&format!("/reviews?provider_id={}", demo.girasole_id))
            .await;
        assert!(!of_girasole.is_empty());
        assert!(
            of_girasole
                .iter()
                .all(|r| { girasole_plans.iter().any(|p| p["id"] == r["care_plan_id"]) })
        );

        // Bad filters name themselves.
        worker
            .get("/reviews?finding=nonsense")
            .await
            .expect_invalid("finding");
        worker
            .get("/reviews?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z")
            .await
            .expect_invalid("to");
        // Only social workers review.
        app.login(demo::COORDINATOR)
            .await
            .get("/reviews")
            .await
            .expect_problem(403, "forbidden");
    }
);

story!(
    findings_follow_the_record_its_neighbours_and_the_plan,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let plan = fresh_plan(&app, &demo).await;
        let monday = last_monday();
        let day = |n: i64| monday + Duration::days(n);

        // Two visits of the operator that overlap by half an hour: both are flagged, each
        // naming the other.
        let a = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day(0), "19:30", "21:00"),
            )
            .await
            .expect(201);
        assert_eq!(codes(&a.body), Vec::<String>::new(), "{a}");
        let b = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day(0), "20:30", "21:30"),
            )
            .await
            .expect(201);
        assert_eq!(codes(&b.body), ["operator_overlap"]);
        assert_eq!(
            finding(&b.body, "operator_overlap")["related_record_id"],
            a.id().as_str()
        );
        let a_now = read(&worker, &a.id()).await;
        assert_eq!(
            codes(&a_now.body),
            ["operator_overlap"],
            "the neighbour too"
        );

        // The operator moves the second visit to Tuesday: both are clean again.
        let moved = operator
            .patch(
                &format!("/service-records/{}", b.id()),
                json!({"started_at": format!("{}T19:30:00Z", day(1)), "ended_at": format!("{}T20:30:00Z", day(1))}),
                &b.etag(),
            )
            .await
            .expect(200);
        assert_eq!(codes(&moved.body), Vec::<String>::new(), "{moved}");
        assert_eq!(
            codes(&read(&worker, &a.id()).await.body),
            Vec::<String>::new()
        );

        // 1.5 + 1 + 2 hours fit the 6 hours of the week; another 2 do not. The visit that
        // passes the allowance carries the measure and the week.
        operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day(2), "19:00", "21:00"),
            )
            .await
            .expect(201);
        let over = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day(3), "19:00", "21:00"),
            )
            .await
            .expect(201);
        let allowance = finding(&over.body, "over_allowance");
        assert_eq!(allowance["severity"], "blocking");
        assert_eq!(allowance["measured"]["value"], 6.5);
        assert_eq!(allowance["measured"]["limit"], 6.0);
        let week = monday.iso_week();
        assert_eq!(
            allowance["period"],
            format!("{}-W{:02}", week.year(), week.week())
        );
        assert!(allowance["planned_service_id"].is_string());

        // The social worker raises the allowance to 8 hours: the finding goes.
        let plan_path = format!("/care-plans/{plan}");
        let current = worker.get(&plan_path).await.expect(200);
        worker
            .patch(
                &plan_path,
                json!({"planned_services": [{"service_type_id": demo.sad_id, "allowance": 8, "allowance_period": "week"}]}),
                &current.etag(),
            )
            .await
            .expect(200);
        assert_eq!(
            codes(&read(&worker, &over.id()).await.body),
            Vec::<String>::new()
        );

        // Suspended: a visit after the suspension is flagged, and stays flagged after the
        // plan resumes, because it was delivered while suspended.
        let current = worker.get(&plan_path).await.expect(200);
        let suspended = worker
            .post_if_match(
                &format!("{plan_path}/suspend"),
                json!({"reason": "Ricovero ospedaliero"}),
                &current.etag(),
            )
            .await
            .expect(200);
        let now = Utc::now();
        let during = operator
            .post(
                "/service-records",
                json!({
                    "care_plan_id": plan,
                    "service_type_id": demo.sad_id,
                    "started_at": now.to_rfc3339(),
                    "missed": true,
                    "missed_reason": "beneficiary_hospitalized",
                }),
            )
            .await
            .expect(201);
        assert_eq!(codes(&during.body), ["plan_not_active"], "{during}");
        worker
            .post_if_match(&format!("{plan_path}/resume"), json!({}), &suspended.etag())
            .await
            .expect(200);
        assert_eq!(
            codes(&read(&worker, &during.id()).await.body),
            ["plan_not_active"]
        );
        // Earlier visits were delivered while the plan was active.
        assert_eq!(
            codes(&read(&worker, &a.id()).await.body),
            Vec::<String>::new()
        );
    }
);

story!(
    a_blocking_finding_is_set_aside_only_with_a_reason,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let plan = fresh_plan(&app, &demo).await;
        let day = last_monday();

        // The same visit sent twice (two phones, two ids).
        let first = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day, "19:30", "21:00"),
            )
            .await
            .expect(201);
        let copy = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day, "19:35", "21:00"),
            )
            .await
            .expect(201);
        assert_eq!(codes(&copy.body), ["likely_duplicate"]);
        let first = read(&worker, &first.id()).await;
        assert_eq!(codes(&first.body), ["likely_duplicate"]);

        // Validating it as it stands is refused, naming the finding.
        let path = format!("/service-records/{}", first.id());
        let refused = worker
            .post_if_match(&format!("{path}/validate"), json!({}), &first.etag())
            .await
            .expect_problem(409, "blocking-findings");
        assert!(
            refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("likely_duplicate"))
        );

        // Rejecting the copy clears the original: a rejected record duplicates nothing.
        let copy_path = format!("/service-records/{}", copy.id());
        let copy_now = read(&worker, &copy.id()).await;
        worker
            .post_if_match(
                &format!("{copy_path}/reject"),
                json!({"reason_code": "duplicate", "note": "Registrata due volte"}),
                &copy_now.etag(),
            )
            .await
            .expect(200);
        let first = read(&worker, &first.id()).await;
        assert_eq!(codes(&first.body), Vec::<String>::new(), "{first}");

        // A third copy, and this time the social worker knows better: she overrides.
        let third = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, day, "19:40", "21:00"),
            )
            .await
            .expect(201);
        let third_path = format!("/service-records/{}", third.id());
        worker
            .post_if_match(
                &format!("{third_path}/validate"),
                json!({"override_reason": "  "}),
                &read(&worker, &third.id()).await.etag(),
            )
            .await
            .expect_problem(409, "blocking-findings");
        let validated = worker
            .post_if_match(
                &format!("{third_path}/validate"),
                json!({"override_reason": "Due operatrici in affiancamento, confermato dal coordinatore"}),
                &read(&worker, &third.id()).await.etag(),
            )
            .await
            .expect(200);
        assert_eq!(validated.body["status"], "validated");
        let overridden = finding(&validated.body, "likely_duplicate");
        assert_eq!(overridden["acknowledgement"]["kind"], "overridden");
        assert!(
            overridden["acknowledgement"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("affiancamento"))
        );

        // Everything is in the record's history, with the reasons.
        let history = worker
            .get(&format!("{third_path}/history"))
            .await
            .expect(200);
        let steps: Vec<(&str, &str)> = history.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|s| {
                        (
                            s["action"].as_str().unwrap_or(""),
                            s["reason_code"].as_str().unwrap_or(""),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            steps,
            [
                ("created", ""),
                ("overridden", "likely_duplicate"),
                ("validated", "")
            ]
        );
        // The provider sees the history too; administrative staff not the words.
        let coordinator = app.login(demo::COORDINATOR).await;
        coordinator
            .get(&format!("{third_path}/history"))
            .await
            .expect(200);
        let office = app.login(demo::ADMINISTRATIVE).await;
        let seen = office
            .get(&format!("{third_path}/history"))
            .await
            .expect(200);
        assert!(seen.body["items"][1]["note"].is_null(), "{seen}");
    }
);

story!(
    a_warning_is_acknowledged_with_a_reason_and_forgotten_when_the_record_changes,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let plan = fresh_plan(&app, &demo).await;
        let missed = operator
            .post(
                "/service-records",
                json!({
                    "care_plan_id": plan,
                    "service_type_id": demo.sad_id,
                    "started_at": format!("{}T19:30:00Z", last_monday()),
                    "missed": true,
                }),
            )
            .await
            .expect(201);
        assert_eq!(codes(&missed.body), ["missed_without_reason"]);
        let path = format!("/service-records/{}", missed.id());
        let acknowledge = format!("{path}/findings/missed_without_reason/acknowledge");
        let etag = read(&worker, &missed.id()).await.etag();

        // Bad requests first: no reason, no such finding, no If-Match, the wrong role.
        worker
            .post_if_match(&acknowledge, json!({"reason": ""}), &etag)
            .await
            .expect_invalid("reason");
        worker
            .post_if_match(
                &format!("{path}/findings/far_from_address/acknowledge"),
                json!({"reason": "Visto"}),
                &etag,
            )
            .await
            .expect_problem(404, "not-found");
        worker
            .post(&acknowledge, json!({"reason": "Visto"}))
            .await
            .expect_problem(428, "if-match-required");
        app.login(demo::COORDINATOR)
            .await
            .post_if_match(&acknowledge, json!({"reason": "Visto"}), &etag)
            .await
            .expect_problem(403, "forbidden");

        let acknowledged = worker
            .post_if_match(
                &acknowledge,
                json!({"reason": "Il coordinatore ha telefonato: assente per visita medica"}),
                &etag,
            )
            .await
            .expect(200);
        assert_ne!(acknowledged.etag(), etag, "a new version");
        let ack = &finding(&acknowledged.body, "missed_without_reason")["acknowledgement"];
        assert_eq!(ack["kind"], "acknowledged");
        // A second reviewer with the old ETag loses.
        worker
            .post_if_match(&acknowledge, json!({"reason": "Anche io"}), &etag)
            .await
            .expect_problem(412, "version-mismatch");
        // A warning does not stop a validation in the first place.
        assert_eq!(
            finding(&acknowledged.body, "missed_without_reason")["severity"],
            "warning"
        );

        // The operator adds the reason: the finding goes, and so does its acknowledgement.
        let etag = operator.get(&path).await.expect(200).etag();
        let corrected = operator
            .patch(
                &path,
                json!({"missed_reason": "other", "notes": "Visita medica"}),
                &etag,
            )
            .await
            .expect(200);
        assert_eq!(codes(&corrected.body), Vec::<String>::new());
        operator
            .patch(&path, json!({"missed_reason": null}), &corrected.etag())
            .await
            .expect(200);
        let again = read(&worker, &missed.id()).await;
        assert!(
            finding(&again.body, "missed_without_reason")["acknowledgement"].is_null(),
            "{again}"
        );

        // A blocking finding is not acknowledged: it is overridden when validating.
        operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, last_monday(), "20:00", "20:30"),
            )
            .await
            .expect(201);
        let dup = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, last_monday(), "20:05", "20:30"),
            )
            .await
            .expect(201);
        assert_eq!(codes(&dup.body), ["likely_duplicate"]);
        worker
            .post_if_match(
                &format!(
                    "/service-records/{}/findings/likely_duplicate/acknowledge",
                    dup.id()
                ),
                json!({"reason": "Visto"}),
                &read(&worker, &dup.id()).await.etag(),
            )
            .await
            .expect_problem(409, "finding-blocking");
    }
);

story!(
    a_bulk_validation_takes_the_clean_records_and_says_why_it_left_the_others,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let plan = fresh_plan(&app, &demo).await;
        let monday = last_monday();
        let mut clean = Vec::new();
        // 1 + 1 + 1.5 hours, and 2 more below: within the 6 hours of the week.
        for (n, from, to) in [
            (0, "19:00", "20:00"),
            (1, "19:00", "20:00"),
            (2, "19:00", "20:30"),
        ] {
            let r = operator
                .post(
                    "/service-records",
                    visit_on(&demo, &plan, monday + Duration::days(n), from, to),
                )
                .await
                .expect(201);
            clean.push(r.id());
        }
        // Two overlapping visits: blocking.
        let blocked_a = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, monday + Duration::days(3), "19:00", "20:00"),
            )
            .await
            .expect(201)
            .id();
        let blocked_b = operator
            .post(
                "/service-records",
                visit_on(&demo, &plan, monday + Duration::days(3), "19:30", "20:30"),
            )
            .await
            .expect(201)
            .id();

        let outcome = worker
            .post(
                "/reviews/bulk-validate",
                json!({"care_plan_id": plan, "note": "Verifica settimanale"}),
            )
            .await
            .expect(200);
        let mut validated: Vec<String> = outcome.body["validated"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        validated.sort();
        clean.sort();
        assert_eq!(validated, clean, "{outcome}");
        let skipped = outcome.body["skipped"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(skipped.len(), 2, "{outcome}");
        for s in &skipped {
            assert!(s["id"] == blocked_a.as_str() || s["id"] == blocked_b.as_str());
            assert_eq!(s["reason"], "blocking_findings");
            assert_eq!(s["findings"], json!(["operator_overlap"]));
        }

        // Each validated record says so, with the note, in its history too.
        let record = read(&worker, &clean[0]).await;
        assert_eq!(record.body["status"], "validated");
        assert_eq!(record.body["review"]["note"], "Verifica settimanale");
        let history = worker
            .get(&format!("/service-records/{}/history", clean[0]))
            .await
            .expect(200);
        let last = history.body["items"]
            .as_array()
            .and_then(|i| i.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(last["action"], "validated");
        assert_eq!(last["status"], "validated");

        // The queue of the plan now holds only what needs a decision by hand.
        let left = worker
            .list_all(&format!("/reviews?care_plan_id={plan}"))
            .await;
        let mut left: Vec<String> = left
            .iter()
            .map(|r| r["id"].as_str().unwrap_or("").to_owned())
            .collect();
        left.sort();
        let mut blocked = vec![blocked_a, blocked_b];
        blocked.sort();
        assert_eq!(left, blocked);

        // Again: nothing left to take.
        let again = worker
            .post("/reviews/bulk-validate", json!({"care_plan_id": plan}))
            .await
            .expect(200);
        assert_eq!(again.body["validated"], json!([]));

        // Nonsense filters are named.
        worker
            .post(
                "/reviews/bulk-validate",
                json!({"care_plan_id": plan, "colour": "red"}),
            )
            .await
            .expect_invalid("colour");
        worker
            .post(
                "/reviews/bulk-validate",
                json!({"from": "2026-11-10T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
            )
            .await
            .expect_invalid("to");
    }
);

story!(two_reviewers_cannot_both_win, |app| async move {
    let demo = Demo::discover(&app).await;
    let operator = app.login(demo::OPERATOR).await;
    let plan = fresh_plan(&app, &demo).await;
    let record = operator
        .post(
            "/service-records",
            visit_on(&demo, &plan, last_monday(), "19:30", "20:30"),
        )
        .await
        .expect(201);
    let path = format!("/service-records/{}", record.id());
    let anna = app.login(demo::SOCIAL_WORKER).await;
    let bruna = app.login(demo::SOCIAL_WORKER).await;
    let etag = anna.get(&path).await.expect(200).etag();
    let (validate_path, reject_path) = (format!("{path}/validate"), format!("{path}/reject"));
    let (validate, reject) = tokio::join!(
        anna.post_if_match(&validate_path, json!({}), &etag),
        bruna.post_if_match(
            &reject_path,
            json!({"reason_code": "other", "note": "Non risulta"}),
            &etag
        ),
    );
    let statuses = [validate.status, reject.status];
    assert!(
        statuses.contains(&200) && statuses.contains(&412),
        "exactly one wins: {validate} / {reject}"
    );
});

story!(
    a_municipality_tunes_its_rules_and_the_findings_follow,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let admin = app.login(demo::ADMIN).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let path = format!("/organizations/{}/rule-settings", demo.municipality_id);

        // The defaults, version 0.
        let defaults = admin.get(&path).await.expect(200);
        assert_eq!(defaults.body["version"], 0);
        assert_eq!(defaults.body["rules"].as_array().map(Vec::len), Some(16));
        assert_eq!(defaults.body["thresholds"]["late_after_days"], 5);
        assert_eq!(defaults.etag(), "\"0\"");
        // Providers serving the municipality read them; operators do not.
        app.login(demo::COORDINATOR)
            .await
            .get(&path)
            .await
            .expect(200);
        app.login(demo::OPERATOR)
            .await
            .get(&path)
            .await
            .expect_problem(403, "forbidden");

        // Bad settings are named, and nothing changes.
        admin
            .put(
                &path,
                json!({"thresholds": {"late_after_days": 0}}),
                &defaults.etag(),
            )
            .await
            .expect_invalid("thresholds.late_after_days");
        admin
            .put(
                &path,
                json!({"thresholds": {"min_visit_minutes": 700, "max_visit_minutes": 600}}),
                &defaults.etag(),
            )
            .await
            .expect_invalid("thresholds.min_visit_minutes");
        admin
            .put(&path, json!({"rules": [{"code": "no_such_rule", "enabled": true, "severity": "warning"}]}), &defaults.etag())
            .await
            .expect_invalid("rules[0].code");
        worker
            .put(&path, json!({}), &defaults.etag())
            .await
            .expect_problem(403, "forbidden");

        // Late records are no concern here, and a duplicate is only a warning.
        let saved = admin
            .put(
                &path,
                json!({
                    "rules": [
                        {"code": "recorded_late", "enabled": false, "severity": "warning"},
                        {"code": "likely_duplicate", "enabled": true, "severity": "warning"}
                    ],
                    "thresholds": {"duplicate_window_minutes": 20}
                }),
                &defaults.etag(),
            )
            .await
            .expect(200);
        assert_eq!(saved.body["version"], 1);
        assert_eq!(saved.body["thresholds"]["duplicate_window_minutes"], 20);
        assert_eq!(
            saved.body["thresholds"]["late_after_days"], 5,
            "kept its default"
        );
        admin
            .put(&path, json!({}), &defaults.etag())
            .await
            .expect_problem(412, "version-mismatch");

        assert!(
            worker
                .list_all("/reviews?finding=recorded_late")
                .await
                .is_empty()
        );
        let duplicates = worker.list_all("/reviews?finding=likely_duplicate").await;
        assert_eq!(duplicates.len(), 4);
        assert!(
            duplicates
                .iter()
                .all(|r| finding(r, "likely_duplicate")["severity"] == "warning")
        );
        let shown = admin.get(&path).await.expect(200);
        let late = shown.body["rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["code"] == "recorded_late"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(late["enabled"], false);
        assert_eq!(late["default_severity"], "warning");
    }
);

story!(
    a_visit_recorded_far_from_home_is_flagged_once_the_address_is_placed,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let plan = fresh_plan(&app, &demo).await;
        let person = worker
            .get(&format!("/care-plans/{plan}"))
            .await
            .expect(200)
            .body["beneficiary_id"]
            .as_str()
            .map(|id| format!("/beneficiaries/{id}"))
            .expect("a beneficiary");

        // Two kilometres north of Melegnano's centre.
        let mut visit = visit_on(&demo, &plan, last_monday(), "19:30", "20:30");
        visit["latitude"] = json!(45.3765);
        visit["longitude"] = json!(9.3232);
        let record = operator.post("/service-records", visit).await.expect(201);
        assert_eq!(
            codes(&record.body),
            Vec::<String>::new(),
            "no address position yet"
        );

        // The social worker places the address: a point off the globe is refused...
        let etag = worker.get(&person).await.expect(200).etag();
        worker
            .patch(
                &person,
                json!({"address_position": {"latitude": 95.0, "longitude": 9.3}}),
                &etag,
            )
            .await
            .expect_invalid("address_position.latitude");
        // ...the right one flags the visit, with the distance.
        let placed = worker
            .patch(
                &person,
                json!({"address_position": {"latitude": 45.3585, "longitude": 9.3232}}),
                &etag,
            )
            .await
            .expect(200);
        assert_eq!(placed.body["address_position"]["latitude"], 45.3585);
        let flagged = read(&worker, &record.id()).await;
        let far = finding(&flagged.body, "far_from_address");
        assert_eq!(far["severity"], "warning");
        assert_eq!(far["measured"]["unit"], "m");
        let metres = far["measured"]["value"].as_f64().expect("metres");
        assert!((1_900.0..2_100.0).contains(&metres), "{metres}");

        // The operator's phone sees the address position too (a visit needs it).
        let seen = operator.get(&person).await.expect(200);
        assert_eq!(
            seen.body["address_position"],
            placed.body["address_position"]
        );

        // Cleared again: nothing to compare with, no finding.
        worker
            .patch(&person, json!({"address_position": null}), &placed.etag())
            .await
            .expect(200);
        assert_eq!(
            codes(&read(&worker, &record.id()).await.body),
            Vec::<String>::new()
        );
    }
);
