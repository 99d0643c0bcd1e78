//! Who may do what: every endpoint against every role (DESIGN.md §2), as one table.
//!
//! 403 means the role may never use the endpoint; 404 means the row is outside the caller's
//! scope (another provider's plan, a beneficiary with no plan of theirs). Every mismatch is
//! printed as a table before the test fails.

use reqwest::Method;
use serde_json::{Value, json};
use taccuino_tests::{
    Reply, Session, TestApp, demo,
    fixtures::{Demo, new_beneficiary},
    story, unique,
};

/// The callers, in the order of the expectation columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Admin,
    Worker,
    Administrative,
    Coordinator,
    Operator,
    /// An API client of Il Girasole.
    Client,
    ArcobalenoCoordinator,
    ArcobalenoOperator,
}

const CALLERS: [(Who, &str); 9] = [
    (Who::Anonymous, "anon"),
    (Who::Admin, "admin"),
    (Who::Worker, "worker"),
    (Who::Administrative, "admtv"),
    (Who::Coordinator, "coord"),
    (Who::Operator, "oper"),
    (Who::Client, "client"),
    (Who::ArcobalenoCoordinator, "c.arc"),
    (Who::ArcobalenoOperator, "o.arc"),
];

type Body = Box<dyn Fn(Who) -> Value>;

/// One endpoint and what each caller should get: one token per column of [`CALLERS`], each
/// `2xx`, an exact status, or `*` (anything but a server error).
struct Row {
    method: Method,
    path: String,
    body: Option<Body>,
    /// Sent with `If-Match` set to the current version of this resource.
    version_of: Option<String>,
    expected: &'static str,
}

fn get(path: String, expected: &'static str) -> Row {
    Row {
        method: Method::GET,
        path,
        body: None,
        version_of: None,
        expected,
    }
}

fn post(path: String, body: impl Fn(Who) -> Value + 'static, expected: &'static str) -> Row {
    Row {
        method: Method::POST,
        path,
        body: Some(Box::new(body)),
        version_of: None,
        expected,
    }
}

fn patch(path: String, body: Value, expected: &'static str) -> Row {
    let version_of = Some(path.clone());
    Row {
        method: Method::PATCH,
        path,
        body: Some(Box::new(move |_| body.clone())),
        version_of,
        expected,
    }
}

/// A PUT or a lifecycle POST on `resource`, sent with its current version.
fn guarded(
    method: Method,
    resource: String,
    action: &str,
    body: Value,
    expected: &'static str,
) -> Row {
    Row {
        method,
        path: format!("{resource}{action}"),
        body: Some(Box::new(move |_| body.clone())),
        version_of: Some(resource),
        expected,
    }
}

struct Cast {
    sessions: Vec<(Who, Option<Session>)>,
}

impl Cast {
    async fn assemble(app: &TestApp, demo: &Demo) -> Cast {
        let admin = app.login(demo::ADMIN).await;
        let client = admin
            .post(
                "/api-clients",
                json!({"organization_id": demo.girasole_id, "name": "Gestionale"}),
            )
            .await
            .expect(201);
        let client = app
            .client_credentials(&client.str("client_id"), &client.str("client_secret"))
            .await;
        let sessions = vec![
            (Who::Anonymous, None),
            (Who::Admin, Some(admin)),
            (Who::Worker, Some(app.login(demo::SOCIAL_WORKER).await)),
            (
                Who::Administrative,
                Some(app.login(demo::ADMINISTRATIVE).await),
            ),
            (Who::Coordinator, Some(app.login(demo::COORDINATOR).await)),
            (Who::Operator, Some(app.login(demo::OPERATOR).await)),
            (Who::Client, Some(client)),
            (
                Who::ArcobalenoCoordinator,
                Some(app.login(demo::ARCOBALENO_COORDINATOR).await),
            ),
            (
                Who::ArcobalenoOperator,
                Some(app.login(demo::ARCOBALENO_OPERATOR).await),
            ),
        ];
        Cast { sessions }
    }

