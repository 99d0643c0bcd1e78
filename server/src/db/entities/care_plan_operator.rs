//! The `care_plan_operators` table.

use sea_orm::entity::prelude::*;

/// A row of `care_plan_operators`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "care_plan_operators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub care_plan_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub operator_id: Uuid,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
