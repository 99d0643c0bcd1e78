//! `/care-plans`: individual plans (PAI), their planned services, lifecycle and operators.

mod checks;
mod dto;
mod handlers;
mod load;
mod transitions;

use handlers::{create_care_plan, list_care_plans, show_care_plan, update_care_plan};
use transitions::{
    activate_care_plan, close_care_plan, replace_care_plan_operators, resume_care_plan,
    suspend_care_plan,
};

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_care_plans)
        .service(create_care_plan)
        .service(show_care_plan)
        .service(update_care_plan)
        .service(activate_care_plan)
        .service(suspend_care_plan)
        .service(resume_care_plan)
        .service(close_care_plan)
        .service(replace_care_plan_operators);
}
