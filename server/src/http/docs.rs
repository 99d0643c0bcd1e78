//! The OpenAPI document, the offline interactive documentation at `/docs`, and the
//! placeholder page at `/` until the PWA lands.

use actix_web::{HttpResponse, get, http::header, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served; inside `/api/v1`, so it sits next to what it describes.
const DOCUMENT_URL: &str = "/api/v1/openapi.json";

/// The OpenAPI document, rendered once at start-up.
#[derive(Debug)]
pub struct PublishedDocument(String);

impl PublishedDocument {
    /// Renders the document the code describes.
    pub fn render() -> Self {
        Self(crate::openapi::document().to_string())
    }
}

/// `GET /api/v1/openapi.json` (registered as a plain route: the document does not list itself).
pub async fn openapi_json(document: web::Data<PublishedDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(document.0.clone())
}

/// Swagger UI, vendored into the binary (no CDN), reading the document above.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(Config::from(DOCUMENT_URL))
}

/// The page at `/`.
#[get("/")]
pub async fn placeholder_pwa() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(include_str!("../../../pwa/index.html"))
}
