//! The `diary` document: one per (operator, care plan), written by that operator's devices and
//! their coordinator. See the module docs of [`crate::schema`] for the layout.

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, transaction::Transactable};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::doc::empty_document;
use super::entries::{EntryProblem, key_of, read_entries};
use super::error::{SchemaError, join};
use super::meta::DocMeta;
use super::value::{Field, Raw, ensure_map, get, get_map, require, set, set_text};
use crate::DocumentKind;

const OPERATOR_ID: &str = "operator_id";
const RECORDS: &str = "records";

/// Why a planned visit did not take place (the server's `MissedReason` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissedReason {
    /// Nobody at home.
    BeneficiaryAbsent,
    /// The beneficiary refused the service.
    BeneficiaryRefused,
    /// In hospital or residential care.
    BeneficiaryHospitalized,
    /// The provider could not send an operator.
    OperatorUnavailable,
    /// Explained in the notes.
    Other,
}

impl MissedReason {
    const ALL: [Self; 5] = [
        Self::BeneficiaryAbsent,
        Self::BeneficiaryRefused,
        Self::BeneficiaryHospitalized,
        Self::OperatorUnavailable,
        Self::Other,
    ];

    /// The code stored in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeneficiaryAbsent => "beneficiary_absent",
            Self::BeneficiaryRefused => "beneficiary_refused",
            Self::BeneficiaryHospitalized => "beneficiary_hospitalized",
            Self::OperatorUnavailable => "operator_unavailable",
            Self::Other => "other",
        }
    }

    /// The reason with code `code`, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl Field for MissedReason {
    const EXPECTED: &'static str = "a missed-visit reason code";
    fn from_raw(raw: Raw, path: &str) -> Result<Self, SchemaError> {
        let code = String::from_raw(raw, path)?;
        Self::from_code(&code)
            .ok_or_else(|| SchemaError::invalid(path.to_owned(), "unknown missed-visit reason"))
    }
    fn to_scalar(&self, path: &str) -> Result<automerge::ScalarValue, SchemaError> {
        self.as_str().to_owned().to_scalar(path)
    }
}

/// Where the operator was, captured only where the provider enabled it (DESIGN.md §5b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Degrees, -90 to 90.
    pub latitude: f64,
    /// Degrees, -180 to 180.
    pub longitude: f64,
}

/// What a device records about one service: the fields of a record that writers set.
/// The operator is not among them: it is the diary's owner.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFields {
    /// The service type performed.
    pub service_type_id: Uuid,
    /// When the service started (device clock).
    pub started_at: DateTime<Utc>,
    /// When it ended, once known.
    pub ended_at: Option<DateTime<Utc>>,
    /// Quantity in the service type's unit, when not derived from the times.
    pub quantity: Option<f64>,
    /// Kilometres driven, for transports.
    pub km: Option<f64>,
    /// Where a transport started.
    pub origin: Option<String>,
    /// Where a transport ended.
    pub destination: Option<String>,
    /// Position at the visit, when capture is enabled.
    pub position: Option<Position>,
    /// Free text, a collaborative Text in the document.
    pub notes: String,
    /// Whether the planned visit did not take place.
    pub missed: bool,
    /// Why, when it did not.
    pub missed_reason: Option<MissedReason>,
    /// When the device recorded it (device clock; the server keeps its own receipt time).
    pub recorded_at: DateTime<Utc>,
}

/// A record as read from a diary, with its tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct DiaryRecord {
    /// The client-generated key.
    pub id: Uuid,
    /// What was recorded.
    pub fields: RecordFields,
    /// Whether the record was deleted; a deleted record stays in the map.
    pub deleted: bool,
    /// When it was deleted (device clock), when known.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A diary as read: its header, the records that read, and the ones that did not.