    fn session(&self, who: Who) -> &Session {
        self.sessions
            .iter()
            .find_map(|(w, s)| (*w == who).then_some(s.as_ref()).flatten())
            .expect("a logged-in caller")
    }

    /// The current ETag of `path`, read by whoever may read it.
    async fn version(&self, path: &str) -> String {
        for reader in [Who::Worker, Who::Admin] {
            let reply = self.session(reader).get(path).await;
            if reply.is_success() {
                return reply.etag();
            }
        }
        panic!("nobody can read {path}");
    }

    async fn send(&self, app: &TestApp, who: Who, row: &Row) -> Reply {
        let mut call = match self.sessions.iter().find(|(w, _)| *w == who) {
            Some((_, Some(session))) => session.call(row.method.clone(), &row.path),
            _ => app.call(row.method.clone(), &row.path),
        };
        if let Some(resource) = &row.version_of {
            call = call.if_match(&self.version(resource).await);
        }
        if let Some(body) = &row.body {
            let body = body(who);
            call = if row.method == Method::PATCH {
                call.merge_patch(&body)
            } else {
                call.json(&body)
            };
        }
        call.send().await
    }
}

fn matches(expected: &str, status: u16) -> bool {
    match expected {
        "*" => status < 500,
        "2xx" => (200..300).contains(&status),
        exact => exact.parse::<u16>().is_ok_and(|e| e == status),
    }
}

