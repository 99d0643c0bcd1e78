//! `/service-records`: prestazioni recorded by providers and reviewed by the municipality.

mod checks;
mod dto;
mod findings;
mod handlers;
mod load;
mod queue;
mod review;

use findings::{acknowledge_service_record_finding, show_service_record_history};
use handlers::{
    create_service_record, list_service_records, show_service_record, update_service_record,
};
use queue::{bulk_validate_service_records, list_review_queue};
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
        .service(reopen_service_record)
        .service(acknowledge_service_record_finding)
        .service(show_service_record_history)
        .service(list_review_queue)
        .service(bulk_validate_service_records);
}
