//! The `plan` document: one per care plan, written by the server only. See the module docs of
//! [`crate::schema`] for the layout.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, transaction::Transactable};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::doc::empty_document;
use super::entries::{EntryProblem, key_of, read_entries};
use super::error::{SchemaError, join};
use super::meta::DocMeta;
use super::value::{ensure_map, get, get_map, require, set};
use crate::DocumentKind;

const BENEFICIARY: &str = "beneficiary";
const PLANNED_SERVICES: &str = "planned_services";
const REVIEWS: &str = "reviews";

/// What the operator needs to find and reach the beneficiary; nothing else (minimization,
/// DESIGN.md §5b: no assessment, no health or social text ever enters a plan document).
#[derive(Debug, Clone, PartialEq)]
pub struct Beneficiary {
    /// The name shown to the operator.
    pub display_name: String,
    /// Where the visit takes place.
    pub address: Option<String>,
    /// A phone number to call before or during the visit.
    pub phone: Option<String>,
    /// Practical access notes (intercom, keys, stairs).
    pub access_notes: Option<String>,
}

/// A service the plan grants. Codes are the server's vocabulary, kept as strings here so a
/// device still shows a code a newer server introduced.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedService {
    /// The service type.
    pub service_type_id: Uuid,
    /// The service type's catalogue code.
    pub code: String,
    /// Its display name.
    pub name: String,
    /// Unit code (`hour`, `trip`, `km`, `access`).
    pub unit: String,
    /// Quantity granted per `allowance_period`, in `unit`.
    pub allowance: f64,
    /// Period code (`week`, `month`).
    pub allowance_period: String,
    /// First day of the service's own window, when narrower than the plan's.
    pub valid_from: Option<NaiveDate>,
    /// Last day of that window.
    pub valid_to: Option<NaiveDate>,
}

/// The fields of a plan document the server writes from its tables, reviews aside.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFields {
    /// Who the visits are for.
    pub beneficiary: Beneficiary,
    /// First day of the plan.
    pub valid_from: NaiveDate,
    /// Last day of the plan.
    pub valid_to: NaiveDate,
    /// Plan status code (`draft`, `active`, `suspended`, `closed`).
    pub status: String,
    /// Planned services by planned-service id.
    pub planned_services: BTreeMap<Uuid, PlannedService>,
}

/// The review outcome of one diary record, mirrored so the device sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// Record status code (`validated`, `rejected`, `clarification_requested`...).
    pub status: String,
    /// Review reason code, for rejections and clarification requests.
    pub reason_code: Option<String>,
    /// The reviewer's note to the provider.
    pub note: Option<String>,
    /// When the decision was taken (server clock).
    pub reviewed_at: DateTime<Utc>,
}

/// A plan document as read.
#[derive(Debug)]
pub struct PlanView {
    /// The document header.
    pub meta: DocMeta,
    /// The plan's fields; planned services that did not read are in `problems`.
    pub fields: PlanFields,
    /// Review outcomes by diary record id.
    pub reviews: BTreeMap<Uuid, Review>,
    /// Planned services and reviews that could not be read.
    pub problems: Vec<EntryProblem>,
}

impl PlanView {
    /// Reads a plan. Fails when the header or the plan's own fields are unusable; a malformed
    /// planned service or review lands in [`PlanView::problems`].
    pub fn read(doc: &impl ReadDoc) -> Result<Self, SchemaError> {
        let meta = DocMeta::read_expecting(doc, DocumentKind::Plan)?;
        let b = get_map(doc, &ROOT, "", BENEFICIARY)?.ok_or_else(|| SchemaError::Missing {
            path: BENEFICIARY.into(),
        })?;
        let beneficiary = Beneficiary {
            display_name: require(doc, &b, BENEFICIARY, "display_name")?,
            address: get(doc, &b, BENEFICIARY, "address")?,
            phone: get(doc, &b, BENEFICIARY, "phone")?,
            access_notes: get(doc, &b, BENEFICIARY, "access_notes")?,
        };
        let mut problems = Vec::new();
        let planned_services = match get_map(doc, &ROOT, "", PLANNED_SERVICES)? {
            Some(map) => {
                let (ok, bad) = read_entries(doc, &map, PLANNED_SERVICES, read_service);
                problems.extend(bad);
                ok.into_iter().collect()
            }
            None => BTreeMap::new(),
        };
        let reviews = match get_map(doc, &ROOT, "", REVIEWS)? {
            Some(map) => {
                let (ok, bad) = read_entries(doc, &map, REVIEWS, read_review);
                problems.extend(bad);
                ok.into_iter().collect()
            }
            None => BTreeMap::new(),
        };
        let fields = PlanFields {
            beneficiary,
            valid_from: require(doc, &ROOT, "", "valid_from")?,
            valid_to: require(doc, &ROOT, "", "valid_to")?,
            status: require(doc, &ROOT, "", "status")?,
            planned_services,
        };
        Ok(Self {
            meta,
            fields,
            reviews,
            problems,
        })
    }
}

