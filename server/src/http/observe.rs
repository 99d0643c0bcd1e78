//! Request identity and the access log the Italian guidelines ask for: UTC time, method, URI
//! without the query (it may carry a sync ticket), outcome, client IP, authenticated subject,
//! and a request id that is also returned to the caller.

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};

/// Response (and optional request) header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "request-id";

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The authenticated subject (`user:<id>` or `client:<id>`), set by the auth extractor.
#[derive(Debug, Clone)]
pub struct Subject(pub String);

/// Accepts a caller's request id when it is short and plain, so logs correlate end to end;
/// anything else is replaced, so a header cannot inject text into the log.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// Middleware: assigns the request id, returns it, and logs one line per request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = std::time::Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let subject = res
        .request()
        .extensions()
        .get::<Subject>()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| "-".to_owned());
    tracing::info!(
        target: "access",
        time = %chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        request_id = %id,
        method = %method,
        uri = %path,
        status = res.status().as_u16(),
        client_ip = %ip,
        subject = %subject,
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(res)
}
