//! The REST API: one module per resource, thin handlers over `domain` and `db`.

pub mod api_clients;
pub mod audit_events;
pub mod auth;
pub mod beneficiaries;
pub mod care_plans;
pub mod docs;
pub mod extract;
pub mod observe;
pub mod organizations;
pub mod problems;
pub mod rate_limit;
pub mod service_records;
pub mod service_types;
pub mod status;
pub mod users;

use actix_web::{HttpResponse, http::header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
pub use extract::{ApiJson, ApiQuery, IfMatch};

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The hard maximum of items per page; a larger `limit` answers 422.
pub const MAX_PAGE_SIZE: u64 = 200;

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
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0),
        })
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

/// Sort direction parsed from a `sort` value with an optional leading `-`.
pub fn descending(sort: &str) -> (&str, bool) {
    match sort.strip_prefix('-') {
        Some(field) => (field, true),
        None => (sort, false),
    }
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
    errors: &mut Vec<crate::error::FieldError>,
) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(crate::error::FieldError::new(
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
    errors: &mut Vec<crate::error::FieldError>,
) -> String {
    let value = text(field, Some(value), max, errors);
    if value.is_none() {
        errors.push(crate::error::FieldError::new(field, "must not be blank"));
    }
    value.unwrap_or_default()
}

/// Wires every API route under `/api/v1`; the OpenAPI document is collected from the same calls.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(status::show_status)
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
    audit_events::routes(cfg);
}
