//! The demo data as tests need it (ids found through the API), and bodies for new resources.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::{Session, TestApp, demo, tax_code::tax_code, unique};

/// Ids of the demo data, found through the API the way a client would.
#[derive(Debug, Clone)]
pub struct Demo {
    pub municipality_id: String,
    pub girasole_id: String,
    pub arcobaleno_id: String,
    pub social_worker_id: String,
    pub operator_id: String,
    pub arcobaleno_operator_id: String,
    /// Service types by code.
    pub sad_id: String,
    pub tra_id: String,
    /// An active Il Girasole plan `operatore@` is authorized on, whose beneficiary has no
    /// Arcobaleno plan.
    pub girasole_plan: Value,
    /// An active Arcobaleno plan `operatore.arcobaleno1@` is authorized on, whose beneficiary has
    /// no Il Girasole plan.
    pub arcobaleno_plan: Value,
    /// A record of `operatore@`.
    pub girasole_record_id: String,
    /// A record of `operatore.arcobaleno1@`.
    pub arcobaleno_record_id: String,
}

impl Demo {
    /// Finds the demo data's ids; panics with a clear message when the demo data lacks something.
    pub async fn discover(app: &TestApp) -> Demo {
        let admin = app.login(demo::ADMIN).await;
        let worker = app.login(demo::SOCIAL_WORKER).await;
        let operator = app.login(demo::OPERATOR).await;
        let arcobaleno_operator = app.login(demo::ARCOBALENO_OPERATOR).await;

        let organizations = admin.list_all("/organizations").await;
        let users = admin.list_all("/users").await;
        let service_types = worker.list_all("/service-types").await;
        let all_plans = worker.list_all("/care-plans").await;

        let organization = |name: &str| find(&organizations, "name", name, "organization");
        let user = |email: &str| find(&users, "email", email, "user");
        let service_type = |code: &str| find(&service_types, "code", code, "service type");
        let girasole_id = organization(demo::GIRASOLE);
        let arcobaleno_id = organization(demo::ARCOBALENO);

        let beneficiaries_of = |provider: &str| -> HashSet<String> {
            all_plans
                .iter()
                .filter(|p| p["provider_id"] == provider)
                .map(|p| text(&p["beneficiary_id"]))
                .collect()
        };
        let with_girasole = beneficiaries_of(&girasole_id);
        let with_arcobaleno = beneficiaries_of(&arcobaleno_id);
        let pick = |plans: Vec<Value>, elsewhere: &HashSet<String>, what: &str| {
            plans
                .into_iter()
                .find(|p| {
                    p["status"] == "active" && !elsewhere.contains(&text(&p["beneficiary_id"]))
                })
                .unwrap_or_else(|| panic!("the demo data has no {what}"))
        };
        let girasole_plan = pick(
            operator.list_all("/care-plans").await,
            &with_arcobaleno,
            "active plan of operatore@ whose beneficiary has no Arcobaleno plan",
        );
        let arcobaleno_plan = pick(
            arcobaleno_operator.list_all("/care-plans").await,
            &with_girasole,
            "active plan of operatore.arcobaleno1@ whose beneficiary has no Girasole plan",
        );
        let first_record = |records: Vec<Value>, who: &str| {
            records
                .first()
                .map(|r| text(&r["id"]))
                .unwrap_or_else(|| panic!("the demo data has no service record of {who}"))
        };
        Demo {
            municipality_id: organization(demo::MUNICIPALITY),
            girasole_id,
            arcobaleno_id,
            social_worker_id: user(demo::SOCIAL_WORKER),
            operator_id: user(demo::OPERATOR),
            arcobaleno_operator_id: user(demo::ARCOBALENO_OPERATOR),
            sad_id: service_type("SAD"),
            tra_id: service_type("TRA"),
            girasole_record_id: first_record(
                operator.list_all("/service-records").await,
                demo::OPERATOR,
            ),
            arcobaleno_record_id: first_record(
                arcobaleno_operator.list_all("/service-records").await,
                demo::ARCOBALENO_OPERATOR,
            ),
            girasole_plan,
            arcobaleno_plan,
        }
    }

    pub fn girasole_plan_id(&self) -> String {
        text(&self.girasole_plan["id"])
    }

