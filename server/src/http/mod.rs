//! The REST API: one module per resource, thin handlers over `domain` and `db`.

pub mod api_clients;
pub mod audit_events;
pub mod auth;
pub mod beneficiaries;
pub mod care_plans;
pub mod devices;
pub mod docs;
pub mod extract;
pub mod observe;
pub mod organizations;
pub mod problems;
pub mod pwa;
pub mod rate_limit;
pub mod rule_settings;
pub mod service_records;
pub mod service_types;
pub mod statements;
pub mod status;
pub mod sync;
pub mod users;

use actix_web::{HttpResponse, http::header};
use sea_orm::{EntityTrait, QueryOrder, Select};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
pub use extract::{ApiJson, ApiQuery, IfMatch, OptionalJson};

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The hard maximum of items per page; a larger `limit` answers 422.
pub const MAX_PAGE_SIZE: u64 = 200;
/// The largest `offset` accepted: far beyond any real list, and inside the range every
/// database binds as a signed 64-bit integer.
pub const MAX_OFFSET: u64 = 1_000_000_000;

/// A validated window of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

impl Page {
    /// A page from the `limit` and `offset` query parameters.
    pub fn new(limit: Option<u64>, offset: Option<u64>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::field(
                "offset",
                format!("must be at most {MAX_OFFSET}"),
            ));
        }
        Ok(Self { limit, offset })
    }
}

/// Declares a list envelope `{ items, limit, offset, total }` for an item schema.
macro_rules! list_envelope {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// This page's items.
            #[schema(max_items = 200)]
            pub items: Vec<$item>,
            /// Items per page, as requested (at most 200).
            #[schema(format = Int64, minimum = 1, maximum = 200)]
            pub limit: u64,
            /// Items skipped before this page.
            #[schema(format = Int64, minimum = 0)]
            pub offset: u64,
            /// Items matching the filters, over all pages.
            #[schema(format = Int64, minimum = 0)]
            pub total: u64,
        }

        impl $name {
            /// Wraps one page of items.
            pub fn new(items: Vec<$item>, page: $crate::http::Page, total: u64) -> Self {
                Self {
                    items,
                    limit: page.limit,
                    offset: page.offset,
                    total,
                }
            }
        }
    };
}
pub(crate) use list_envelope;

/// The column and direction named by a `sort` parameter: one of `columns` by name, with a
/// leading `-` for descending; `default` when the parameter is absent.
pub fn sort_order<C: Copy>(
    requested: Option<&str>,
    default: &str,
    columns: &[(&str, C)],
) -> Result<(C, bool), FieldError> {
    let requested = requested.unwrap_or(default);
    let (name, desc) = match requested.strip_prefix('-') {
        Some(name) => (name, true),
        None => (requested, false),
    };
    let names: Vec<&str> = columns.iter().map(|&(name, _)| name).collect();
    let choices = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    };
    columns
        .iter()
        .find(|&&(allowed, _)| allowed == name)
        .map(|&(_, column)| (column, desc))
        .ok_or_else(|| FieldError::new("sort", format!("must be {choices}, optionally with -")))
}

/// Orders a list by its `sort` parameter (see [`sort_order`]), then by `tie_break` ascending,
/// so that rows sorting equal keep one order across pages.
pub fn sort_by<E: EntityTrait>(
    select: Select<E>,
    requested: Option<&str>,
    default: &str,
    columns: &[(&str, E::Column)],
    tie_break: E::Column,
) -> Result<Select<E>, ApiError> {
    let (column, desc) =
        sort_order(requested, default, columns).map_err(|e| ApiError::Validation(vec![e]))?;
    let select = if desc {
        select.order_by_desc(column)
    } else {
        select.order_by_asc(column)
    };
    Ok(select.order_by_asc(tie_break))
}

/// The strong ETag of a resource version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// 200 with the resource and its ETag.
pub fn ok_tagged<T: Serialize>(body: &T, version: i32) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// 201 with the resource, its ETag and its location.
pub fn created<T: Serialize>(location: String, body: &T, version: i32) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// A reason for a state change (suspending a plan, closing it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Why, in words the other party will read.
    #[schema(max_length = 500, example = "Ricovero ospedaliero")]
    pub reason: Option<String>,
}

/// Trims an optional text and checks its length, naming the field when too long.
pub fn text(
    field: &str,
    value: Option<String>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    value
}

/// Like [`text`] for a required field: blank is an error too.
pub fn required_text(
    field: &str,
    value: String,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let value = text(field, Some(value), max, errors);
    if value.is_none() {
        errors.push(FieldError::new(field, "must not be blank"));
    }
    value.unwrap_or_default()
}

/// Wires every API route under `/api/v1`; the OpenAPI document is collected from the same calls.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.route(
        "/openapi.json",
        actix_web::web::get().to(docs::openapi_json),
    )
    .service(status::show_status)
    .service(auth::login)
    .service(auth::refresh)
    .service(auth::logout)
    .service(auth::issue_client_token)
    .service(auth::me);
    organizations::routes(cfg);
    users::routes(cfg);
    api_clients::routes(cfg);
    beneficiaries::routes(cfg);
    service_types::routes(cfg);
    care_plans::routes(cfg);
    service_records::routes(cfg);
    statements::routes(cfg);
    rule_settings::routes(cfg);
    sync::routes(cfg);
    devices::routes(cfg);
    audit_events::routes(cfg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_refuse_windows_no_database_can_bind() {
        assert!(Page::new(Some(MAX_PAGE_SIZE), Some(MAX_OFFSET)).is_ok());
        assert!(Page::new(Some(MAX_PAGE_SIZE + 1), None).is_err());
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(None, Some(u64::MAX)).is_err());
        assert!(Page::new(None, Some(1 << 63)).is_err());
    }

    fn message(requested: &str, columns: &[(&str, u8)]) -> Result<(u8, bool), String> {
        sort_order(Some(requested), "x", columns).map_err(|e| format!("{}: {}", e.field, e.detail))
    }

    #[test]
    fn sort_order_reads_direction_and_names_the_choices() {
        let two = [("name", 1), ("created_at", 2)];
        assert_eq!(sort_order(None, "name", &two), Ok((1, false)));
        assert_eq!(sort_order(None, "-created_at", &two), Ok((2, true)));
        assert_eq!(message("-name", &two), Ok((1, true)));
        assert_eq!(
            message("--name", &two),
            Err("sort: must be name or created_at, optionally with -".into())
        );
        let three = [("email", 1), ("family_name", 2), ("created_at", 3)];
        assert_eq!(
            message("id", &three),
            Err("sort: must be email, family_name or created_at, optionally with -".into())
        );
        assert_eq!(
            message("id", &[("a", 1)]),
            Err("sort: must be a, optionally with -".into())
        );
    }
}
