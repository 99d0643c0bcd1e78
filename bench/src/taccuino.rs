//! The Taccuino mode's setup: through the REST API, as the demo users, one new active care
//! plan per device with the demo operator assigned (so the server creates one diary per
//! device), then per device a registration ticket, a first sync that fetches the diary
//! (`request`, as the stock client does for a document it does not hold), M records written
//! offline into that local copy, and a second ticket for the storm. Everything the storm
//! needs is written to a state file, so the server can be restarted in between (the cold
//! case).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use automerge::sync;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, NaiveTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use taccuino_sync::protocol::{DocumentId, PeerId};
use tokio::time::Instant;
use uuid::Uuid;

use crate::device::{Endpoint, fetch};
use crate::rest::{Api, Session};
use crate::storm::Ready;
use crate::target::{Target, parse_loopback_url};
use crate::workload::{DeviceDoc, add_records};

/// Password of every demo account: `taccuino_server::demo::DEMO_PASSWORD`
/// (server/src/demo.rs), repeated here so the generator does not build the server.
pub const DEMO_PASSWORD: &str = "taccuino-demo";

/// The demo accounts the setup acts as.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// Creates and activates the plans (`assistente@example.org`).
    pub social_worker: String,
    /// Assigns the operator (`coordinatore@example.org`); also counts the projected records.
    pub coordinator: String,
    /// Owns every device and diary (`operatore@example.org`).
    pub operator: String,
    /// Their password.
    pub password: String,
}

/// Everything the storm needs, as written by [`setup`].
#[derive(Debug, Serialize, Deserialize)]
pub struct StateFile {
    /// The server's base URL (`http://127.0.0.1:PORT`).
    pub base_url: String,
    /// The operator whose records are counted.
    pub operator_id: Uuid,
    /// Who counts them.
    pub coordinator_email: String,
    /// Offline records per device.
    pub records_per_device: usize,
    /// How long the setup took, seconds.
    pub setup_s: f64,
    /// One entry per device.
    pub devices: Vec<DeviceState>,
}

/// One device as the storm starts it.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceState {
    /// The registered device.
    pub device_id: Uuid,
    /// Its peer id (from its tickets).
    pub peer_id: String,
    /// The storage id it announces.
    pub storage_id: String,
    /// Its plan.
    pub care_plan_id: Uuid,
    /// Its diary.
    pub document_id: String,
    /// `/api/v1/sync?ticket=...`, unused yet.
    pub ticket_path: String,
    /// The diary with the offline records, `AutoCommit::save`, base64.
    pub doc: String,
    /// The sync state kept from the fetch (`sync::State::encode`), base64.
    pub sync_state: String,
    /// Records written offline.
    pub records: usize,
}

impl StateFile {
    /// Reads a state file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The devices, decoded, connecting to `ws_base`.
    pub fn ready(&self, ws_base: &str) -> anyhow::Result<Vec<Ready>> {
        self.devices
            .iter()
            .map(|d| {
                let bytes = B64.decode(&d.doc).context("device document")?;
                let doc = taccuino_sync::schema::load_document(&bytes)
                    .map_err(|e| anyhow!("device document: {e}"))?;
                let state = sync::State::decode(&B64.decode(&d.sync_state)?)
                    .map_err(|e| anyhow!("device sync state: {e}"))?;
                Ok(Ready {
                    endpoint: Endpoint {
                        url: ticket_url(ws_base, &d.ticket_path)?,
                        peer_id: PeerId::from(d.peer_id.clone()),
                        storage_id: Some(d.storage_id.clone()),
                    },
                    doc: DeviceDoc {
                        document_id: d
                            .document_id
                            .parse()
                            .map_err(|e| anyhow!("document id: {e}"))?,
                        doc,
                        records: d.records,
                    },
                    state,
                })
            })
            .collect()
    }
}

/// The WebSocket URL of a ticket's path (`/api/v1/sync?ticket=...`) on `ws_base`, checked
/// like every URL the generator connects to (loopback `ws://` only).
pub fn ticket_url(ws_base: &str, path: &str) -> anyhow::Result<String> {
    if !path.starts_with('/') {
        bail!("a ticket's URL must be a path on the server, not {path:?}");
    }
    Ok(parse_loopback_url(&format!("{ws_base}{path}"))?.url)
}

