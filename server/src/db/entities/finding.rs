//! The `findings` table.

use sea_orm::entity::prelude::*;

/// A row of `findings`: one finding of an automatic check on a record.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "findings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_record_id: Uuid,
    pub code: String,
    pub severity: String,
    pub message_it: String,
    pub message_en: String,
    pub measured_value: Option<f64>,
    pub measured_limit: Option<f64>,
    pub measured_unit: Option<String>,
    pub related_record_id: Option<Uuid>,
    pub planned_service_id: Option<Uuid>,
    pub period: Option<String>,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
