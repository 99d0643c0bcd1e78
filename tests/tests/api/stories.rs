//! End-to-end stories: from taking a person in charge to a validated visit; lists; auditing.

use serde_json::{Value, json};
use taccuino_tests::{
    demo,
    fixtures::{Demo, new_beneficiary, replan},
    story,
};

story!(
    from_taking_a_person_in_charge_to_a_validated_visit,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let operator = app.login(demo::OPERATOR).await;

        // The social worker registers Giovanna...
        let person = worker
            .post("/beneficiaries", new_beneficiary())
            .await
            .expect(201);
        assert!(person.body["pseudonym"].is_string(), "{person}");
        let stored = worker
            .get(&format!("/beneficiaries/{}", person.id()))
            .await
            .expect(200);
        assert!(
            person
                .location()
                .ends_with(&format!("/beneficiaries/{}", person.id()))
        );
        assert_eq!(stored.body["tax_code"], person.body["tax_code"]);
        assert_eq!(stored.etag(), person.etag());

        // ...agrees a plan of home care with Il Girasole and activates it.
        let plan = worker
            .post("/care-plans", demo.new_plan(&person.id()))
            .await
            .expect(201);
        let plan_path = format!("/care-plans/{}", plan.id());
        assert_eq!(
            plan.body["planned_services"].as_array().map(Vec::len),
            Some(1),
            "{plan}"
        );
        let active = worker
            .post_if_match(&format!("{plan_path}/activate"), json!({}), &plan.etag())
            .await
            .expect(200);
        assert_eq!(active.body["status"], "active");

        // The operator does not see it until the coordinator assigns them.
        operator
            .get(&plan_path)
            .await
            .expect_problem(404, "not-found");
        let etag = coordinator.get(&plan_path).await.expect(200).etag();
        let assigned = coordinator
            .put(
                &format!("{plan_path}/operators"),
                json!({"operator_ids": [demo.operator_id]}),
                &etag,
            )
            .await
            .expect(200);
        assert_eq!(
            assigned.body["operator_ids"],
            json!([demo.operator_id]),
            "{assigned}"
        );
        let visible = operator.get(&plan_path).await.expect(200);
        assert_eq!(visible.body["beneficiary_id"], person.id());
        let home = operator
            .get(&format!("/beneficiaries/{}", person.id()))
            .await
            .expect(200);
        assert_eq!(home.body["address"], person.body["address"]);

        // The operator records an hour and a half, with an id made on the phone.
        let id = uuid::Uuid::new_v4().to_string();
        let mut visit = demo.visit(&plan.id());
        visit["id"] = json!(id);
        let record = operator
            .post("/service-records", visit.clone())
            .await
            .expect(201);
        assert_eq!(record.id(), id, "the client's id is kept");
        assert_eq!(record.body["operator_id"], demo.operator_id.as_str());
        assert_eq!(record.body["status"], "recorded");
        assert_eq!(record.body["quantity"].as_f64(), Some(1.5), "{record}");
        assert_eq!(record.etag(), format!("\"{}\"", record.body["version"]));

        // The phone lost the answer and sends it again: nothing is recorded twice.
        let again = operator.post("/service-records", visit).await.expect(200);
        assert_eq!(again.body, record.body);
        let of_plan = format!("/service-records?care_plan_id={}", plan.id());
        let listed = worker.get(&of_plan).await.expect(200);
        assert_eq!(listed.body["total"], 1, "{listed}");

        // The social worker validates it; everyone concerned sees the outcome.
        let record_path = format!("/service-records/{id}");
        let to_review = worker.get(&record_path).await.expect(200);
        let validated = worker
            .post_if_match(
                &format!("{record_path}/validate"),
                json!({}),
                &to_review.etag(),
            )
            .await
            .expect(200);
        assert_eq!(validated.body["status"], "validated");
        for session in [&operator, &coordinator] {
            let seen = session.get(&record_path).await.expect(200);
            assert_eq!(seen.body["status"], "validated", "{seen}");
        }
    }
);

story!(
    a_rejected_visit_carries_its_reason_back_to_the_provider,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let record = operator
            .post("/service-records", demo.visit(&demo.girasole_plan_id()))
            .await
            .expect(201);
        let path = format!("/service-records/{}", record.id());
        let etag = worker.get(&path).await.expect(200).etag();

        worker
            .post_if_match(
                &format!("{path}/reject"),
                json!({"note": "Manca il motivo"}),
                &etag,
            )
            .await
            .expect_invalid("reason_code");
        let rejected = worker
            .post_if_match(
                &format!("{path}/reject"),
                json!({"reason_code": "duplicate", "note": "Già registrata alle 9:00"}),
                &etag,
            )
            .await
            .expect(200);
        assert_eq!(rejected.body["status"], "rejected");
        let seen = operator.get(&path).await.expect(200);
        assert_eq!(seen.body["status"], "rejected");
        assert_eq!(seen.body["review"]["reason_code"], "duplicate", "{seen}");

        // It was not a duplicate after all: the decision is reopened, and details asked instead.
        let reopened = worker
            .post_if_match(&format!("{path}/reopen"), json!({}), &rejected.etag())
            .await
            .expect(200);
        assert_eq!(reopened.body["status"], "recorded");
        let asked = worker
            .post_if_match(
                &format!("{path}/request-clarification"),
                json!({"reason_code": "missing_information", "note": "Chi era presente?"}),
                &reopened.etag(),
            )
            .await
            .expect(200);
        assert_eq!(asked.body["status"], "clarification_requested");
        assert_eq!(asked.body["review"]["note"], "Chi era presente?", "{asked}");
    }
);

