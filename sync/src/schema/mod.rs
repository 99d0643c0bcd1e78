//! Typed schemas of the two automerge documents (DESIGN.md §5), with readers and writers used
//! by the server and the tests. `docs/sync.md` ("Documents") says the same for non-Rust readers.
//!
//! # Layout
//!
//! Every root: `schema_version` (uint), `kind` (`"plan"` | `"diary"`), `care_plan_id`.
//!
//! `diary` (one per operator and plan; written by the operator's devices and coordinator):
//! root `operator_id`, and `records`: a map keyed by a client-generated UUID (lowercase,
//! hyphenated) to a record map: `service_type_id`, `started_at`, `ended_at`?, `quantity`?,
//! `km`?, `origin`?, `destination`?, `latitude`? + `longitude`? (both or neither), `notes`
//! (Text), `missed` (bool), `missed_reason`? (`beneficiary_absent` | `beneficiary_refused` |
//! `beneficiary_hospitalized` | `operator_unavailable` | `other`), `recorded_at`, and the
//! tombstone `deleted` (bool) + `deleted_at`?. A record has no operator: the operator is the
//! diary's owner, and an `operator_id` a device writes into a record is ignored.
//!
//! `plan` (one per care plan; written by the server only): `beneficiary` {`display_name`,
//! `address`?, `phone`?, `access_notes`?}, `valid_from`, `valid_to`, `status`,
//! `planned_services` keyed by planned-service id -> {`service_type_id`, `code`, `name`,
//! `unit`, `allowance`, `allowance_period`, `valid_from`?, `valid_to`?}, and `reviews` keyed by
//! diary record id -> {`status`, `reason_code`?, `note`?, `reviewed_at`}.
//!
//! # Values
//!
//! - Ids, codes, dates (`YYYY-MM-DD`) and timestamps (RFC 3339, written in UTC with `Z`) are
//!   scalar strings: collaborative Text costs ~3x the CPU to sync (STACK.md) and nobody edits
//!   an id character by character. Numbers are written as F64, flags as booleans.
//! - `notes` is the one collaborative Text a Rust writer creates: it is free text that an
//!   operator and a coordinator may both edit offline, and as Text their edits merge
//!   character by character instead of one overwriting the other. It is created with the
//!   record, so every device edits the same Text object.
//! - Readers accept what the JS client writes: a plain JS string is a Text object (scalar only
//!   with `ImmutableString`), an integral number is an Int, an unset optional field may be
//!   `null`. So every string field reads from Text or scalar, every number from F64, Int or
//!   Uint, and `null` reads as absent.
//! - Text indexes count UTF-16 code units, like the JS client: the encoding is not stored in
//!   the document, so create documents with our constructors and load them with
//!   [`load_document`].
//!
//! # Compatibility
//!
//! - Readers read the fields they know and ignore the others. An older document (missing
//!   optional fields a newer schema added) reads with those fields absent. A document with a
//!   newer `schema_version` reads too; [`DocMeta::is_newer_than_supported`] tells the caller.
//! - Writers update in place, key by key, and only where the value differs: they never replace
//!   a record or a map (that would drop fields they do not know, and a whole-map write would
//!   overwrite a concurrent edit of another field), and writing the same values twice makes no
//!   change.
//! - One malformed entry (record, planned service, review) is reported in `problems` beside
//!   the entries that read; only a broken header or plan field fails the whole read.
//! - Errors name the field path, never the value (values are personal data; errors get logged).

mod diary;
mod doc;
mod entries;
mod error;
mod meta;
mod plan;
mod value;

#[cfg(test)]
mod tests;

pub use diary::{
    DiaryRecord, DiaryView, MissedReason, Position, RecordFields, new_diary, tombstone,
    upsert_record,
};
pub use doc::{TEXT_ENCODING, load_document};
pub use entries::EntryProblem;
pub use error::SchemaError;
pub use meta::DocMeta;
pub use plan::{
    Beneficiary, PlanFields, PlanView, PlannedService, Review, new_plan, write_plan, write_review,
};
