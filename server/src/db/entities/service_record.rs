//! The `service_records` table.

use sea_orm::entity::prelude::*;

/// A row of `service_records`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub service_type_id: Uuid,
    pub operator_id: Uuid,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub quantity_milli: i64,
    pub km_milli: Option<i64>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub notes: Option<String>,
    pub missed: bool,
    pub missed_reason: Option<String>,
    pub status: String,
    pub review_reason_code: Option<String>,
    pub review_note: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub source: String,
    pub received_at: DateTimeUtc,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