story!(
    lists_come_in_pages_of_at_most_two_hundred,
    |app| async move {
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let first = worker.get("/beneficiaries?limit=2").await.expect(200);
        assert_eq!(first.items().len(), 2);
        assert_eq!(
            (first.body["limit"].as_u64(), first.body["offset"].as_u64()),
            (Some(2), Some(0))
        );
        let total = first.body["total"].as_u64().expect("total");
        assert!(
            total >= 40,
            "the demo has about fifty beneficiaries, total says {total}"
        );

        let second = worker
            .get("/beneficiaries?limit=2&offset=2")
            .await
            .expect(200);
        assert_eq!(second.items().len(), 2);
        assert_eq!(second.body["total"].as_u64(), Some(total));
        let ids = |page: &taccuino_tests::Reply| -> Vec<Value> {
            page.items().iter().map(|b| b["id"].clone()).collect()
        };
        assert!(
            ids(&first).iter().all(|id| !ids(&second).contains(id)),
            "pages do not overlap"
        );

        let unpaged = worker.get("/beneficiaries").await.expect(200);
        assert_eq!(
            unpaged.body["limit"].as_u64(),
            Some(50),
            "the default page size"
        );
        worker
            .get("/beneficiaries?limit=201")
            .await
            .expect_invalid("limit");
        worker
            .get("/care-plans?limit=0")
            .await
            .expect_invalid("limit");
        // An offset past what a database can bind is refused, not a crash (found by
        // schemathesis: 2^63 used to panic inside the SQL driver).
        for list in [
            "/service-records",
            "/users",
            "/care-plans",
            "/beneficiaries",
        ] {
            worker
                .get(&format!("{list}?offset=9223372036854775808"))
                .await
                .expect_invalid("offset");
        }

        // Filters narrow the list; an unknown parameter is named rather than ignored.
        let active = worker.list_all("/care-plans?status=active").await;
        assert!(!active.is_empty() && active.iter().all(|p| p["status"] == "active"));
        worker
            .get("/care-plans?colour=red")
            .await
            .expect_invalid("colour");
    }
);

story!(
    reading_sensitive_notes_leaves_a_trace_the_admin_sees,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let admin = app.login(demo::ADMIN).await;
        let beneficiary = demo.girasole_beneficiary_id();
        let notes = format!("/beneficiaries/{beneficiary}/sensitive-notes");

        let note = worker
            .post(
                &notes,
                json!({"category": "social_assessment", "body": "Rete familiare fragile"}),
            )
            .await
            .expect(201);
        assert_eq!(note.body["body"], "Rete familiare fragile", "{note}");

        let about_beneficiary = |events: Vec<Value>| -> Vec<Value> {
            events
                .into_iter()
                .filter(|e| e["resource_id"] == beneficiary.as_str())
                .collect()
        };
        let before = about_beneficiary(admin.list_all("/audit-events").await);
        let read = worker.get(&notes).await.expect(200);
        assert!(
            read.items()
                .iter()
                .any(|n| n["body"] == "Rete familiare fragile"),
            "{read}"
        );
        let after = about_beneficiary(admin.list_all("/audit-events").await);
        let new: Vec<&Value> = after.iter().filter(|e| !before.contains(e)).collect();
        assert_eq!(new.len(), 1, "one audit event for one read: {new:?}");
        let me = worker.get("/me").await.expect(200);
        assert_eq!(new[0]["actor_user_id"], me.body["id"], "{}", new[0]);

        let event = admin
            .get(&format!(
                "/audit-events/{}",
                new[0]["id"].as_str().unwrap_or("")
            ))
            .await;
        assert_eq!(&event.expect(200).body, new[0]);
    }
);

story!(
    a_validated_visit_that_is_changed_goes_back_to_review,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        // One hour of SAD a week: the visit passes the allowance whatever the demo recorded
        // earlier this week (how full the demo's week is depends on the day the tests run).
        let sad = demo.sad_id.clone();
        replan(&worker, &demo.girasole_plan_id(), |services| {
            for service in services
                .iter_mut()
                .filter(|s| s["service_type_id"] == sad.as_str())
            {
                service["allowance"] = json!(1.0);
            }
        })
        .await;
        let record = operator
            .post("/service-records", demo.visit(&demo.girasole_plan_id()))
            .await
            .expect(201);
        let path = format!("/service-records/{}", record.id());
        let etag = worker.get(&path).await.expect(200).etag();
        // The visit passes the allowance, and the social worker sets that finding aside
        // knowingly.
        let validated = worker
            .post_if_match(
                &format!("{path}/validate"),
                json!({"override_reason": "Accesso in più concordato con la famiglia"}),
                &etag,
            )
            .await
            .expect(200);

        // The operator corrects the end time: the validation does not silently survive it.
        let mut corrected_end = record.str("ended_at");
        corrected_end.replace_range(11..16, "21:30");
        let amended = operator
            .patch(&path, json!({"ended_at": corrected_end}), &validated.etag())
            .await
            .expect(200);
        assert_eq!(amended.body["status"], "amended", "{amended}");
        assert_eq!(amended.body["quantity"].as_f64(), Some(2.0), "{amended}");
        let seen = worker.get(&path).await.expect(200);
        assert_eq!(seen.body["status"], "amended");
        // The override was about the record as it was: the changed one needs a fresh look.
        worker
            .post_if_match(&format!("{path}/validate"), json!({}), &seen.etag())
            .await
            .expect_problem(409, "blocking-findings");
        let again = worker
            .post_if_match(
                &format!("{path}/validate"),
                json!({"override_reason": "Confermato il prolungamento con la famiglia"}),
                &seen.etag(),
            )
            .await
            .expect(200);
        assert_eq!(again.body["status"], "validated");
    }
);
