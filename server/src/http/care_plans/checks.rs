//! Checks of a plan's inputs and of the caller's rights: planned services against the catalogue,
//! operators, provider and social worker.

use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::dto::NewPlannedService;
use crate::{
    auth::caller::Ctx,
    db::entities::{organization, service_type, user},
    domain::{
        FieldError,
        access::{self, Action, Resource},
        care_plan::PlannedServiceDraft,
        period::AllowancePeriod,
        roles::{OrganizationKind, Role},
        values::to_milli,
    },
    error::ApiError,
    http::text,
};

/// Most planned services a plan may hold.
const MAX_SERVICES: usize = 20;
/// Most operators a plan may authorize.
const MAX_OPERATORS: usize = 50;

pub(super) fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

pub(super) fn plan_closed() -> ApiError {
    ApiError::Conflict {
        code: "plan-closed",
        detail: "The plan is closed and can no longer be changed.".to_owned(),
    }
}

/// A planned service that passed validation, ready to store.
pub(super) struct ValidService {
    pub(super) service_type_id: Uuid,
    pub(super) allowance_milli: i64,
    pub(super) period: AllowancePeriod,
    pub(super) valid_from: Option<NaiveDate>,
    pub(super) valid_to: Option<NaiveDate>,
    pub(super) notes: Option<String>,
}

impl ValidService {
    pub(super) fn draft(&self) -> PlannedServiceDraft {
        PlannedServiceDraft {
            allowance_milli: self.allowance_milli,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        }
    }
}

/// Checks submitted planned services against the municipality's active catalogue.
pub(super) async fn check_services(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    input: Vec<NewPlannedService>,
    errors: &mut Vec<FieldError>,
) -> Result<Vec<ValidService>, ApiError> {
    if input.len() > MAX_SERVICES {
        errors.push(FieldError::new(
            "planned_services",
            format!("must have at most {MAX_SERVICES} items"),
        ));
        return Ok(Vec::new());
    }
    let ids: HashSet<Uuid> = input.iter().map(|s| s.service_type_id).collect();
    let known: HashSet<Uuid> = if ids.is_empty() {
        HashSet::new()
    } else {
        service_type::Entity::find()
            .filter(service_type::Column::Id.is_in(ids))
            .filter(service_type::Column::MunicipalityId.eq(municipality_id))
            .filter(service_type::Column::Active.eq(true))
            .all(db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    let mut services = Vec::with_capacity(input.len());
    for (i, s) in input.into_iter().enumerate() {
        let field = |name: &str| format!("planned_services[{i}].{name}");
        if !known.contains(&s.service_type_id) {
            errors.push(FieldError::new(
                field("service_type_id"),
                "unknown service type",
            ));
        }
        let allowance_milli = match to_milli(s.allowance) {
            Some(milli) => milli,
            None => {
                errors.push(FieldError::new(
                    field("allowance"),
                    "must be a finite number",
                ));
                1
            }
        };
        let notes = text(&field("notes"), s.notes, 500, errors);
        services.push(ValidService {
            service_type_id: s.service_type_id,
            allowance_milli,
            period: s.allowance_period,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            notes,
        });
    }
    Ok(services)
}

/// Checks that every id is a distinct, active field operator of `provider_id`.
pub(super) async fn check_operators(
    db: &impl ConnectionTrait,
    provider_id: Uuid,
    ids: &[Uuid],
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    if ids.len() > MAX_OPERATORS {
        errors.push(FieldError::new(
            "operator_ids",
            format!("must have at most {MAX_OPERATORS} items"),
        ));
        return Ok(());
    }
    let known: HashSet<Uuid> = if ids.is_empty() {
        HashSet::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .filter(user::Column::OrganizationId.eq(provider_id))
            .filter(user::Column::Role.eq(Role::FieldOperator.as_str()))
            .filter(user::Column::Active.eq(true))
            .all(db)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect()
    };
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            errors.push(FieldError::new(
                format!("operator_ids[{i}]"),
                "is listed more than once",
            ));
        } else if !known.contains(id) {
            errors.push(FieldError::new(
                format!("operator_ids[{i}]"),
                "not an operator of the plan's provider",
            ));
        }
    }
    Ok(())
}

pub(super) async fn check_provider(
    db: &impl ConnectionTrait,
    id: Uuid,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let found = organization::Entity::find_by_id(id)
        .filter(organization::Column::Kind.eq(OrganizationKind::Provider.as_str()))
        .filter(organization::Column::Active.eq(true))
        .one(db)
        .await?;
    if found.is_none() {
        errors.push(FieldError::new("provider_id", "unknown provider"));
    }
    Ok(())
}

pub(super) async fn check_social_worker(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    id: Uuid,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let found = user::Entity::find_by_id(id)
        .filter(user::Column::OrganizationId.eq(municipality_id))
        .filter(user::Column::Role.eq(Role::SocialWorker.as_str()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?;
    if found.is_none() {
        errors.push(FieldError::new("social_worker_id", "unknown social worker"));
    }
    Ok(())
}
