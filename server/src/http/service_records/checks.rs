//! Checks of a record's inputs and of the caller's rights: content rules, quantities, service
//! types and operators.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::{
    auth::caller::Ctx,
    db::entities::{care_plan_operator, service_record, service_type, user},
    domain::{
        access::{self, Action, Resource},
        roles::Role,
        service_record::{MissedReason, RecordDraft, ServiceUnit, check_record},
        values::to_milli,
    },
    error::{ApiError, FieldError},
};

/// Longest origin or destination of a transport.
pub(super) const PLACE_MAX: usize = 300;
/// Longest free text (notes, review notes).
pub(super) const NOTE_MAX: usize = 2000;

/// The provider-editable content of a record, after merging and trimming.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Content {
    pub(super) service_type_id: Uuid,
    pub(super) started_at: DateTime<Utc>,
    pub(super) ended_at: Option<DateTime<Utc>>,
    /// Explicit quantity, when stated.
    pub(super) quantity_milli: Option<i64>,
    pub(super) km_milli: Option<i64>,
    pub(super) origin: Option<String>,
    pub(super) destination: Option<String>,
    pub(super) latitude: Option<f64>,
    pub(super) longitude: Option<f64>,
    pub(super) notes: Option<String>,
    pub(super) missed: bool,
    pub(super) missed_reason: Option<MissedReason>,
}

impl Content {
    /// Checks the content against the rules of `unit`, returning the quantity to store.
    pub(super) fn check(&self, unit: ServiceUnit, errors: &mut Vec<FieldError>) -> Option<i64> {
        if !self.missed && self.missed_reason.is_some() {
            errors.push(FieldError::new(
                "missed_reason",
                "only a missed visit has a reason",
            ));
        }
        let draft = RecordDraft {
            unit,
            started_at: self.started_at,
            ended_at: self.ended_at,
            quantity_milli: self.quantity_milli,
            km_milli: self.km_milli,
            missed: self.missed,
            latitude: self.latitude,
            longitude: self.longitude,
        };
        check_record(&draft).map_err(|e| errors.extend(e)).ok()
    }

    /// Whether `m` stores exactly this content with `quantity_milli`.
    pub(super) fn matches(&self, m: &service_record::Model, quantity_milli: i64) -> bool {
        self.service_type_id == m.service_type_id
            && self.started_at == m.started_at
            && self.ended_at == m.ended_at
            && quantity_milli == m.quantity_milli
            && self.km_milli == m.km_milli
            && self.origin == m.origin
            && self.destination == m.destination
            && self.latitude == m.latitude
            && self.longitude == m.longitude
            && self.notes == m.notes
            && self.missed == m.missed
            && self.missed_reason.map(MissedReason::as_str) == m.missed_reason.as_deref()
    }

    /// Writes the content and its quantity into `changes`.
    pub(super) fn apply(self, quantity_milli: i64, changes: &mut service_record::ActiveModel) {
        changes.service_type_id = Set(self.service_type_id);
        changes.started_at = Set(self.started_at);
        changes.ended_at = Set(self.ended_at);
        changes.quantity_milli = Set(quantity_milli);
        changes.km_milli = Set(self.km_milli);
        changes.origin = Set(self.origin);
        changes.destination = Set(self.destination);
        changes.latitude = Set(self.latitude);
        changes.longitude = Set(self.longitude);
        changes.notes = Set(self.notes);
        changes.missed = Set(self.missed);
        changes.missed_reason = Set(self.missed_reason.map(|r| r.as_str().to_owned()));
    }
}

/// Thousandths of a wire quantity; non-finite or huge values are a field error.
pub(super) fn milli(field: &str, value: Option<f64>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let value = value?;
    let milli = to_milli(value);
    if milli.is_none() {
        errors.push(FieldError::new(
            field,
            "must be a finite number below one trillion",
        ));
    }
    milli
}

/// Timestamps are stored with microseconds (PostgreSQL's precision), so that a retried create
/// compares equal to what was stored.
pub(super) fn instant(value: DateTime<Utc>) -> DateTime<Utc> {
    value.trunc_subsecs(6)
}

pub(super) fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

pub(super) fn unit_of(service_type: &service_type::Model) -> Result<ServiceUnit, ApiError> {
    ServiceUnit::parse(&service_type.unit).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "service type {} has an unknown unit",
            service_type.id
        ))
    })
}

/// An active service type of `municipality_id`.
pub(super) async fn active_service_type(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    id: Uuid,
) -> Result<Option<service_type::Model>, ApiError> {
    Ok(service_type::Entity::find_by_id(id)
        .filter(service_type::Column::MunicipalityId.eq(municipality_id))
        .filter(service_type::Column::Active.eq(true))
        .one(db)
        .await?)
}

/// Whether `operator_id` is an active field operator of the caller's organization authorized on
/// `plan_id`.
pub(super) async fn operator_may_record(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    plan_id: Uuid,
    operator_id: Uuid,
) -> Result<bool, ApiError> {
    let operator = user::Entity::find_by_id(operator_id)
        .filter(user::Column::OrganizationId.eq(ctx.caller.organization_id))
        .filter(user::Column::Role.eq(Role::FieldOperator.as_str()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?;
    if operator.is_none() {
        return Ok(false);
    }
    Ok(care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.eq(plan_id))
        .filter(care_plan_operator::Column::OperatorId.eq(operator_id))
        .one(db)
        .await?
        .is_some())
}

/// The operator a new record is for: operators record for themselves, coordinators name one.
pub(super) fn requested_operator(
    ctx: &Ctx,
    operator_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Option<Uuid> {
    match ctx.caller.role {
        Role::FieldOperator => {
            let own = ctx.caller.user_id();
            if operator_id.is_some() && operator_id != own {
                errors.push(FieldError::new(
                    "operator_id",
                    "field operators record their own services",
                ));
            }
            own
        }
        _ => {
            if operator_id.is_none() {
                errors.push(FieldError::new("operator_id", "is required"));
            }
            operator_id
        }
    }
}
