//! The `sync_documents` table.

use sea_orm::entity::prelude::*;

/// A row of `sync_documents`: which plan (and, for a diary, which operator) a document is of.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_documents")]
pub struct Model {
    /// The 16 bytes of the automerge-repo document id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub care_plan_id: Uuid,
    pub operator_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// The last chunk the projection has seen (diaries).
    pub projected_through: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
