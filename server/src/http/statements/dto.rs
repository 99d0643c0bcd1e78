//! The wire forms of statements: responses, request bodies and query parameters.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db::entities::statement,
    domain::{
        service_record::{RecordStatus, ServiceUnit},
        statement::{Exclusion, StatementStatus},
        values::Money,
    },
    http::list_envelope,
};

/// One line of a statement: the validated quantity of a service on a plan, times its tariff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct StatementLine {
    pub(super) care_plan_id: Uuid,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub(super) plan_title: String,
    /// The beneficiary's pseudonym; statements never name people.
    #[schema(max_length = 16, example = "B-K7QX2M9D")]
    pub(super) beneficiary_pseudonym: String,
    pub(super) service_type_id: Uuid,
    #[schema(max_length = 32, example = "SAD")]
    pub(super) service_type_code: String,
    #[schema(max_length = 200, example = "Assistenza domiciliare (SAD)")]
    pub(super) service_type_name: String,
    pub(super) unit: ServiceUnit,
    /// Validated records summed in this line.
    #[schema(format = Int64, minimum = 1, example = 12)]
    pub(super) records: i64,
    /// Validated quantity in the unit, three decimals at most (summed exactly, never rounded).
    #[schema(format = Double, minimum = 0, example = 18.5)]
    pub(super) quantity: f64,
    /// Price of one unit.
    pub(super) tariff: Money,
    /// `quantity x tariff`, rounded once to the cent, half away from zero.
    pub(super) amount: Money,
}

/// A record of the month that is not paid: still pending review, or rejected.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct ExcludedRecord {
    /// The service record.
    pub(super) id: Uuid,
    pub(super) care_plan_id: Uuid,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub(super) plan_title: String,
    #[schema(max_length = 32, example = "SAD")]
    pub(super) service_type_code: String,
    pub(super) unit: ServiceUnit,
    pub(super) started_at: DateTime<Utc>,
    /// The day of the visit in Italy.
    pub(super) date: NaiveDate,
    pub(super) status: RecordStatus,
    /// Why it is not paid.
    pub(super) exclusion: Exclusion,
    /// Quantity in the unit, as recorded.
    #[schema(format = Double, minimum = 0, example = 1.5)]
    pub(super) quantity: f64,
}

/// One status change of a statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct StatementEvent {
    /// What happened.
    #[schema(
        max_length = 16,
        pattern = "^(create|submit|approve|reopen)$",
        example = "submit"
    )]
    pub(super) action: String,
    /// The status it led to.
    pub(super) status: StatementStatus,
    /// Why (always given for a reopening).
    #[schema(max_length = 500)]
    pub(super) reason: Option<String>,
    /// The person who did it, if a person did.
    pub(super) actor_user_id: Option<Uuid>,
    /// The API client that did it, if a system did.
    pub(super) actor_client_id: Option<Uuid>,
    pub(super) occurred_at: DateTime<Utc>,
}

/// A provider's monthly statement (rendicontazione) to a municipality.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct Statement {
    pub(super) id: Uuid,
    pub(super) municipality_id: Uuid,
    #[schema(max_length = 200, example = "Comune di Melegnano")]
    pub(super) municipality_name: String,
    pub(super) provider_id: Uuid,
    #[schema(max_length = 200, example = "Cooperativa Sociale Il Girasole")]
    pub(super) provider_name: String,
    /// The calendar month, Italian time.
    #[schema(
        max_length = 7,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
        example = "2026-11"
    )]
    pub(super) month: String,
    pub(super) status: StatementStatus,
    /// Why it was last reopened, until it is submitted again.
    #[schema(max_length = 500)]
    pub(super) status_reason: Option<String>,
    /// First day of the month.
    pub(super) period_start: NaiveDate,
    /// Last day of the month.
    pub(super) period_end: NaiveDate,
    /// `false` while a draft (the figures follow the records), `true` once submitted (the
    /// figures are those submitted, whatever happens to records and tariffs later).
    pub(super) frozen: bool,
    /// Only for a submitted statement: the records now say something else than what was
    /// submitted (a record reviewed again, a tariff changed). It cannot be approved as it is:
    /// reopen it so the provider submits it again.
    pub(super) outdated: bool,
    #[schema(max_items = 5000)]
    pub(super) lines: Vec<StatementLine>,
    /// The sum of the lines' amounts.
    pub(super) total: Money,
    /// The month's records that are not paid (pending review or rejected), as they stand now.
    #[schema(max_items = 20000)]
    pub(super) excluded_records: Vec<ExcludedRecord>,
    /// Status changes, oldest first.
    #[schema(max_items = 1000)]
    pub(super) history: Vec<StatementEvent>,
    pub(super) submitted_at: Option<DateTime<Utc>>,
    pub(super) approved_at: Option<DateTime<Utc>>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub(super) version: i32,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

