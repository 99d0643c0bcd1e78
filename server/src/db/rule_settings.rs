//! A municipality's stored rule settings, and who may read them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use uuid::Uuid;

use super::{
    UpdateError,
    entities::{care_plan, organization, rule_setting},
    findings::context::parse_settings,
};
use crate::domain::{roles::OrganizationKind, rules::RuleSettings};

/// A municipality's settings and their version (0 while they are the defaults).
pub async fn load(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
) -> Result<(RuleSettings, i32, Option<DateTime<Utc>>), DbErr> {
    match rule_setting::Entity::find_by_id(municipality_id)
        .one(db)
        .await?
    {
        Some(row) => Ok((parse_settings(&row)?, row.version, Some(row.updated_at))),
        None => Ok((RuleSettings::default(), 0, None)),
    }
}

/// Stores new settings if the stored version is still `expected`; returns the new version.
pub async fn save(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    settings: &RuleSettings,
    expected: i32,
    at: DateTime<Utc>,
) -> Result<i32, UpdateError> {
    let document = serde_json::to_string(&settings.to_document())
        .map_err(|e| DbErr::Custom(format!("rule settings not serializable: {e}")))?;
    let version = expected + 1;
    if expected == 0 {
        let inserted = rule_setting::ActiveModel {
            municipality_id: Set(municipality_id),
            document: Set(document),
            version: Set(version),
            updated_at: Set(at),
        }
        .insert(db)
        .await;
        return match inserted {
            Ok(_) => Ok(version),
            // Someone saved the first version meanwhile.
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Err(UpdateError::Stale)
            }
            Err(e) => Err(e.into()),
        };
    }
    let changes = rule_setting::ActiveModel {
        document: Set(document),
        updated_at: Set(at),
        ..Default::default()
    };
    super::update_versioned::<rule_setting::Entity, _>(
        db,
        rule_setting::Column::MunicipalityId,
        rule_setting::Column::Version,
        municipality_id,
        expected,
        changes,
    )
    .await?;
    Ok(version)
}

/// Whether `id` is a municipality (and not a provider or nothing).
pub async fn is_municipality(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    Ok(organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .is_some_and(|o| o.kind == OrganizationKind::Municipality.as_str()))
}

/// Whether provider `provider_id` delivers any plan of municipality `municipality_id`.
pub async fn serves(
    db: &impl ConnectionTrait,
    provider_id: Uuid,
    municipality_id: Uuid,
) -> Result<bool, DbErr> {
    Ok(care_plan::Entity::find()
        .filter(care_plan::Column::ProviderId.eq(provider_id))
        .filter(care_plan::Column::MunicipalityId.eq(municipality_id))
        .count(db)
        .await?
        > 0)
}
