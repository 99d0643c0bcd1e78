//! `/beneficiaries`: the municipality's register of people in charge, minimized by role, and
//! their sensitive notes (social workers only, every read audited).

mod checks;
mod dto;
mod handlers;
mod load;
mod sensitive_notes;

use handlers::{create_beneficiary, list_beneficiaries, show_beneficiary, update_beneficiary};
use sensitive_notes::{create_sensitive_note, list_sensitive_notes};

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_beneficiaries)
        .service(create_beneficiary)
        .service(show_beneficiary)
        .service(update_beneficiary)
        .service(list_sensitive_notes)
        .service(create_sensitive_note);
}
