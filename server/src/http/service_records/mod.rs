//! `/service-records`: prestazioni recorded by providers and reviewed by the municipality.

mod checks;
mod dto;
mod handlers;
mod load;
mod review;

use handlers::{
    create_service_record, list_service_records, show_service_record, update_service_record,
};
use review::{
    reject_service_record, reopen_service_record, request_service_record_clarification,
    validate_service_record,
};

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_service_records)
        .service(create_service_record)
        .service(show_service_record)
        .service(update_service_record)
        .service(validate_service_record)
        .service(reject_service_record)
        .service(request_service_record_clarification)
        .service(reopen_service_record);
}
