//! `GET /status`: the health check the Italian guidelines require.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{db, error::ApiError, state::AppState};

/// The service is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Always `ok` in a 200 answer.
    #[schema(max_length = 8, example = "ok")]
    pub status: String,
}

/// Service status: 200 when the database answers, 503 problem otherwise.
#[utoipa::path(
    tag = "status",
    operation_id = "show_status",
    responses(
        (status = 200, description = "The service and its database are up.", body = Status),
    ),
)]
#[get("/status")]
pub async fn show_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if db::ping(&state.db).await {
        Ok(HttpResponse::Ok().json(Status {
            status: "ok".to_owned(),
        }))
    } else {
        Err(ApiError::Unavailable {
            retry_after_secs: 30,
        })
    }
}