    pub fn arcobaleno_plan_id(&self) -> String {
        text(&self.arcobaleno_plan["id"])
    }

    /// The beneficiary of [`Demo::girasole_plan`].
    pub fn girasole_beneficiary_id(&self) -> String {
        text(&self.girasole_plan["beneficiary_id"])
    }

    /// The beneficiary of [`Demo::arcobaleno_plan`].
    pub fn arcobaleno_beneficiary_id(&self) -> String {
        text(&self.arcobaleno_plan["beneficiary_id"])
    }

    /// A draft plan for `beneficiary_id`, delivered by Il Girasole, with 6 hours of SAD a week,
    /// valid from two months ago to ten months ahead.
    pub fn new_plan(&self, beneficiary_id: &str) -> Value {
        json!({
            "beneficiary_id": beneficiary_id,
            "provider_id": self.girasole_id,
            "social_worker_id": self.social_worker_id,
            "title": format!("Assistenza domiciliare {}", unique()),
            "valid_from": days_from_today(-60),
            "valid_to": days_from_today(300),
            "planned_services": [{
                "service_type_id": self.sad_id,
                "allowance": 6,
                "allowance_period": "week"
            }],
            "operator_ids": []
        })
    }

    /// A visit of SAD yesterday evening from 19:30 to 21:00 UTC on `plan_id`: after the demo's
    /// working hours (07:30-19:00 in Rome), so it never overlaps a demo visit of the operator,
    /// whatever the day the tests run.
    pub fn visit(&self, plan_id: &str) -> Value {
        let yesterday = Utc::now().date_naive() - Duration::days(1);
        json!({
            "care_plan_id": plan_id,
            "service_type_id": self.sad_id,
            "started_at": format!("{yesterday}T19:30:00Z"),
            "ended_at": format!("{yesterday}T21:00:00Z"),
            "notes": "Igiene personale e preparazione della cena"
        })
    }
}

/// Changes a plan's planned services as its social worker would: `edit` gets them in the shape
/// a `PATCH` takes (service type, allowance, period) and may change, add or remove some.
pub async fn replan(worker: &Session, plan_id: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let path = format!("/care-plans/{plan_id}");
    let plan = worker.get(&path).await.expect(200);
    let mut services: Vec<Value> = plan.body["planned_services"]
        .as_array()
        .expect("planned services")
        .iter()
        .map(|s| {
            json!({
                "service_type_id": s["service_type_id"],
                "allowance": s["allowance"],
                "allowance_period": s["allowance_period"],
            })
        })
        .collect();
    edit(&mut services);
    worker
        .patch(&path, json!({"planned_services": services}), &plan.etag())
        .await
        .expect(200);
}

/// A new beneficiary with a valid, unique tax code matching their birth date and sex.
pub fn new_beneficiary() -> Value {
    let seed = uuid::Uuid::new_v4().as_u128();
    let birth =
        NaiveDate::from_ymd_opt(1930, 1, 1).expect("date") + Duration::days((seed % 12_000) as i64);
    // A surname from the seed too, so two new beneficiaries never share a tax code.
    let family_name = format!("Test{}", letters(seed >> 20));
    json!({
        "tax_code": tax_code(&family_name, "Giovanna", birth, true),
        "given_name": "Giovanna",
        "family_name": family_name,
        "birth_date": birth.to_string(),
        "sex": "female",
        "residence_municipality": "Melegnano",
        "citizenship": "IT",
        "address": "Via Roma 12, 20077 Melegnano (MI)",
        "phone": "+39 02 9823 1234",
        "access_notes": "Citofono 3, secondo piano senza ascensore"
    })
}

fn letters(mut seed: u128) -> String {
    (0..5)
        .map(|_| {
            let c = char::from(b'a' + (seed % 26) as u8);
            seed /= 26;
            c
        })
        .collect()
}

/// Today plus `days`, as `YYYY-MM-DD`.
pub fn days_from_today(days: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days)).to_string()
}

fn find(items: &[Value], member: &str, value: &str, what: &str) -> String {
    items
        .iter()
        .find(|item| item[member] == value)
        .map(|item| text(&item["id"]))
        .unwrap_or_else(|| panic!("the demo data has no {what} with {member} {value:?}"))
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}
