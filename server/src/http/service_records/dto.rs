//! The wire forms of service records: responses, request bodies, query parameters, and the
//! conversion of stored rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db::entities::{finding, finding_acknowledgement, service_record, service_record_event},
    domain::{
        access::RecordView,
        review::AcknowledgementKind,
        rules::{RuleCode, Severity},
        service_record::{MissedReason, RecordSource, RecordStatus, ReviewReason},
        values::from_milli,
    },
    http::list_envelope,
};

/// What an automatic check found on a record (docs/rules.md).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FindingView {
    pub(crate) code: RuleCode,
    pub(crate) severity: Severity,
    /// For the reviewer, in Italian.
    #[schema(max_length = 500)]
    pub(crate) message: String,
    /// The same in English.
    #[schema(max_length = 500)]
    pub(crate) message_en: String,
    /// The measured value against the configured limit, when the rule measures something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) measured: Option<MeasuredView>,
    /// The other record involved (an overlap, the probable original of a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) related_record_id: Option<Uuid>,
    /// The planned service whose allowance was passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) planned_service_id: Option<Uuid>,
    /// The allowance period: an ISO week (`2026-W48`) or a month (`2026-11`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 16, example = "2026-W48")]
    pub(crate) period: Option<String>,
    /// What a reviewer did about it, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) acknowledgement: Option<AcknowledgementView>,
}

/// A measured value against its limit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeasuredView {
    #[schema(format = Double)]
    pub(crate) value: f64,
    #[schema(format = Double)]
    pub(crate) limit: f64,
    /// `minutes`, `km`, `km/h`, `days`, `m`, `hours`, `trips`, `accesses`.
    #[schema(max_length = 16)]
    pub(crate) unit: String,
}

/// A reviewer's acknowledgement (a warning) or override (a blocking finding).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AcknowledgementView {
    pub(crate) kind: AcknowledgementKind,
    /// The reviewer's reason (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub(crate) reason: Option<String>,
    pub(crate) acknowledged_by: Uuid,
    pub(crate) acknowledged_at: DateTime<Utc>,
}

impl FindingView {
    /// A stored finding with the acknowledgements of its record, as `view` may see it.
    pub(crate) fn new(
        f: finding::Model,
        acknowledgements: &[finding_acknowledgement::Model],
        view: RecordView,
    ) -> Option<Self> {
        let acknowledgement = acknowledgements
            .iter()
            .find(|a| a.code == f.code)
            .and_then(|a| {
                Some(AcknowledgementView {
                    kind: AcknowledgementKind::parse(&a.kind)?,
                    reason: Some(a.reason.clone()).filter(|_| view == RecordView::Full),
                    acknowledged_by: a.acknowledged_by,
                    acknowledged_at: a.acknowledged_at,
                })
            });
        Some(Self {
            code: RuleCode::parse(&f.code)?,
            severity: Severity::parse(&f.severity)?,
            message: f.message_it,
            message_en: f.message_en,
            measured: f
                .measured_value
                .zip(f.measured_limit)
                .map(|(value, limit)| MeasuredView {
                    value,
                    limit,
                    unit: f.measured_unit.unwrap_or_default(),
                }),
            related_record_id: f.related_record_id,
            planned_service_id: f.planned_service_id,
            period: f.period,
            acknowledgement,
        })
    }
}

/// One step of a record's history.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct HistoryStep {
    pub(super) occurred_at: DateTime<Utc>,
    /// `created`, `corrected`, `synced`, `validated`, `rejected`, `clarification_requested`,
    /// `reopened`, `acknowledged`, `overridden`.
    #[schema(max_length = 40, example = "rejected")]
    pub(super) action: String,
    /// The person who took the step (absent for a system or device step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) actor_user_id: Option<Uuid>,
    /// The API client that took the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) actor_client_id: Option<Uuid>,
    /// The record's status after the step.
    pub(super) status: RecordStatus,
    /// The review reason or the finding code concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 40)]
    pub(super) reason_code: Option<String>,
    /// The words given (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub(super) note: Option<String>,
}

impl HistoryStep {
    pub(super) fn new(e: service_record_event::Model, view: RecordView) -> Self {
        Self {
            occurred_at: e.occurred_at,
            action: e.action,
            actor_user_id: e.actor_user_id,
            actor_client_id: e.actor_client_id,
            status: RecordStatus::parse(&e.status).unwrap_or(RecordStatus::Recorded),
            reason_code: e.reason_code,
            note: e.note.filter(|_| view == RecordView::Full),
        }
    }
}

