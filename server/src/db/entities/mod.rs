//! sea-orm entities, one per table. Rows only: rules live in `domain`, queries in `db`.

pub mod api_client;
pub mod audit_event;
pub mod beneficiary;
pub mod care_plan;
pub mod care_plan_operator;
pub mod device;
pub mod organization;
pub mod planned_service;
pub mod refresh_token;
pub mod sensitive_note;
pub mod service_record;
pub mod service_type;
pub mod sync_chunk;
pub mod sync_document;
pub mod sync_server;
pub mod sync_ticket;
pub mod user;
