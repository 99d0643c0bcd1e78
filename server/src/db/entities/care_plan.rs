//! The `care_plans` table.

use sea_orm::entity::prelude::*;

/// A row of `care_plans`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "care_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub municipality_id: Uuid,
    pub beneficiary_id: Uuid,
    pub provider_id: Uuid,
    pub social_worker_id: Uuid,
    pub title: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub valid_from: Date,
    pub valid_to: Date,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