/// A statement in a list, without its figures.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatementSummary {
    pub(super) id: Uuid,
    pub(super) municipality_id: Uuid,
    pub(super) provider_id: Uuid,
    #[schema(
        max_length = 7,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
        example = "2026-11"
    )]
    pub(super) month: String,
    pub(super) status: StatementStatus,
    #[schema(max_length = 500)]
    pub(super) status_reason: Option<String>,
    pub(super) submitted_at: Option<DateTime<Utc>>,
    pub(super) approved_at: Option<DateTime<Utc>>,
    #[schema(format = Int32, minimum = 1)]
    pub(super) version: i32,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl StatementSummary {
    pub(super) fn new(s: statement::Model, status: StatementStatus) -> Self {
        Self {
            id: s.id,
            municipality_id: s.municipality_id,
            provider_id: s.provider_id,
            month: s.month,
            status,
            status_reason: s.status_reason,
            submitted_at: s.submitted_at,
            approved_at: s.approved_at,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

list_envelope!(StatementList, StatementSummary, "A page of statements.");

/// A new statement of the caller's organization; it starts as a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewStatement {
    /// The municipality the statement is addressed to.
    pub(super) municipality_id: Uuid,
    /// The calendar month, Italian time; not in the future.
    #[schema(
        max_length = 7,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
        example = "2026-11"
    )]
    pub(super) month: String,
}

/// Filters and paging of the statement list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StatementQuery {
    /// Only statements to this municipality.
    pub(super) municipality_id: Option<Uuid>,
    /// Only statements of this provider.
    pub(super) provider_id: Option<Uuid>,
    /// Only statements of this month.
    #[param(
        max_length = 7,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
        example = "2026-11"
    )]
    pub(super) month: Option<String>,
    /// Only statements in this status.
    pub(super) status: Option<StatementStatus>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum ExportFormat {
    /// Semicolon-separated, decimal comma, UTF-8 with BOM: opens as is in an Italian spreadsheet.
    #[default]
    Csv,
    /// The statement as JSON, as `GET /statements/{id}` answers it.
    Json,
}

/// The export's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportQuery {
    /// `csv` (default) or `json`.
    #[param(inline)]
    pub(super) format: Option<ExportFormat>,
}

/// The CSV export: a header row, one row per line, a total row.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    max_length = 10_000_000,
    example = "\u{feff}Progetto;Beneficiario (pseudonimo);Codice;Prestazione;Unità;Prestazioni validate;Quantità;Tariffa (EUR);Importo (EUR)\r\nAssistenza domiciliare;B-K7QX2M9D;SAD;Assistenza domiciliare (SAD);ora;12;18,5;23,50;434,75\r\nTotale;;;;;;;;434,75\r\n"
)]
pub(super) struct StatementCsv(pub(super) String);

/// The printable page: self-contained HTML, no external assets.
#[derive(ToSchema)]
#[schema(value_type = String, max_length = 10_000_000, example = "<!DOCTYPE html>...")]
pub(super) struct StatementHtml(pub(super) String);
