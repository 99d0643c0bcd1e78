//! The `statement_lines` table.

use sea_orm::entity::prelude::*;

/// A row of `statement_lines`: one (plan, service type) figure frozen at submission.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "statement_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub statement_id: Uuid,
    pub position: i32,
    pub care_plan_id: Uuid,
    pub plan_title: String,
    pub beneficiary_pseudonym: String,
    pub service_type_id: Uuid,
    pub service_type_code: String,
    pub service_type_name: String,
    pub unit: String,
    pub records: i64,
    pub quantity_milli: i64,
    pub tariff_cents: i64,
    pub amount_cents: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
