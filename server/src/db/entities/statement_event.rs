//! The `statement_events` table.

use sea_orm::entity::prelude::*;

/// A row of `statement_events`: one status change of a statement, with its reason.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "statement_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub statement_id: Uuid,
    pub action: String,
    /// The status the statement moved to.
    pub status: String,
    pub reason: Option<String>,
    pub actor_user_id: Option<Uuid>,
    pub actor_client_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