#[derive(Debug)]
pub struct DiaryView {
    /// The document header.
    pub meta: DocMeta,
    /// The operator who owns the diary and every record in it.
    pub operator_id: Uuid,
    /// Readable records, deleted ones included, sorted by id.
    pub records: Vec<DiaryRecord>,
    /// Records that could not be read; they do not hide the others.
    pub problems: Vec<EntryProblem>,
}

impl DiaryView {
    /// Reads a diary. Fails only when the header is unusable or `records` is not a map; a
    /// malformed record lands in [`DiaryView::problems`].
    pub fn read(doc: &impl ReadDoc) -> Result<Self, SchemaError> {
        let meta = DocMeta::read_expecting(doc, DocumentKind::Diary)?;
        let operator_id = require(doc, &ROOT, "", OPERATOR_ID)?;
        let (records, problems) = match get_map(doc, &ROOT, "", RECORDS)? {
            Some(map) => read_entries(doc, &map, RECORDS, read_record),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Self {
            meta,
            operator_id,
            records,
            problems,
        })
    }
}

impl DiaryRecord {
    /// Reads the record `id` of a diary; `Ok(None)` when there is none.
    pub fn read(doc: &impl ReadDoc, id: Uuid) -> Result<Option<Self>, SchemaError> {
        let Some(records) = get_map(doc, &ROOT, "", RECORDS)? else {
            return Ok(None);
        };
        let key = key_of(id);
        match get_map(doc, &records, RECORDS, &key)? {
            Some(obj) => read_record(doc, &obj, id, &join(RECORDS, &key)).map(Some),
            None => Ok(None),
        }
    }
}

fn read_record<D: ReadDoc>(
    doc: &D,
    rec: &ObjId,
    id: Uuid,
    path: &str,
) -> Result<DiaryRecord, SchemaError> {
    // Any `operator_id` a device put here is deliberately not read: the owner is the diary's.
    let latitude: Option<f64> = get(doc, rec, path, "latitude")?;
    let longitude: Option<f64> = get(doc, rec, path, "longitude")?;
    let position = match (latitude, longitude) {
        (Some(latitude), Some(longitude)) => Some(Position {
            latitude,
            longitude,
        }),
        (None, None) => None,
        _ => {
            return Err(SchemaError::invalid(
                join(path, "latitude"),
                "latitude and longitude come together",
            ));
        }
    };
    let fields = RecordFields {
        service_type_id: require(doc, rec, path, "service_type_id")?,
        started_at: require(doc, rec, path, "started_at")?,
        ended_at: get(doc, rec, path, "ended_at")?,
        quantity: get(doc, rec, path, "quantity")?,
        km: get(doc, rec, path, "km")?,
        origin: get(doc, rec, path, "origin")?,
        destination: get(doc, rec, path, "destination")?,
        position,
        notes: get(doc, rec, path, "notes")?.unwrap_or_default(),
        missed: get(doc, rec, path, "missed")?.unwrap_or(false),
        missed_reason: get(doc, rec, path, "missed_reason")?,
        recorded_at: require(doc, rec, path, "recorded_at")?,
    };
    check_fields(&fields, path)?;
    Ok(DiaryRecord {
        id,
        fields,
        deleted: get(doc, rec, path, "deleted")?.unwrap_or(false),
        deleted_at: get(doc, rec, path, "deleted_at")?,
    })
}

/// The rules types alone do not enforce. Readers apply them to what they read; writers apply
/// them before writing anything, so a refused record leaves the document untouched.
fn check_fields(fields: &RecordFields, path: &str) -> Result<(), SchemaError> {
    for (key, n) in [("quantity", fields.quantity), ("km", fields.km)] {
        if n.is_some_and(|n| !n.is_finite()) {
            return Err(SchemaError::invalid(join(path, key), "not a finite number"));
        }
    }
    if let Some(p) = fields.position {
        if !(-90.0..=90.0).contains(&p.latitude) {
            return Err(SchemaError::invalid(join(path, "latitude"), "out of range"));
        }
        if !(-180.0..=180.0).contains(&p.longitude) {
            return Err(SchemaError::invalid(
                join(path, "longitude"),
                "out of range",
            ));
        }
    }
    Ok(())
}

