//! Bad input gets a precise RFC 9457 problem naming what is wrong, and never a 500.

use reqwest::Method;
use serde_json::json;
use taccuino_tests::{
    demo,
    fixtures::{Demo, days_from_today, new_beneficiary},
    story,
};

story!(
    a_body_that_is_not_json_is_a_malformed_request,
    |app| async move {
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let reply = worker
            .call(Method::POST, "/beneficiaries")
            .raw(
                "application/json",
                b"{\"tax_code\": \"RSSMRA80A01F205X\",".to_vec(),
            )
            .send()
            .await;
        let reply = reply.expect_problem(400, "malformed-request");
        assert!(reply.body["detail"].is_string(), "{reply}");
    }
);

story!(
    fields_of_the_wrong_type_or_unknown_are_named,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;

        let mut wrong_type = new_beneficiary();
        wrong_type["birth_date"] = json!(19410503);
        worker
            .post("/beneficiaries", wrong_type)
            .await
            .expect_invalid("birth_date");

        let mut nested = demo.new_plan(&demo.girasole_beneficiary_id());
        nested["planned_services"][0]["allowance"] = json!("six hours");
        worker
            .post("/care-plans", nested)
            .await
            .expect_invalid("planned_services[0].allowance");

        let mut missing = new_beneficiary();
        missing
            .as_object_mut()
            .expect("object")
            .remove("family_name");
        worker
            .post("/beneficiaries", missing)
            .await
            .expect_invalid("family_name");

        let mut unknown = new_beneficiary();
        unknown["favourite_colour"] = json!("blu");
        worker
            .post("/beneficiaries", unknown)
            .await
            .expect_invalid("favourite_colour");
    }
);

story!(
    a_tax_code_with_a_wrong_check_character_is_refused,
    |app| async move {
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let mut person = new_beneficiary();
        let code = person["tax_code"].as_str().expect("tax code").to_owned();
        let wrong_check = if code.ends_with('A') { 'B' } else { 'A' };
        person["tax_code"] = json!(format!("{}{wrong_check}", &code[..15]));
        worker
            .post("/beneficiaries", person)
            .await
            .expect_invalid("tax_code");
    }
);

story!(nothing_ends_before_it_starts, |app| async move {
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let operator = app.login(demo::OPERATOR).await;

    let mut plan = demo.new_plan(&demo.girasole_beneficiary_id());
    plan["valid_from"] = json!(days_from_today(10));
    plan["valid_to"] = json!(days_from_today(-10));
    worker
        .post("/care-plans", plan)
        .await
        .expect_invalid("valid_to");

    let mut visit = demo.visit(&demo.girasole_plan_id());
    let started = visit["started_at"].clone();
    visit["started_at"] = visit["ended_at"].clone();
    visit["ended_at"] = started;
    operator
        .post("/service-records", visit)
        .await
        .expect_invalid("ended_at");
});

story!(a_planned_service_must_fit_in_its_plan, |app| async move {
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let mut plan = demo.new_plan(&demo.girasole_beneficiary_id());
    plan["planned_services"][0]["valid_from"] = json!(days_from_today(-30));
    plan["planned_services"][0]["valid_to"] = json!(days_from_today(400));
    worker
        .post("/care-plans", plan)
        .await
        .expect_invalid("planned_services[0].valid_to");
});

story!(
    ids_in_a_body_must_name_something_the_caller_may_use,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let nobody = uuid::Uuid::new_v4().to_string();
        worker
            .post("/care-plans", demo.new_plan(&nobody))
            .await
            .expect_invalid("beneficiary_id");

        let mut plan = demo.new_plan(&demo.girasole_beneficiary_id());
        plan["planned_services"][0]["service_type_id"] = json!(nobody);
        worker
            .post("/care-plans", plan)
            .await
            .expect_invalid("planned_services[0].service_type_id");

        // Arcobaleno's coordinator cannot record a visit on an Il Girasole plan.
        let arcobaleno = app.login(demo::ARCOBALENO_COORDINATOR).await;
        let mut visit = demo.visit(&demo.girasole_plan_id());
        visit["operator_id"] = json!(demo.arcobaleno_operator_id);
        arcobaleno
            .post("/service-records", visit)
            .await
            .expect_invalid("care_plan_id");
    }
);

