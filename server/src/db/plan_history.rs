//! What the rules need to know about a plan's past: its lifecycle steps and the operators
//! taken off it. Written in the transaction of the change itself.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use uuid::Uuid;

use crate::{
    db::entities::{care_plan_operator_removal, care_plan_status_change},
    domain::care_plan::PlanStatus,
};

/// Records that the plan entered `status` at `at`.
pub async fn record_status(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    status: PlanStatus,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    care_plan_status_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        care_plan_id: Set(plan_id),
        status: Set(status.as_str().to_owned()),
        changed_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records that `operators` were taken off the plan at `at`.
pub async fn record_removals(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    operators: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    for &operator_id in operators {
        care_plan_operator_removal::ActiveModel {
            id: Set(Uuid::now_v7()),
            care_plan_id: Set(plan_id),
            operator_id: Set(operator_id),
            removed_at: Set(at),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