story!(
    every_role_gets_exactly_the_access_the_policy_gives,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let cast = Cast::assemble(&app, &demo).await;
        let worker = cast.session(Who::Worker);

        // Resources the table changes, so that it never disturbs the demo data it reads.
        let new_plan = worker
            .post(
                "/care-plans",
                demo.new_plan(&demo.girasole_beneficiary_id()),
            )
            .await
            .expect(201)
            .id();
        let new_record = cast
            .session(Who::Operator)
            .post("/service-records", demo.visit(&demo.girasole_plan_id()))
            .await
            .expect(201)
            .id();
        let device = cast
            .session(Who::Operator)
            .post(
                "/sync/tickets",
                json!({"device_id": null, "device_name": "Telefono"}),
            )
            .await
            .expect(201)
            .body["device_id"]
            .as_str()
            .map(str::to_owned)
            .expect("a device id");
        let ben_g = format!("/beneficiaries/{}", demo.girasole_beneficiary_id());
        let ben_r = format!("/beneficiaries/{}", demo.arcobaleno_beneficiary_id());
        let plan_g = format!("/care-plans/{}", demo.girasole_plan_id());
        let plan_r = format!("/care-plans/{}", demo.arcobaleno_plan_id());
        let rec_g = format!("/service-records/{}", demo.girasole_record_id);
        let rec_r = format!("/service-records/{}", demo.arcobaleno_record_id);
        // Reading sensitive notes is audited, so there is at least one audit event.
        worker
            .get(&format!("{ben_g}/sensitive-notes"))
            .await
            .expect(200);
        let audit_event = cast
            .session(Who::Admin)
            .get("/audit-events?limit=1")
            .await
            .expect(200);
        let audit_event = audit_event
            .items()
            .first()
            .map(|e| e["id"].as_str().unwrap_or("").to_owned());
        let audit_event = audit_event.expect("an audit event after reading sensitive notes");
        let operators = demo.girasole_plan["operator_ids"].clone();
        let (girasole, operator) = (demo.girasole_id.clone(), demo.operator_id.clone());
        let rules = format!("/organizations/{}/rule-settings", demo.municipality_id);
        let new_plan_id = new_plan.clone();
        let (visit, plan_body) = (
            demo.visit(&demo.girasole_plan_id()),
            demo.new_plan(&demo.girasole_beneficiary_id()),
        );

        #[rustfmt::skip]
        let rows = vec![
            //                                                                          anon admin worker admtv coord oper client c.arc o.arc
            get("/me".into(),                                                          "401 2xx 2xx 2xx 2xx 2xx *   2xx 2xx"),
            get("/organizations".into(),                                               "401 2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            get(format!("/organizations/{}", demo.municipality_id),                    "401 2xx 2xx 2xx 404 404 404 404 404"),
            get(format!("/organizations/{girasole}"),                                  "401 2xx 2xx 2xx 2xx 2xx 2xx 404 404"),
            post("/organizations".into(), |_| json!({"kind": "provider", "name": format!("Cooperativa {}", unique())}),
                                                                                       "401 201 403 403 403 403 403 403 403"),
            patch(format!("/organizations/{girasole}"), json!({"email": "info@girasole.example.org"}),
                                                                                       "401 2xx 403 403 403 403 403 403 403"),
            get("/users".into(),                                                       "401 2xx 2xx 403 2xx 403 2xx 2xx 403"),
            get(format!("/users/{operator}"),                                          "401 2xx 404 403 2xx 403 2xx 404 403"),
            post("/users".into(), move |_| json!({
                    "organization_id": girasole, "email": format!("op.{}@example.org", unique().to_lowercase()),
                    "given_name": "Nuovo", "family_name": "Operatore", "role": "field_operator",
                    "password": "Una-password-lunga-per-i-test-42"}),
                                                                                       "401 201 403 403 201 403 201 422 403"),
            get("/api-clients".into(),                                                 "401 2xx 403 403 403 403 403 403 403"),
            post("/api-clients".into(), { let g = demo.girasole_id.clone(); move |_| json!({"organization_id": g, "name": "Altro gestionale"}) },
                                                                                       "401 201 403 403 403 403 403 403 403"),
            get("/beneficiaries".into(),                                               "401 403 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            get(ben_g.clone(),                                                         "401 403 2xx 2xx 2xx 2xx 2xx 404 404"),
            get(ben_r.clone(),                                                         "401 403 2xx 2xx 404 404 404 2xx 2xx"),
            post("/beneficiaries".into(), |_| new_beneficiary(),                       "401 403 201 403 403 403 403 403 403"),
            patch(ben_g.clone(), json!({"phone": "+39 02 9823 0000"}),                 "401 403 2xx 403 403 403 403 403 403"),
            get(format!("{ben_g}/sensitive-notes"),                                    "401 403 2xx 403 403 403 403 403 403"),
            post(format!("{ben_g}/sensitive-notes"), |_| json!({"category": "social_assessment", "body": "Vive sola, figlia a Milano"}),
                                                                                       "401 403 201 403 403 403 403 403 403"),
            get("/service-types".into(),                                               "401 2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            get(format!("/service-types/{}", demo.sad_id),                             "401 2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            post("/service-types".into(), |_| json!({"code": code(), "name": "Servizio di prova", "unit": "hour",
                                                     "tariff": {"amount": "20.00", "currency": "EUR"}}),
                                                                                       "401 201 403 403 403 403 403 403 403"),
            patch(format!("/service-types/{}", demo.sad_id), json!({"name": "Assistenza domiciliare (SAD)"}),
                                                                                       "401 2xx 403 403 403 403 403 403 403"),
            get("/care-plans".into(),                                                  "401 403 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            get(plan_g.clone(),                                                        "401 403 2xx 2xx 2xx 2xx 2xx 404 404"),
            get(plan_r.clone(),                                                        "401 403 2xx 2xx 404 404 404 2xx 2xx"),
            post("/care-plans".into(), move |_| plan_body.clone(),                     "401 403 201 403 403 403 403 403 403"),
            patch(plan_g.clone(), json!({"title": "Assistenza domiciliare e socializzazione"}),
                                                                                       "401 403 2xx 403 403 403 403 403 403"),
            guarded(Method::PUT, plan_g.clone(), "/operators", json!({"operator_ids": operators}),
                                                                                       "401 403 2xx 403 2xx 403 2xx 404 403"),
            guarded(Method::POST, format!("/care-plans/{new_plan}"), "/activate", json!({}),
                                                                                       "401 403 2xx 403 403 403 403 403 403"),
            get("/service-records".into(),                                             "401 403 2xx 2xx 2xx 2xx 2xx 2xx 2xx"),
            get(rec_g.clone(),                                                         "401 403 2xx 2xx 2xx 2xx 2xx 404 404"),
            get(rec_r.clone(),                                                         "401 403 2xx 2xx 404 404 404 2xx 2xx"),
            post("/service-records".into(), move |who| record_as(&visit, who, &operator),
                                                                                       "401 403 403 403 201 201 201 422 422"),
            patch(rec_g.clone(), json!({"notes": "Nota corretta dal coordinatore"}),   "401 403 403 403 2xx 2xx 2xx 404 404"),
            guarded(Method::POST, format!("/service-records/{new_record}"), "/validate", json!({"override_reason": "Accesso concordato"}),
                                                                                       "401 403 2xx 403 403 403 403 403 403"),
            get(format!("{rec_g}/history"),                                            "401 403 2xx 2xx 2xx 2xx 2xx 404 404"),
            get("/reviews".into(),                                                     "401 403 2xx 403 403 403 403 403 403"),
            post("/reviews/bulk-validate".into(), move |_| json!({"care_plan_id": new_plan_id}),
                                                                                       "401 403 2xx 403 403 403 403 403 403"),
            get(rules.clone(),                                                         "401 2xx 2xx 2xx 2xx 403 2xx 2xx 403"),
            guarded(Method::PUT, rules.clone(), "", json!({"thresholds": {"late_after_days": 6}}),
                                                                                       "401 2xx 403 403 403 403 403 403 403"),
            get("/statements".into(),                                                  "401 403 2xx 2xx 2xx 403 2xx 2xx 403"),
            get("/me/documents".into(),                                                "401 403 403 403 2xx 2xx 403 2xx 2xx"),
            post("/sync/tickets".into(), |_| json!({"device_name": "Tablet"}),         "401 403 403 403 201 201 403 201 201"),
            get("/sync?ticket=not-a-ticket".into(),                                    "401 401 401 401 401 401 401 401 401"),
            get("/devices".into(),                                                     "401 2xx 403 403 2xx 2xx 403 2xx 2xx"),
            get(format!("/devices/{device}"),                                          "401 2xx 403 403 2xx 2xx 403 404 404"),
            post(format!("/devices/{device}/revoke"), |_| json!({}),                   "401 2xx 403 403 2xx 2xx 403 404 404"),
            get("/audit-events".into(),                                                "401 2xx 403 403 403 403 403 403 403"),
            get(format!("/audit-events/{audit_event}"),                                "401 2xx 403 403 403 403 403 403 403"),
        ];

        let mut mismatches = Vec::new();
        let mut server_errors = Vec::new();
        for row in &rows {
            let expected: Vec<&str> = row.expected.split_whitespace().collect();
            assert_eq!(
                expected.len(),
                CALLERS.len(),
                "one expectation per caller in {}",
                row.path
            );
            for ((who, label), want) in CALLERS.iter().zip(expected) {
                let reply = cast.send(&app, *who, row).await;
                if reply.status >= 500 {
                    server_errors.push(reply.to_string());
                }
                if !matches(want, reply.status) {
                    let detail = reply.body["detail"].as_str().unwrap_or("").to_owned();
                    mismatches.push(format!(
                        "{:<6} {:<55} {:<6} expected {:<4} got {}  {detail}",
                        row.method.as_str(),
                        row.path,
                        label,
                        want,
                        reply.status
                    ));
                }
            }
        }
        assert!(
            mismatches.is_empty() && server_errors.is_empty(),
            "{} of {} calls did not get the access the policy gives ({:?}):\n{}\nserver errors:\n{}",
            mismatches.len(),
            rows.len() * CALLERS.len(),
            app.backend,
            mismatches.join("\n"),
            server_errors.join("\n")
        );
    }
);

/// Coordinators (and their systems) say whose visit it was; operators record their own.
fn record_as(visit: &Value, who: Who, operator_id: &str) -> Value {
    let mut body = visit.clone();
    if matches!(
        who,
        Who::Coordinator | Who::Client | Who::ArcobalenoCoordinator
    ) {
        body["operator_id"] = json!(operator_id);
    }
    body
}

/// A fresh service type code: capital letters only.
fn code() -> String {
    unique()
        .chars()
        .take(6)
        .map(|c| {
            if c.is_ascii_digit() {
                (b'G' + c as u8 - b'0') as char
            } else {
                c
            }
        })
        .collect()
}

story!(each_role_sees_only_the_fields_it_needs, |app| async move {
    let demo = Demo::discover(&app).await;
    let worker = app.login(demo::SOCIAL_WORKER).await;
    let administrative = app.login(demo::ADMINISTRATIVE).await;
    let operator = app.login(demo::OPERATOR).await;
    let coordinator = app.login(demo::COORDINATOR).await;
    let beneficiary = format!("/beneficiaries/{}", demo.girasole_beneficiary_id());

    let full = worker.get(&beneficiary).await.expect(200).body;
    for field in [
        "tax_code",
        "given_name",
        "family_name",
        "birth_date",
        "pseudonym",
    ] {
        assert!(
            present(&full, field),
            "the social worker sees {field}: {full}"
        );
    }

    // The office works on a pseudonym: the same one, and nothing that identifies the person.
    let office = administrative.get(&beneficiary).await.expect(200).body;
    let listed = administrative
        .get("/beneficiaries?limit=5")
        .await
        .expect(200);
    for view in std::iter::once(&office).chain(listed.items()) {
        for field in [
            "tax_code",
            "given_name",
            "family_name",
            "address",
            "phone",
            "access_notes",
        ] {
            assert!(
                !present(view, field),
                "administrative staff must not see {field}: {view}"
            );
        }
        assert!(
            present(view, "pseudonym"),
            "administrative staff see a pseudonym: {view}"
        );
    }
    assert_eq!(office["pseudonym"], full["pseudonym"]);

    // A visit needs a name, an address and a phone, never the tax code or the birth date.
    for (who, session) in [("operator", &operator), ("coordinator", &coordinator)] {
        let visit = session.get(&beneficiary).await.expect(200).body;
        for field in ["given_name", "family_name", "address"] {
            assert_eq!(visit[field], full[field], "the {who} sees {field}");
        }
        for field in ["tax_code", "birth_date"] {
            assert!(
                !present(&visit, field),
                "the {who} must not see {field}: {visit}"
            );
        }
    }

    // Service records for accounting carry no free-text notes.
    let record = operator
        .post("/service-records", demo.visit(&demo.girasole_plan_id()))
        .await
        .expect(201);
    let path = format!("/service-records/{}", record.id());
    let seen_by_worker = worker.get(&path).await.expect(200).body;
    assert!(
        present(&seen_by_worker, "notes"),
        "the social worker reads the notes"
    );
    let seen_by_office = administrative.get(&path).await.expect(200).body;
    assert!(
        !present(&seen_by_office, "notes"),
        "no notes for the office: {seen_by_office}"
    );
    for item in administrative
        .get("/service-records?limit=20")
        .await
        .expect(200)
        .items()
    {
        assert!(
            !present(item, "notes"),
            "no notes in the office's list: {item}"
        );
    }
});

/// Whether a member is there with a value (absent and `null` both count as hidden).
fn present(value: &Value, member: &str) -> bool {
    value.get(member).is_some_and(|v| !v.is_null())
}
