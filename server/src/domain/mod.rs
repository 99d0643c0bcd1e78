//! Domain rules as plain functions over data: no HTTP, no SQL, unit-testable on their own.

/// A closed set of values with one spelling in the database and on the wire (snake_case).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The value stored in the database and sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses a stored value.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

pub mod access;
pub mod beneficiary;
pub mod care_plan;
pub mod civil_time;
pub mod document_access;
pub mod period;
pub mod record_content;
pub mod review;
pub mod roles;
pub mod rules;
pub mod service_record;
pub mod statement;
pub mod tax_code;
pub mod values;

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input field, named by its path in the request (`planned_services[0].valid_from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the body or the name of the query/path parameter.
    #[schema(max_length = 200, example = "tax_code")]
    pub field: String,
    /// What is wrong with it, in English.
    #[schema(max_length = 500, example = "invalid check character: expected S")]
    pub detail: String,
}

impl FieldError {
    /// A field error; the usual way validation code reports a problem.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}
