//! Per-IP rate limiting with the headers the Italian guidelines declare on every response.

use actix_web::{
    Error, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};

use crate::{
    error::ApiError,
    state::{AppState, LimitCheck},
};

/// Middleware: spends one request of the client IP's budget; 429 with `Retry-After` when empty.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let key = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let limit = &state.limits.requests;
    match limit.check(&key) {
        LimitCheck::Allowed {
            remaining,
            reset_secs,
        } => {
            let mut res = next.call(req).await?;
            set_headers(res.headers_mut(), limit.burst, remaining, reset_secs);
            Ok(res.map_into_left_body())
        }
        LimitCheck::Refused { retry_after_secs } => {
            let mut response = ApiError::TooManyRequests { retry_after_secs }.error_response();
            set_headers(response.headers_mut(), limit.burst, 0, retry_after_secs);
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

fn set_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    limit: u32,
    remaining: u32,
    reset_secs: u64,
) {
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(limit)),
        ("x-ratelimit-remaining", u64::from(remaining)),
        ("x-ratelimit-reset", reset_secs),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
