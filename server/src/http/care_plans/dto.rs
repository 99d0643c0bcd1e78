//! The wire forms of care plans: responses, request bodies and query parameters.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    domain::{care_plan::PlanStatus, period::AllowancePeriod, service_record::ServiceUnit},
    http::list_envelope,
};

/// The beneficiary of a plan, as much as the caller's role may see: the pseudonym always, the
/// name only for social workers and provider staff.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PlanBeneficiary {
    #[schema(max_length = 16, example = "B-K7QX2M9D")]
    pub(super) pseudonym: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Anna")]
    pub(super) given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Bianchi")]
    pub(super) family_name: Option<String>,
}

/// A service in a plan with its allowance (e.g. 6 hours a week).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PlannedService {
    pub(super) id: Uuid,
    pub(super) service_type_id: Uuid,
    /// Code of the service type in the municipality's catalogue.
    #[schema(max_length = 32, example = "SAD")]
    pub(super) service_type_code: String,
    pub(super) unit: ServiceUnit,
    /// Quantity allowed per period, in the service's unit (three decimals at most).
    #[schema(format = Double, example = 6.0)]
    pub(super) allowance: f64,
    pub(super) allowance_period: AllowancePeriod,
    /// Start of a narrower window inside the plan's validity, if any.
    pub(super) valid_from: Option<NaiveDate>,
    /// End of a narrower window inside the plan's validity, if any.
    pub(super) valid_to: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub(super) notes: Option<String>,
}

/// An individual plan (PAI): period, planned services, provider and authorized operators.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CarePlan {
    pub(super) id: Uuid,
    pub(super) municipality_id: Uuid,
    pub(super) beneficiary_id: Uuid,
    pub(super) beneficiary: PlanBeneficiary,
    pub(super) provider_id: Uuid,
    /// The social worker in charge.
    pub(super) social_worker_id: Uuid,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub(super) title: String,
    pub(super) status: PlanStatus,
    /// Why the plan was last suspended, closed or otherwise changed status.
    #[schema(max_length = 500)]
    pub(super) status_reason: Option<String>,
    pub(super) valid_from: NaiveDate,
    pub(super) valid_to: NaiveDate,
    #[schema(max_items = 20)]
    pub(super) planned_services: Vec<PlannedService>,
    /// Field operators authorized to record services on this plan.
    #[schema(max_items = 50)]
    pub(super) operator_ids: Vec<Uuid>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub(super) version: i32,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

list_envelope!(CarePlanList, CarePlan, "A page of care plans.");

/// A planned service as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPlannedService {
    /// An active service type of the municipality's catalogue.
    pub(super) service_type_id: Uuid,
    /// Quantity allowed per period, greater than zero.
    #[schema(format = Double, minimum = 0, example = 6.0)]
    pub(super) allowance: f64,
    pub(super) allowance_period: AllowancePeriod,
    pub(super) valid_from: Option<NaiveDate>,
    pub(super) valid_to: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub(super) notes: Option<String>,
}

/// A new plan; it starts as a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCarePlan {
    /// A beneficiary of the caller's municipality.
    pub(super) beneficiary_id: Uuid,
    /// An active provider.
    pub(super) provider_id: Uuid,
    /// An active social worker of the municipality; defaults to the caller.
    pub(super) social_worker_id: Option<Uuid>,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub(super) title: String,
    pub(super) valid_from: NaiveDate,
    pub(super) valid_to: NaiveDate,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub(super) planned_services: Vec<NewPlannedService>,
    /// Active field operators of the provider.
    #[schema(max_items = 50)]
    pub(super) operator_ids: Option<Vec<Uuid>>,
}

/// Changes to a plan (JSON merge patch); `planned_services` replaces the whole list and
/// `provider_id` can change only while the plan is a draft (its operators are then removed).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CarePlanPatch {
    #[schema(max_length = 200)]
    pub(super) title: Option<String>,
    pub(super) valid_from: Option<NaiveDate>,
    pub(super) valid_to: Option<NaiveDate>,
    pub(super) social_worker_id: Option<Uuid>,
    #[schema(max_items = 20)]
    pub(super) planned_services: Option<Vec<NewPlannedService>>,
    pub(super) provider_id: Option<Uuid>,
}

/// The full list of operators authorized on a plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanOperators {
    /// Active field operators of the plan's provider.
    #[schema(max_items = 50)]
    pub(super) operator_ids: Vec<Uuid>,
}

/// Filters and paging of the plan list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CarePlanQuery {
    /// Only plans in this status.
    pub(super) status: Option<PlanStatus>,
    /// Only plans of this beneficiary.
    pub(super) beneficiary_id: Option<Uuid>,
    /// Only plans delivered by this provider.
    pub(super) provider_id: Option<Uuid>,
    /// Only plans this operator is authorized on.
    pub(super) operator_id: Option<Uuid>,
    /// Only plans valid on this day.
    pub(super) active_on: Option<NaiveDate>,
    /// Sort order; `-` for descending.
    #[param(pattern = "^-?(valid_from|created_at|title)$", max_length = 11)]
    pub(super) sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub(super) limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0, maximum = 1_000_000_000)]
    pub(super) offset: Option<u64>,
}
