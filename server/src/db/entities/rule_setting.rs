//! The `rule_settings` table.

use sea_orm::entity::prelude::*;

/// A row of `rule_settings`: a municipality's rule settings as JSON.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rule_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub municipality_id: Uuid,
    pub document: String,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
