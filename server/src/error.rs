//! The one mapping from failures to HTTP answers: every 4xx/5xx is an RFC 9457 problem document.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

pub use crate::domain::FieldError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:taccuino:problem:validation-failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "The request has 1 invalid field.",
    "errors": [{"field": "tax_code", "detail": "invalid check character: expected S"}]
}))]
pub struct Problem {
    /// Stable identifier of the kind of problem: `urn:taccuino:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(max_length = 100, format = "uri")]
    pub problem_type: String,
    /// Short summary of the status.
    #[schema(max_length = 100)]
    pub title: String,
    /// HTTP status code.
    #[schema(minimum = 100, maximum = 599, format = Int32)]
    pub status: u16,
    /// Explanation for this occurrence, safe to show to the caller.
    #[schema(max_length = 1000)]
    pub detail: String,
    /// The invalid fields, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 100)]
    pub errors: Vec<FieldError>,
}

/// Every failure a request can end in, at the HTTP layer.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not JSON, or not the JSON the endpoint takes.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// One or more fields are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Missing, invalid or expired credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The caller's role may not use this endpoint at all.
    #[error("forbidden")]
    Forbidden,
    /// Unknown, or outside the caller's scope: the two are indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    /// The request conflicts with the resource's state (duplicate, illegal transition).
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// `If-Match` names a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    /// An update came without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
    /// The body is larger than the configured maximum.
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// The body has a media type the endpoint does not take.
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    /// The caller went over a rate limit.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A dependency (the database) is unreachable; retry later.
    #[error("service unavailable")]
    Unavailable { retry_after_secs: u64 },
    /// A bug or an unexpected failure: logged with its cause chain, answered without internals.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, detail)])
    }

    /// Turns an accumulated list of field errors into `Ok` when empty.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Validation(errors))
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-request",
            Self::Validation(_) => "validation-failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::Conflict { code, .. } => code,
            Self::PreconditionFailed => "version-mismatch",
            Self::PreconditionRequired => "if-match-required",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType { .. } => "unsupported-media-type",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Malformed(detail) => detail.clone(),
            Self::Validation(errors) => match errors.len() {
                1 => "The request has 1 invalid field.".to_owned(),
                n => format!("The request has {n} invalid fields."),
            },
            Self::Unauthorized(why) => (*why).to_owned(),
            Self::Forbidden => "Your role does not allow this operation.".to_owned(),
            Self::NotFound => "The resource does not exist or is not visible to you.".to_owned(),
            Self::Conflict { detail, .. } => detail.clone(),
            Self::PreconditionFailed => {
                "The resource changed since you read it: read it again and retry with the new ETag."
                    .to_owned()
            }
            Self::PreconditionRequired => {
                "Send If-Match with the ETag you read, so concurrent edits cannot overwrite each other."
                    .to_owned()
            }
            Self::PayloadTooLarge { limit } => format!("The body is larger than {limit} bytes."),
            Self::UnsupportedMediaType { expected } => format!("Send the body as {expected}."),
            Self::TooManyRequests { retry_after_secs } => {
                format!("Too many requests; retry in {retry_after_secs} s.")
            }
            Self::Unavailable { retry_after_secs } => {
                format!("The service is temporarily unavailable; retry in {retry_after_secs} s.")
            }
            Self::Internal(_) => "An unexpected error occurred; it has been logged.".to_owned(),
        }
    }

    /// The problem document this error answers with.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            problem_type: format!("urn:taccuino:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable {
                retry_after_secs: 5,
            },
            other => Self::Internal(anyhow::Error::new(other).context("database")),
        }
    }
}

impl From<crate::sync::SyncError> for ApiError {
    fn from(err: crate::sync::SyncError) -> Self {
        match err {
            crate::sync::SyncError::Database(db) => db.into(),
            other => Self::Internal(anyhow::Error::new(other).context("sync")),
        }
    }
}

impl From<crate::db::UpdateError> for ApiError {
    fn from(err: crate::db::UpdateError) -> Self {
        match err {
            crate::db::UpdateError::Stale => Self::PreconditionFailed,
            crate::db::UpdateError::Db(err) => err.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::TooManyRequests { retry_after_secs } | Self::Unavailable { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"taccuino\""));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_reveal_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in /etc/secret"));
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn validation_problems_name_their_fields() {
        let problem = ApiError::field("tax_code", "invalid").problem();
        assert_eq!(problem.status, 422);
        assert_eq!(
            problem.problem_type,
            "urn:taccuino:problem:validation-failed"
        );
        assert_eq!(problem.errors[0].field, "tax_code");
    }
}
