//! The OpenAPI document and the offline interactive documentation at `/docs`.

use actix_web::{HttpResponse, http::header, web};
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