/// The `total` of the operator's service records, as `session` sees them.
pub async fn projected_total(session: &Session, operator_id: Uuid) -> anyhow::Result<u64> {
    let reply = session
        .get(&format!(
            "/service-records?operator_id={operator_id}&limit=1"
        ))
        .await?
        .expect(200, "counting service records")?;
    reply.body["total"]
        .as_u64()
        .with_context(|| format!("no `total` in {}", reply.body))
}

/// The demo's ids the setup needs.
struct Facts {
    operator_id: Uuid,
    provider_id: Uuid,
    social_worker_id: Uuid,
    service_type_id: Uuid,
    beneficiaries: Vec<String>,
}

fn uuid_at(value: &Value, what: &str) -> anyhow::Result<Uuid> {
    value
        .as_str()
        .with_context(|| format!("no {what}"))?
        .parse()
        .with_context(|| format!("{what} is not a UUID"))
}

async fn discover(worker: &Session, operator: &Session) -> anyhow::Result<Facts> {
    let me_worker = worker.get("/me").await?.expect(200, "GET /me")?;
    let me_operator = operator.get("/me").await?.expect(200, "GET /me")?;
    let types = worker.list_all("/service-types").await?;
    let sad = types
        .iter()
        .find(|t| t["code"] == "SAD" && t["active"] == true)
        .context("the demo municipality has no active service type SAD")?;
    if sad["unit"] != "hour" {
        bail!("service type SAD is not counted in hours: {sad}");
    }
    let beneficiaries: Vec<String> = worker
        .list_all("/beneficiaries")
        .await?
        .iter()
        .filter(|b| b["status"] != "archived")
        .filter_map(|b| b["id"].as_str().map(str::to_owned))
        .collect();
    if beneficiaries.is_empty() {
        bail!("the demo data has no beneficiary to plan for");
    }
    Ok(Facts {
        operator_id: uuid_at(&me_operator.body["id"], "operator id")?,
        provider_id: uuid_at(
            &me_operator.body["organization"]["id"],
            "operator's provider",
        )?,
        social_worker_id: uuid_at(&me_worker.body["id"], "social worker id")?,
        service_type_id: uuid_at(&sad["id"], "SAD id")?,
        beneficiaries,
    })
}

/// One active plan with the operator assigned; returns its id.
async fn make_plan(
    worker: &Session,
    coordinator: &Session,
    facts: &Facts,
    i: usize,
) -> anyhow::Result<Uuid> {
    let today = Utc::now().date_naive();
    let plan = worker
        .post(
            "/care-plans",
            &json!({
                "beneficiary_id": facts.beneficiaries[i % facts.beneficiaries.len()],
                "provider_id": facts.provider_id,
                "social_worker_id": facts.social_worker_id,
                "title": format!("Bench {i} {}", Uuid::new_v4().simple()),
                "valid_from": (today - chrono::Duration::days(60)).to_string(),
                "valid_to": (today + chrono::Duration::days(300)).to_string(),
                "planned_services": [{
                    "service_type_id": facts.service_type_id,
                    "allowance": 6,
                    "allowance_period": "week"
                }],
                "operator_ids": []
            }),
            None,
        )
        .await?
        .expect(201, "creating a care plan")?;
    let id = uuid_at(&plan.body["id"], "plan id")?;
    let active = worker
        .post(
            &format!("/care-plans/{id}/activate"),
            &json!({}),
            Some(plan.etag()?),
        )
        .await?
        .expect(200, "activating a care plan")?;
    let current = coordinator
        .get(&format!("/care-plans/{id}"))
        .await?
        .expect(200, "reading a plan as the coordinator")?;
    if current.etag != active.etag {
        bail!("the plan changed between activation and assignment");
    }
    coordinator
        .put(
            &format!("/care-plans/{id}/operators"),
            &json!({"operator_ids": [facts.operator_id]}),
            current.etag()?,
        )
        .await?
        .expect(200, "assigning the operator")?;
    Ok(id)
}

