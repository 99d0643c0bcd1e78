//! A care plan's life: drafting, activating, suspending, closing, and editing it safely.

use serde_json::json;
use taccuino_tests::{
    demo,
    fixtures::{Demo, new_beneficiary},
    story,
};

story!(
    two_social_workers_editing_the_same_plan_cannot_overwrite_each_other,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let anna = app.login(demo::SOCIAL_WORKER).await;
        let admin = app.login(demo::ADMIN).await;
        let password = "Una-password-lunga-per-Beppe-7";
        admin
            .post(
                "/users",
                json!({
                    "organization_id": demo.municipality_id, "email": "beppe@example.org",
                    "given_name": "Giuseppe", "family_name": "Verdi", "role": "social_worker",
                    "password": password
                }),
            )
            .await
            .expect(201);
        let beppe = app.login_with("beppe@example.org", password).await;
        let path = format!("/care-plans/{}", demo.girasole_plan_id());

        // Both open the plan at the same version.
        let etag = anna.get(&path).await.expect(200).etag();
        assert_eq!(beppe.get(&path).await.expect(200).etag(), etag);

        let saved = anna
            .patch(&path, json!({"title": "Titolo di Anna"}), &etag)
            .await
            .expect(200);
        assert_ne!(saved.etag(), etag, "a change makes a new version");

        beppe
            .patch(&path, json!({"title": "Titolo di Beppe"}), &etag)
            .await
            .expect_problem(412, "version-mismatch");
        let now = beppe.get(&path).await.expect(200);
        assert_eq!(
            now.body["title"], "Titolo di Anna",
            "the first change stays"
        );
        assert_eq!(now.etag(), saved.etag());
    }
);

story!(
    a_plan_goes_through_its_lifecycle_and_a_closed_plan_stays_closed,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let person = worker
            .post("/beneficiaries", new_beneficiary())
            .await
            .expect(201);
        let plan = worker
            .post("/care-plans", demo.new_plan(&person.id()))
            .await
            .expect(201);
        assert_eq!(plan.body["status"], "draft", "{plan}");
        let path = format!("/care-plans/{}", plan.id());

        let active = worker
            .post_if_match(&format!("{path}/activate"), json!({}), &plan.etag())
            .await
            .expect(200);
        assert_eq!(active.body["status"], "active", "{active}");

        // Suspending needs a reason the provider will read.
        worker
            .post_if_match(&format!("{path}/suspend"), json!({}), &active.etag())
            .await
            .expect_invalid("reason");
        let suspended = worker
            .post_if_match(
                &format!("{path}/suspend"),
                json!({"reason": "Ricovero ospedaliero"}),
                &active.etag(),
            )
            .await
            .expect(200);
        assert_eq!(suspended.body["status"], "suspended", "{suspended}");

        let resumed = worker
            .post_if_match(&format!("{path}/resume"), json!({}), &suspended.etag())
            .await
            .expect(200);
        let closed = worker
            .post_if_match(
                &format!("{path}/close"),
                json!({"reason": "Trasferimento in RSA"}),
                &resumed.etag(),
            )
            .await
            .expect(200);
        assert_eq!(closed.body["status"], "closed", "{closed}");

        let refused = worker
            .post_if_match(&format!("{path}/activate"), json!({}), &closed.etag())
            .await
            .expect_problem(409, "invalid-transition");
        assert!(refused.body["detail"].is_string(), "{refused}");
        let stored = worker.get(&path).await.expect(200);
        assert_eq!(stored.body["status"], "closed", "still closed");
    }
);

story!(
    a_lifecycle_step_needs_the_current_version,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let plan = worker
            .post(
                "/care-plans",
                demo.new_plan(&demo.girasole_beneficiary_id()),
            )
            .await
            .expect(201);
        let activate = format!("/care-plans/{}/activate", plan.id());
        worker
            .post(&activate, json!({}))
            .await
            .expect_problem(428, "if-match-required");
        worker
            .post_if_match(&activate, json!({}), "\"999\"")
            .await
            .expect_problem(412, "version-mismatch");
        let draft = worker
            .get(&format!("/care-plans/{}", plan.id()))
            .await
            .expect(200);
        assert_eq!(draft.body["status"], "draft");
    }
);

story!(
    a_coordinator_assigns_only_operators_of_their_own_cooperative,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let coordinator = app.login(demo::COORDINATOR).await;
        let path = format!("/care-plans/{}", demo.girasole_plan_id());
        let before = coordinator.get(&path).await.expect(200);
        let refused = coordinator
            .put(
                &format!("{path}/operators"),
                json!({"operator_ids": [demo.operator_id, demo.arcobaleno_operator_id]}),
                &before.etag(),
            )
            .await
            .expect_problem(422, "validation-failed");
        assert!(
            refused
                .problem_fields()
                .iter()
                .any(|f| f.starts_with("operator_ids")),
            "{refused}"
        );
        let after = coordinator.get(&path).await.expect(200);
        assert_eq!(after.body["operator_ids"], before.body["operator_ids"]);
    }
);
