//! Checks of a beneficiary's inputs and of the caller's rights: phone, citizenship, tax code and
//! its uniqueness in the municipality.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, SqlErr};
use uuid::Uuid;

use crate::{
    auth::caller::Ctx,
    db::entities::beneficiary,
    domain::{
        FieldError,
        access::{self, Action, Resource},
        beneficiary::is_country_code,
        tax_code::TaxCode,
    },
    error::ApiError,
};

pub(super) fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

pub(super) fn check_phone(field: &str, value: &Option<String>, errors: &mut Vec<FieldError>) {
    if value.as_ref().is_some_and(|v| {
        !v.chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '+')
    }) {
        errors.push(FieldError::new(
            field,
            "may contain only digits, spaces and +",
        ));
    }
}

pub(super) fn check_citizenship(value: &str, errors: &mut Vec<FieldError>) {
    if !is_country_code(value) {
        errors.push(FieldError::new(
            "citizenship",
            "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. IT",
        ));
    }
}

pub(super) fn parse_tax_code(value: &str, errors: &mut Vec<FieldError>) -> Option<TaxCode> {
    TaxCode::parse(value)
        .map_err(|err| errors.push(FieldError::new("tax_code", err.to_string())))
        .ok()
}

pub(super) fn duplicate_tax_code() -> ApiError {
    ApiError::Conflict {
        code: "duplicate-tax-code",
        detail: "A beneficiary with this tax code is already registered in your municipality."
            .to_owned(),
    }
}

/// Turns a unique violation on insert/update into the duplicate tax code conflict.
pub(super) fn map_unique(err: sea_orm::DbErr) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => duplicate_tax_code(),
        _ => err.into(),
    }
}

pub(super) async fn tax_code_taken(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    tax_code: &str,
    except: Option<Uuid>,
) -> Result<bool, ApiError> {
    let mut select = beneficiary::Entity::find()
        .filter(beneficiary::Column::MunicipalityId.eq(municipality_id))
        .filter(beneficiary::Column::TaxCode.eq(tax_code));
    if let Some(id) = except {
        select = select.filter(beneficiary::Column::Id.ne(id));
    }
    Ok(select.one(db).await?.is_some())
}
