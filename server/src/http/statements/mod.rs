//! `/statements`: monthly statements (rendicontazione) of providers to municipalities, their
//! lifecycle, exports, and the month lock an approved statement puts on records.

mod dto;
mod export;
mod handlers;
mod load;
mod transitions;

use export::{export_statement, print_statement};
use handlers::{create_statement, list_statements, show_statement};
use transitions::{approve_statement, reopen_statement, submit_statement};

use crate::{db::statements::LockError, error::ApiError};

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_statements)
        .service(create_statement)
        .service(show_statement)
        .service(submit_statement)
        .service(approve_statement)
        .service(reopen_statement)
        .service(export_statement)
        .service(print_statement);
}

/// A change to a record of a locked month answers 409 `month-locked`, naming the statement.
impl From<LockError> for ApiError {
    fn from(err: LockError) -> Self {
        match err {
            LockError::Locked {
                statement_id,
                month,
            } => ApiError::Conflict {
                code: "month-locked",
                detail: format!(
                    "The month {month} is locked by the approved statement {statement_id}: \
                     the municipality must reopen it before records of that month change."
                ),
            },
            LockError::Db(err) => err.into(),
        }
    }
}