/// One device: registered, its diary fetched, `records` records written offline, and a
/// ticket for the storm.
async fn make_device(
    operator: &Session,
    ws_base: &str,
    care_plan_id: Uuid,
    document_id: DocumentId,
    records: usize,
    service_type_id: Uuid,
    i: usize,
) -> anyhow::Result<DeviceState> {
    let first = operator
        .post(
            "/sync/tickets",
            &json!({"device_id": null, "device_name": format!("Bench {i}")}),
            None,
        )
        .await?
        .expect(201, "registering a device")?;
    let device_id = uuid_at(&first.body["device_id"], "device id")?;
    let peer_id = first.text("peer_id")?.to_owned();
    let storage_id = Uuid::new_v4().to_string();
    let endpoint = Endpoint {
        url: ticket_url(ws_base, first.text("url")?)?,
        peer_id: PeerId::from(peer_id.clone()),
        storage_id: Some(storage_id.clone()),
    };
    let (mut doc, state) = fetch(
        &endpoint,
        document_id,
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .with_context(|| format!("fetching diary {document_id}"))?;
    // Visits two days ago from 08:00, inside the plan's validity.
    let base: DateTime<Utc> = (Utc::now().date_naive() - chrono::Duration::days(2))
        .and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default())
        .and_utc();
    add_records(&mut doc, records, service_type_id, base)?;

    let second = operator
        .post(
            "/sync/tickets",
            &json!({"device_id": device_id, "device_name": null}),
            None,
        )
        .await?
        .expect(201, "a ticket for the storm")?;
    if second.text("peer_id")? != peer_id {
        bail!("the device's second ticket has another peer id");
    }
    Ok(DeviceState {
        device_id,
        peer_id,
        storage_id,
        care_plan_id,
        document_id: document_id.to_string(),
        ticket_path: {
            let path = second.text("url")?;
            ticket_url(ws_base, path)?;
            path.to_owned()
        },
        doc: B64.encode(doc.save()),
        sync_state: B64.encode(state.encode()),
        records,
    })
}

/// Prepares `devices` devices with `records` offline records each on the server at `target`,
/// `concurrency` requests or devices at a time. Prints progress to stderr.
pub async fn setup(
    target: &Target,
    accounts: &Accounts,
    devices: usize,
    records: usize,
    concurrency: usize,
) -> anyhow::Result<StateFile> {
    let started = std::time::Instant::now();
    let api = Api::new(target)?;
    let worker = api
        .login(&accounts.social_worker, &accounts.password)
        .await?;
    let coordinator = api.login(&accounts.coordinator, &accounts.password).await?;
    let operator = api.login(&accounts.operator, &accounts.password).await?;
    let facts = discover(&worker, &operator).await?;

    let plans: Vec<Uuid> = stream::iter(0..devices)
        .map(|i| make_plan(&worker, &coordinator, &facts, i))
        .buffered(concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "setup: {devices} care plans active with the operator assigned ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let diaries: HashMap<Uuid, DocumentId> = operator
        .list_all("/me/documents")
        .await?
        .iter()
        .filter(|d| d["kind"] == "diary" && d["access"] == "read_write")
        .filter_map(|d| {
            let plan: Uuid = d["care_plan_id"].as_str()?.parse().ok()?;
            let doc: DocumentId = d["document_id"].as_str()?.parse().ok()?;
            Some((plan, doc))
        })
        .collect();
    let mut work = Vec::with_capacity(devices);
    for (i, plan) in plans.iter().enumerate() {
        let doc = *diaries
            .get(plan)
            .with_context(|| format!("no diary of the operator on new plan {plan}"))?;
        work.push((i, *plan, doc));
    }
    let ws_base = target.ws_base();
    let states: Vec<DeviceState> = stream::iter(work)
        .map(|(i, plan, doc)| {
            make_device(
                &operator,
                &ws_base,
                plan,
                doc,
                records,
                facts.service_type_id,
                i,
            )
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "setup: {devices} devices registered, diaries fetched, {records} offline records each ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(StateFile {
        base_url: target.url.clone(),
        operator_id: facts.operator_id,
        coordinator_email: accounts.coordinator.clone(),
        records_per_device: records,
        setup_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        devices: states,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_urls_stay_on_the_server() {
        assert_eq!(
            ticket_url("ws://127.0.0.1:18080", "/api/v1/sync?ticket=abc").expect("a path"),
            "ws://127.0.0.1:18080/api/v1/sync?ticket=abc"
        );
        assert!(ticket_url("ws://127.0.0.1:18080", "ws://10.0.0.1/api/v1/sync").is_err());
        assert!(ticket_url("ws://127.0.0.1:18080", "@10.0.0.1/x").is_err());
    }
}