fn read_service<D: ReadDoc>(
    doc: &D,
    s: &ObjId,
    id: Uuid,
    path: &str,
) -> Result<(Uuid, PlannedService), SchemaError> {
    let service = PlannedService {
        service_type_id: require(doc, s, path, "service_type_id")?,
        code: require(doc, s, path, "code")?,
        name: require(doc, s, path, "name")?,
        unit: require(doc, s, path, "unit")?,
        allowance: require(doc, s, path, "allowance")?,
        allowance_period: require(doc, s, path, "allowance_period")?,
        valid_from: get(doc, s, path, "valid_from")?,
        valid_to: get(doc, s, path, "valid_to")?,
    };
    Ok((id, service))
}

fn read_review<D: ReadDoc>(
    doc: &D,
    r: &ObjId,
    id: Uuid,
    path: &str,
) -> Result<(Uuid, Review), SchemaError> {
    let review = Review {
        status: require(doc, r, path, "status")?,
        reason_code: get(doc, r, path, "reason_code")?,
        note: get(doc, r, path, "note")?,
        reviewed_at: require(doc, r, path, "reviewed_at")?,
    };
    Ok((id, review))
}

/// A new plan document for `care_plan_id` holding `fields`, counting text in UTF-16 code units
/// like the JS client. The server creates it and sets its own actor on it before saving.
pub fn new_plan(care_plan_id: Uuid, fields: &PlanFields) -> Result<AutoCommit, SchemaError> {
    let mut doc = empty_document();
    DocMeta::write_new(&mut doc, DocumentKind::Plan, care_plan_id)?;
    ensure_map(&mut doc, &ROOT, REVIEWS)?;
    write_plan(&mut doc, fields)?;
    Ok(doc)
}

/// Brings the plan's fields to `fields`, key by key and only where they differ: writing the
/// same fields twice makes no change, and fields a newer server version added stay. Planned
/// services no longer in `fields` are removed (the server is the only writer and owns that
/// list); reviews are untouched.
pub fn write_plan(doc: &mut impl Transactable, fields: &PlanFields) -> Result<(), SchemaError> {
    DocMeta::read_expecting(doc, DocumentKind::Plan)?;
    // Checked before any write, so a refused plan leaves the document untouched.
    for (id, svc) in &fields.planned_services {
        if !svc.allowance.is_finite() {
            let path = join(&join(PLANNED_SERVICES, &key_of(*id)), "allowance");
            return Err(SchemaError::invalid(path, "not a finite number"));
        }
    }
    let b = ensure_map(doc, &ROOT, BENEFICIARY)?;
    let ben = &fields.beneficiary;
    set(
        doc,
        &b,
        BENEFICIARY,
        "display_name",
        Some(&ben.display_name),
    )?;
    set(doc, &b, BENEFICIARY, "address", ben.address.as_ref())?;
    set(doc, &b, BENEFICIARY, "phone", ben.phone.as_ref())?;
    set(
        doc,
        &b,
        BENEFICIARY,
        "access_notes",
        ben.access_notes.as_ref(),
    )?;
    set(doc, &ROOT, "", "valid_from", Some(&fields.valid_from))?;
    set(doc, &ROOT, "", "valid_to", Some(&fields.valid_to))?;
    set(doc, &ROOT, "", "status", Some(&fields.status))?;

    let services = ensure_map(doc, &ROOT, PLANNED_SERVICES)?;
    for (id, svc) in &fields.planned_services {
        let key = key_of(*id);
        let path = join(PLANNED_SERVICES, &key);
        let p = path.as_str();
        let s = ensure_map(doc, &services, &key)?;
        set(doc, &s, p, "service_type_id", Some(&svc.service_type_id))?;
        set(doc, &s, p, "code", Some(&svc.code))?;
        set(doc, &s, p, "name", Some(&svc.name))?;
        set(doc, &s, p, "unit", Some(&svc.unit))?;
        set(doc, &s, p, "allowance", Some(&svc.allowance))?;
        set(doc, &s, p, "allowance_period", Some(&svc.allowance_period))?;
        set(doc, &s, p, "valid_from", svc.valid_from.as_ref())?;
        set(doc, &s, p, "valid_to", svc.valid_to.as_ref())?;
    }
    let wanted: BTreeSet<String> = fields
        .planned_services
        .keys()
        .map(|id| key_of(*id))
        .collect();
    let stale: Vec<String> = doc
        .keys(&services)
        .filter(|k| !wanted.contains(k))
        .collect();
    for key in stale {
        doc.delete(&services, key.as_str())?;
    }
    Ok(())
}

/// Records the review outcome of diary record `record_id`, writing only what changed.
pub fn write_review(
    doc: &mut impl Transactable,
    record_id: Uuid,
    review: &Review,
) -> Result<(), SchemaError> {
    DocMeta::read_expecting(doc, DocumentKind::Plan)?;
    let reviews = ensure_map(doc, &ROOT, REVIEWS)?;
    let key = key_of(record_id);
    let path = join(REVIEWS, &key);
    let p = path.as_str();
    let r = ensure_map(doc, &reviews, &key)?;
    set(doc, &r, p, "status", Some(&review.status))?;
    set(doc, &r, p, "reason_code", review.reason_code.as_ref())?;
    set(doc, &r, p, "note", review.note.as_ref())?;
    set(doc, &r, p, "reviewed_at", Some(&review.reviewed_at))?;
    Ok(())
}
