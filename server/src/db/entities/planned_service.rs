//! The `planned_services` table.

use sea_orm::entity::prelude::*;

/// A row of `planned_services`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "planned_services")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub service_type_id: Uuid,
    pub allowance_milli: i64,
    pub allowance_period: String,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    pub notes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