/// A record's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RecordHistory {
    #[schema(max_items = 10000)]
    pub(super) items: Vec<HistoryStep>,
}

/// The municipality's latest decision on a record.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Review {
    /// Why the record was rejected or needs clarification; absent for validations and reopenings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason_code: Option<ReviewReason>,
    /// The reviewer's words to the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub(super) note: Option<String>,
    /// The social worker who decided.
    pub(super) reviewed_by: Uuid,
    pub(super) reviewed_at: DateTime<Utc>,
}

/// A prestazione: one delivered (or missed) service.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ServiceRecord {
    pub(super) id: Uuid,
    pub(super) care_plan_id: Uuid,
    pub(super) service_type_id: Uuid,
    /// The field operator who delivered the service.
    pub(super) operator_id: Uuid,
    /// The operator's given and family name, for whoever verifies or accounts for the record.
    #[schema(max_length = 201, example = "Giulia Ferri")]
    pub(super) operator_name: String,
    pub(super) started_at: DateTime<Utc>,
    /// Absent while the visit is open.
    pub(super) ended_at: Option<DateTime<Utc>>,
    /// Quantity in the service type's unit (hours, trips, km, accesses), three decimals at most.
    #[schema(format = Double, minimum = 0, example = 1.5)]
    pub(super) quantity: f64,
    /// Kilometres driven, for transports.
    #[schema(format = Double, minimum = 0, example = 12.4)]
    pub(super) km: Option<f64>,
    /// Where a transport started (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300)]
    pub(super) origin: Option<String>,
    /// Where a transport ended (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300)]
    pub(super) destination: Option<String>,
    /// WGS 84 latitude where the visit was recorded (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Double, minimum = -90, maximum = 90)]
    pub(super) latitude: Option<f64>,
    /// WGS 84 longitude where the visit was recorded (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Double, minimum = -180, maximum = 180)]
    pub(super) longitude: Option<f64>,
    /// Free text of the operator (omitted for administrative staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub(super) notes: Option<String>,
    /// The visit did not take place; the quantity is then zero.
    pub(super) missed: bool,
    /// Why the visit did not take place.
    pub(super) missed_reason: Option<MissedReason>,
    pub(super) status: RecordStatus,
    /// The latest review decision; omitted when the record was never reviewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) review: Option<Review>,
    /// The automatic checks' findings against the plan, recomputed whenever the record, its
    /// plan or a neighbouring record changes.
    #[schema(max_items = 100)]
    pub(super) findings: Vec<FindingView>,
    /// How the record reached the server.
    pub(super) source: RecordSource,
    /// When the server received the record.
    pub(super) received_at: DateTime<Utc>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub(super) version: i32,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl ServiceRecord {
    /// The record as `view` may see it, with its findings.
    pub(super) fn new(
        m: service_record::Model,
        view: RecordView,
        operator_name: String,
        findings: Vec<FindingView>,
    ) -> Self {
        let full = view == RecordView::Full;
        let review = m
            .reviewed_at
            .zip(m.reviewed_by)
            .map(|(reviewed_at, reviewed_by)| Review {
                reason_code: m
                    .review_reason_code
                    .as_deref()
                    .and_then(ReviewReason::parse),
                note: m.review_note,
                reviewed_by,
                reviewed_at,
            });
        Self {
            id: m.id,
            care_plan_id: m.care_plan_id,
            service_type_id: m.service_type_id,
            operator_id: m.operator_id,
            operator_name,
            started_at: m.started_at,
            ended_at: m.ended_at,
            quantity: from_milli(m.quantity_milli),
            km: m.km_milli.map(from_milli),
            origin: m.origin.filter(|_| full),
            destination: m.destination.filter(|_| full),
            latitude: m.latitude.filter(|_| full),
            longitude: m.longitude.filter(|_| full),
            notes: m.notes.filter(|_| full),
            missed: m.missed,
            missed_reason: m.missed_reason.as_deref().and_then(MissedReason::parse),
            status: RecordStatus::parse(&m.status).unwrap_or(RecordStatus::Recorded),
            review,
            findings,
            source: RecordSource::parse(&m.source).unwrap_or(RecordSource::Api),
            received_at: m.received_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

list_envelope!(
    ServiceRecordList,
    ServiceRecord,
    "A page of service records."
);

/// A service record sent by a provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewServiceRecord {
    /// Client-generated id, so that a retry never creates a duplicate: resending the same record
    /// with the same id answers 200 with the stored record.
    pub(super) id: Option<Uuid>,
    pub(super) care_plan_id: Uuid,
    /// An active service type of the plan's municipality.
    pub(super) service_type_id: Uuid,
    /// The operator who delivered the service: required for coordinators, implied for operators.
    pub(super) operator_id: Option<Uuid>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) ended_at: Option<DateTime<Utc>>,
    /// Explicit quantity in the service type's unit; when absent it follows from the times
    /// (hours), the km (km) or is 1 (trips, accesses).
    #[schema(format = Double, minimum = 0, example = 1.5)]
    pub(super) quantity: Option<f64>,
    #[schema(format = Double, minimum = 0, example = 12.4)]
    pub(super) km: Option<f64>,
    #[schema(max_length = 300)]
    pub(super) origin: Option<String>,
    #[schema(max_length = 300)]
    pub(super) destination: Option<String>,
    #[schema(format = Double, minimum = -90, maximum = 90)]
    pub(super) latitude: Option<f64>,
    #[schema(format = Double, minimum = -180, maximum = 180)]
    pub(super) longitude: Option<f64>,
    #[schema(max_length = 2000)]
    pub(super) notes: Option<String>,
    /// The visit did not take place.
    #[serde(default)]
    #[schema(default = false)]
    pub(super) missed: bool,
    pub(super) missed_reason: Option<MissedReason>,
}

/// Changes to a service record (JSON merge patch; `null` clears an optional field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceRecordPatch {
    pub(super) service_type_id: Option<Uuid>,
    pub(super) started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(super) ended_at: Option<Option<DateTime<Utc>>>,
    /// `null` goes back to the quantity that follows from the times, km or unit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = 0)]
    pub(super) quantity: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = 0)]
    pub(super) km: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub(super) origin: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub(super) destination: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = -90, maximum = 90)]
    pub(super) latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, format = Double, minimum = -180, maximum = 180)]
    pub(super) longitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub(super) notes: Option<Option<String>>,
    pub(super) missed: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<MissedReason>)]
    pub(super) missed_reason: Option<Option<MissedReason>>,
}

