//! Sync fixtures shared by the stories: the operator's diary, the home care service type, and
//! a visit as the app records it.

use chrono::{Days, Utc};
use std::time::Duration;
use taccuino_sync::{
    DocumentKind,
    protocol::{Access, DocumentId},
    schema::RecordFields,
};

use uuid::Uuid;

use crate::{Session, device::my_documents};

/// The operator's read-write diary on one of his plans.
pub async fn operator_diary(operator: &Session) -> DocumentId {
    my_documents(operator)
        .await
        .into_iter()
        .find(|d| d.kind == DocumentKind::Diary && d.access == Access::ReadWrite)
        .unwrap_or_else(|| panic!("{} has no diary to sync", operator.who))
        .document_id
}

/// The id of the home care service type (SAD, in hours).
pub async fn sad(session: &Session) -> Uuid {
    session
        .list_all("/service-types")
        .await
        .iter()
        .find(|t| t["code"] == "SAD")
        .and_then(|t| t["id"].as_str())
        .and_then(|id| id.parse().ok())
        .expect("the demo data has the SAD service type")
}

/// An hour and a half of home care `days_ago` days ago, as the app records it.
pub fn visit(service_type_id: Uuid, days_ago: u64) -> RecordFields {
    let day = Utc::now().date_naive() - Days::new(days_ago);
    let at = |hour, minute| {
        day.and_hms_opt(hour, minute, 0)
            .expect("a valid time of day")
            .and_utc()
    };
    RecordFields {
        service_type_id,
        started_at: at(9, 0),
        ended_at: Some(at(10, 30)),
        quantity: None,
        km: None,
        origin: None,
        destination: None,
        position: None,
        notes: "Igiene personale e spesa".to_owned(),
        missed: false,
        missed_reason: None,
        recorded_at: at(10, 31),
    }
}

/// Waits until the register (REST) shows record `id` in a state `accept` likes; returns it.
pub async fn register_shows(
    session: &Session,
    id: Uuid,
    accept: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reply = session.get(&format!("/service-records/{id}")).await;
        if reply.status == 200 && accept(&reply.body) {
            return reply.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "record {id} never reached the expected state: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the register no longer has record `id`.
pub async fn register_lacks(session: &Session, id: Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reply = session.get(&format!("/service-records/{id}")).await;
        if reply.status == 404 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "record {id} is still in the register: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
