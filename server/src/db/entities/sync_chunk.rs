//! The `sync_chunks` table.

use sea_orm::entity::prelude::*;

/// A row of `sync_chunks`: a snapshot or incremental changes of one document.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_chunks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub document_id: Uuid,
    pub kind: String,
    pub data: Vec<u8>,
    pub stored_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