/// A merge-patch field: absent is `None`, `null` is `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An optional note to a validation or a reopening.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewNote {
    /// Words for the provider; the body itself may be omitted.
    #[schema(max_length = 2000, example = "Verificato con la famiglia")]
    pub(super) note: Option<String>,
}

/// A validation: an optional note, and the reason for setting blocking findings aside.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ValidationInput {
    /// Words for the provider.
    #[schema(max_length = 2000, example = "Verificato con la famiglia")]
    pub(super) note: Option<String>,
    /// Why the record is valid despite its blocking findings; required when it has any
    /// (recorded as an override of each, in the record's history).
    #[schema(
        max_length = 2000,
        example = "Accesso concordato telefonicamente con la famiglia"
    )]
    pub(super) override_reason: Option<String>,
}

/// A rejection or a request for clarification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewDecision {
    pub(super) reason_code: ReviewReason,
    /// What is wrong, in words the provider will read.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "L'orario non corrisponde al piano"
    )]
    pub(super) note: String,
}

/// Filters and paging of the service record list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ServiceRecordQuery {
    /// Only records of this care plan.
    pub(super) care_plan_id: Option<Uuid>,
    /// Only records of this operator.
    pub(super) operator_id: Option<Uuid>,
    /// Only records of this service type.
    pub(super) service_type_id: Option<Uuid>,
    /// Only records in this status.
    pub(super) status: Option<RecordStatus>,
    /// Only records started at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(super) from: Option<DateTime<Utc>>,
    /// Only records started before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(super) to: Option<DateTime<Utc>>,
    /// Only missed (`true`) or delivered (`false`) visits.
    pub(super) missed: Option<bool>,
    /// Sort order; `-` for descending (default `-started_at`).
    #[param(pattern = "^-?(started_at|received_at)$", max_length = 12)]
    pub(super) sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}
