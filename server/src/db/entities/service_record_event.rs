//! The `service_record_events` table.

use sea_orm::entity::prelude::*;

/// A row of `service_record_events`: one step in a record's history.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_record_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_record_id: Uuid,
    pub occurred_at: DateTimeUtc,
    pub action: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_client_id: Option<Uuid>,
    pub status: String,
    pub reason_code: Option<String>,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
