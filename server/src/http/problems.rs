//! The safety net: any error answer that did not come from [`ApiError`] (an unknown route, a
//! wrong method, a path that is not a UUID) is rewritten as a problem document.

use actix_web::{
    HttpResponse,
    body::{BoxBody, EitherBody, MessageBody},
    dev::ServiceResponse,
    http::{StatusCode, header},
    middleware::ErrorHandlerResponse,
};

use crate::error::{PROBLEM_JSON, Problem};

fn is_problem<B>(res: &ServiceResponse<B>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

/// A problem+json answer with the generic title and detail of `status`.
pub fn generic(status: StatusCode) -> HttpResponse {
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (
            "not-found",
            "The resource does not exist or is not visible to you.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "This resource does not support the method.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "The body is too large."),
        s if s.is_client_error() => ("bad-request", "The request could not be understood."),
        _ => (
            "internal",
            "An unexpected error occurred; it has been logged.",
        ),
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .json(Problem {
            problem_type: format!("urn:taccuino:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.to_owned(),
            errors: Vec::new(),
        })
}

/// `ErrorHandlers` default handler: rewrites non-problem error bodies, keeping the headers.
pub fn rewrite<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if is_problem(&res) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut new = generic(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let res: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(req, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The answer for routes that do not exist.
pub async fn not_found() -> HttpResponse {
    generic(StatusCode::NOT_FOUND)
}
