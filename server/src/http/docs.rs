//! The OpenAPI document, the offline interactive documentation at `/docs`, and the
//! placeholder page at `/` until the PWA lands.

use actix_web::{HttpResponse, get, http::header};
use utoipa_swagger_ui::SwaggerUi;

/// Swagger UI (vendored into the binary: no CDN) serving the document at `/api/v1/openapi.json`.
pub fn routes() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}")
        .external_url_unchecked("/api/v1/openapi.json", crate::openapi::document())
}

/// The page at `/`.
#[get("/")]
pub async fn placeholder_pwa() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(include_str!("../../../pwa/index.html"))
}
