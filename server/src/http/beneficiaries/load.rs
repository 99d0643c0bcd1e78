//! Finding beneficiaries: by id in the caller's scope, and by part of the name.

use sea_orm::{
    Condition, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use crate::{
    auth::caller::Ctx,
    db::{entities::beneficiary, scope},
    domain::access,
    error::ApiError,
};

pub(super) async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<beneficiary::Model, ApiError> {
    beneficiary::Entity::find_by_id(id)
        .filter(scope::beneficiaries(access::beneficiary_scope(&ctx.caller)))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A `LIKE` pattern matching `q` anywhere, with the wildcards in `q` taken literally.
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(super) fn name_contains(q: &str) -> Condition {
    let pattern = contains_pattern(q);
    let like = |column: beneficiary::Column| {
        Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
    };
    Condition::any()
        .add(like(beneficiary::Column::FamilyName))
        .add(like(beneficiary::Column::GivenName))
}

/// The plans of a beneficiary, whose documents carry the visit details.
pub(super) async fn plans_of(
    db: &impl sea_orm::ConnectionTrait,
    beneficiary_id: uuid::Uuid,
) -> Result<Vec<uuid::Uuid>, sea_orm::DbErr> {
    use crate::db::entities::care_plan;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    care_plan::Entity::find()
        .select_only()
        .column(care_plan::Column::Id)
        .filter(care_plan::Column::BeneficiaryId.eq(beneficiary_id))
        .into_tuple()
        .all(db)
        .await
}
