//! Checks of a record's inputs and of the caller's rights: content rules, quantities, service
//! types and operators.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    auth::caller::Ctx,
    db::entities::{care_plan_operator, service_type, user},
    domain::{
        access::{self, Action, Resource},
        roles::Role,
        service_record::ServiceUnit,
        values::to_milli,
    },
    error::{ApiError, FieldError},
};

pub(super) use crate::domain::record_content::{NOTE_MAX, PLACE_MAX};

pub(super) use crate::domain::record_content::{Content, instant};

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