story!(
    unknown_resources_and_routes_are_not_found,
    |app| async move {
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let nobody = uuid::Uuid::new_v4();
        for path in [
            format!("/care-plans/{nobody}"),
            format!("/beneficiaries/{nobody}"),
            format!("/service-records/{nobody}"),
            "/no-such-thing".to_owned(),
        ] {
            worker.get(&path).await.expect_problem(404, "not-found");
        }
    }
);

story!(
    an_oversized_body_is_refused,
    env = [("TACCUINO_MAX_BODY_BYTES", "1024")],
    |app| async move {
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let mut person = new_beneficiary();
        person["access_notes"] = json!("Scala B, ".repeat(300));
        worker
            .post("/beneficiaries", person)
            .await
            .expect_problem(413, "payload-too-large");
    }
);

story!(
    bodies_must_declare_the_media_type_the_endpoint_takes,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let body = serde_json::to_vec(&new_beneficiary()).expect("JSON");
        worker
            .call(Method::POST, "/beneficiaries")
            .raw("text/plain", body)
            .send()
            .await
            .expect_problem(415, "unsupported-media-type");

        // A PATCH is a merge patch, not plain JSON.
        let path = format!("/care-plans/{}", demo.girasole_plan_id());
        let etag = worker.get(&path).await.expect(200).etag();
        worker
            .call(Method::PATCH, &path)
            .if_match(&etag)
            .json(&json!({"title": "Nuovo titolo"}))
            .send()
            .await
            .expect_problem(415, "unsupported-media-type");
    }
);

story!(
    an_update_must_name_the_version_it_changes,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let path = format!("/care-plans/{}", demo.girasole_plan_id());
        let before = worker.get(&path).await.expect(200);

        worker
            .call(Method::PATCH, &path)
            .merge_patch(&json!({"title": "Senza versione"}))
            .send()
            .await
            .expect_problem(428, "if-match-required");

        let stale = format!("\"{}\"", before.body["version"].as_i64().unwrap_or(1) - 1);
        worker
            .patch(&path, json!({"title": "Versione vecchia"}), &stale)
            .await
            .expect_problem(412, "version-mismatch");

        let after = worker.get(&path).await.expect(200);
        assert_eq!(after.body["title"], before.body["title"], "nothing changed");
        assert_eq!(after.etag(), before.etag(), "nothing changed");
    }
);

story!(
    a_record_id_cannot_be_reused_for_another_visit,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let operator = app.login(demo::OPERATOR).await;
        let mut visit = demo.visit(&demo.girasole_plan_id());
        visit["id"] = json!(uuid::Uuid::new_v4());
        operator
            .post("/service-records", visit.clone())
            .await
            .expect(201);

        let mut other = visit.clone();
        other["started_at"] = other["ended_at"].clone();
        operator
            .post("/service-records", other)
            .await
            .expect_problem(409, "duplicate-id");

        // Another cooperative guessing the id learns nothing about the record.
        let arcobaleno = app.login(demo::ARCOBALENO_OPERATOR).await;
        let mut theirs = demo.visit(&demo.arcobaleno_plan_id());
        theirs["id"] = visit["id"].clone();
        arcobaleno
            .post("/service-records", theirs)
            .await
            .expect_problem(409, "duplicate-id");
    }
);

story!(operators_record_only_their_own_visits, |app| async move {
    let demo = Demo::discover(&app).await;
    let operator = app.login(demo::OPERATOR).await;
    let mut visit = demo.visit(&demo.girasole_plan_id());
    visit["operator_id"] = json!(demo.arcobaleno_operator_id);
    operator
        .post("/service-records", visit.clone())
        .await
        .expect_invalid("operator_id");

    // A coordinator must say whose visit it was, and only for an operator on the plan.
    let coordinator = app.login(demo::COORDINATOR).await;
    coordinator
        .post("/service-records", demo.visit(&demo.girasole_plan_id()))
        .await
        .expect_invalid("operator_id");
    coordinator
        .post("/service-records", visit)
        .await
        .expect_invalid("operator_id");
});
