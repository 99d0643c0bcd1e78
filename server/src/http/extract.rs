//! Request extractors that answer bad input with problem documents naming the field.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::{error::ApiError, error::FieldError, state::AppState};

/// Media type of partial updates (RFC 7396); the Italian guidelines rule out plain JSON for PATCH.
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// A JSON body, limited in size, parsed with field paths in its errors. PATCH requests must
/// send `application/merge-patch+json`, every other method `application/json`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Like [`ApiJson`] for operations whose body is optional: an empty body is `None`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads and parses a JSON body; `None` when it is empty and `optional`.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    optional: bool,
) -> BodyFuture<Option<T>> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(256 * 1024, |state| state.config.max_body_bytes);
    let expected = if req.method() == actix_web::http::Method::PATCH {
        MERGE_PATCH_JSON
    } else {
        "application/json"
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if declared_length.is_some_and(|len| len > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::Malformed("The body could not be read.".into()))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if optional && body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if content_type.as_deref() != Some(expected) {
            return Err(ApiError::UnsupportedMediaType { expected });
        }
        parse_json(&body).map(Some)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload, false);
        Box::pin(async move {
            body.await?
                .map(ApiJson)
                .ok_or_else(|| ApiError::Malformed("The body is empty.".into()))
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload, true);
        Box::pin(async move { body.await.map(OptionalJson) })
    }
}

/// Parses JSON, turning serde's errors into a 400 (not JSON) or a 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::Malformed(format!(
                "The body is not valid JSON (line {}, column {}).",
                inner.line(),
                inner.column()
            ));
        }
        let message = strip_position(&inner.to_string());
        ApiError::Validation(vec![FieldError::new(
            field_name(&err.path().to_string(), &message),
            message,
        )])
    })?;
    deserializer.end().map_err(|_| {
        ApiError::Malformed("The body has trailing characters after the JSON value.".into())
    })?;
    Ok(value)
}

/// serde reports a missing or unknown field at its parent's path; name the field itself.
fn field_name(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (named, path) {
        (Some(name), "." | "") => name.to_owned(),
        // Unknown fields are reported at their own path, missing ones at their parent's.
        (Some(name), path) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => "body".to_owned(),
        (None, path) => path.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, parsed with the parameter's name in errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        std::future::ready(
            serde_path_to_error::deserialize(deserializer)
                .map(ApiQuery)
                .map_err(|err| {
                    let message = err.inner().to_string();
                    ApiError::Validation(vec![FieldError::new(
                        field_name(&err.path().to_string(), &message),
                        message,
                    )])
                }),
        )
    }
}

/// The version named by `If-Match`, required on every update so that two people editing the
/// same resource cannot silently overwrite each other.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub i32);

impl IfMatch {
    /// 412 unless the caller read the `current` version.
    pub fn check(self, current: i32) -> Result<(), ApiError> {
        if self.0 == current {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed)
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get(header::IF_MATCH) {
            None => Err(ApiError::PreconditionRequired),
            Some(value) => value
                .to_str()
                .ok()
                .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|v| v.parse::<i32>().ok())
                .map(IfMatch)
                .ok_or(ApiError::PreconditionFailed),
        };
        std::future::ready(result)
    }
}
