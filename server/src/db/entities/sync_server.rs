//! The `sync_server` table.

use sea_orm::entity::prelude::*;

/// The one row of `sync_server`: the storage id the server announces to peers.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_server")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub storage_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