/// A new, empty diary of `operator_id` for `care_plan_id`, counting text in UTF-16 code units
/// like the JS client. The `records` map is created here, once: two writers that each created
/// it would conflict and one side's records would be hidden.
pub fn new_diary(care_plan_id: Uuid, operator_id: Uuid) -> Result<AutoCommit, SchemaError> {
    let mut doc = empty_document();
    DocMeta::write_new(&mut doc, DocumentKind::Diary, care_plan_id)?;
    set(&mut doc, &ROOT, "", OPERATOR_ID, Some(&operator_id))?;
    ensure_map(&mut doc, &ROOT, RECORDS)?;
    Ok(doc)
}

/// Creates record `id` or brings its known fields to `fields`, writing only the fields whose
/// value differs (so an unchanged field never overwrites another device's concurrent edit) and
/// leaving unknown fields and the tombstone as they are. `notes` is edited as Text.
pub fn upsert_record(
    doc: &mut impl Transactable,
    id: Uuid,
    fields: &RecordFields,
) -> Result<(), SchemaError> {
    DocMeta::read_expecting(doc, DocumentKind::Diary)?;
    let key = key_of(id);
    let path = join(RECORDS, &key);
    check_fields(fields, &path)?;
    let records = ensure_map(doc, &ROOT, RECORDS)?;
    let rec = ensure_map(doc, &records, &key)?;
    let p = path.as_str();
    set(
        doc,
        &rec,
        p,
        "service_type_id",
        Some(&fields.service_type_id),
    )?;
    set(doc, &rec, p, "started_at", Some(&fields.started_at))?;
    set(doc, &rec, p, "ended_at", fields.ended_at.as_ref())?;
    set(doc, &rec, p, "quantity", fields.quantity.as_ref())?;
    set(doc, &rec, p, "km", fields.km.as_ref())?;
    set(doc, &rec, p, "origin", fields.origin.as_ref())?;
    set(doc, &rec, p, "destination", fields.destination.as_ref())?;
    let (lat, lon) = fields.position.map(|p| (p.latitude, p.longitude)).unzip();
    set(doc, &rec, p, "latitude", lat.as_ref())?;
    set(doc, &rec, p, "longitude", lon.as_ref())?;
    // Created even when empty, with the record: two devices then edit the same Text object
    // instead of each creating its own and losing one in the conflict.
    set_text(doc, &rec, "notes", &fields.notes)?;
    set(doc, &rec, p, "missed", Some(&fields.missed))?;
    set(doc, &rec, p, "missed_reason", fields.missed_reason.as_ref())?;
    set(doc, &rec, p, "recorded_at", Some(&fields.recorded_at))?;
    Ok(())
}

/// Marks record `id` deleted at `at`. The record stays in the map (the history is the audit
/// trail and a concurrent edit must not resurrect a vanished key). Deleting twice keeps the
/// first time. Fails with [`SchemaError::Missing`] when there is no such record.
pub fn tombstone(
    doc: &mut impl Transactable,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), SchemaError> {
    DocMeta::read_expecting(doc, DocumentKind::Diary)?;
    let key = key_of(id);
    let path = join(RECORDS, &key);
    let missing = || SchemaError::Missing { path: path.clone() };
    let records = get_map(doc, &ROOT, "", RECORDS)?.ok_or_else(missing)?;
    let rec = get_map(doc, &records, RECORDS, &key)?.ok_or_else(missing)?;
    set(doc, &rec, &path, "deleted", Some(&true))?;
    if get::<DateTime<Utc>>(doc, &rec, &path, "deleted_at")
        .ok()
        .flatten()
        .is_none()
    {
        set(doc, &rec, &path, "deleted_at", Some(&at))?;
    }
    Ok(())
}
