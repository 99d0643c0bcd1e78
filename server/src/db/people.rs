//! Names of the people behind ids, for answers that show who did something.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entities::user;

/// "Given Family" for each of `ids` that is a user (inactive ones included: history keeps them).
pub async fn full_names(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String, String)> = user::Entity::find()
        .select_only()
        .columns([
            user::Column::Id,
            user::Column::GivenName,
            user::Column::FamilyName,
        ])
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, given, family)| (id, format!("{given} {family}")))
        .collect())
}
