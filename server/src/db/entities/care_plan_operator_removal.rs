//! The `care_plan_operator_removals` table.

use sea_orm::entity::prelude::*;

/// A row of `care_plan_operator_removals`: an operator taken off a plan, and when.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "care_plan_operator_removals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub operator_id: Uuid,
    pub removed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
