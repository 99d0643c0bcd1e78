//! The `finding_acknowledgements` table.

use sea_orm::entity::prelude::*;

/// A row of `finding_acknowledgements`: a reviewer's acknowledgement or override of a finding.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "finding_acknowledgements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_record_id: Uuid,
    pub code: String,
    pub kind: String,
    pub reason: String,
    pub acknowledged_by: Uuid,
    pub acknowledged_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
