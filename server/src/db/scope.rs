//! Turns the access policy's scopes into SQL conditions, so out-of-scope rows are never loaded.

use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::entities::{care_plan, care_plan_operator, organization};
use crate::domain::access::{BeneficiaryScope, CatalogueScope, OrganizationScope, PlanScope};

/// Care plans in `scope`.
pub fn plans(scope: PlanScope) -> Condition {
    match scope {
        PlanScope::Municipality(id) => {
            Condition::all().add(care_plan::Column::MunicipalityId.eq(id))
        }
        PlanScope::Provider(id) => Condition::all().add(care_plan::Column::ProviderId.eq(id)),
        PlanScope::Operator(id) => Condition::all().add(
            care_plan::Column::Id.in_subquery(
                Query::select()
                    .column(care_plan_operator::Column::CarePlanId)
                    .from(care_plan_operator::Entity)
                    .and_where(care_plan_operator::Column::OperatorId.eq(id))
                    .to_owned(),
            ),
        ),
    }
}

/// A `column IN (SELECT <select> FROM care_plans WHERE <scope>)` condition.
pub fn via_plans(
    column: impl ColumnTrait,
    select: care_plan::Column,
    scope: PlanScope,
) -> Condition {
    Condition::all().add(
        column.in_subquery(
            Query::select()
                .column(select)
                .from(care_plan::Entity)
                .cond_where(plans(scope))
                .to_owned(),
        ),
    )
}

/// Beneficiaries in `scope`.
pub fn beneficiaries(scope: BeneficiaryScope) -> Condition {
    use super::entities::beneficiary::Column;
    match scope {
        BeneficiaryScope::Municipality(id) => Condition::all().add(Column::MunicipalityId.eq(id)),
        BeneficiaryScope::ViaPlans(plans) => {
            via_plans(Column::Id, care_plan::Column::BeneficiaryId, plans)
        }
    }
}

/// Service records in `scope`: operators see their own records only.
pub fn records(scope: PlanScope) -> Condition {
    use super::entities::service_record::Column;
    match scope {
        PlanScope::Operator(id) => Condition::all().add(Column::OperatorId.eq(id)),
        other => via_plans(Column::CarePlanId, care_plan::Column::Id, other),
    }
}

/// Service types in `scope`.
pub fn catalogue(scope: CatalogueScope) -> Condition {
    use super::entities::service_type::Column;
    match scope {
        CatalogueScope::Municipality(id) => Condition::all().add(Column::MunicipalityId.eq(id)),
        CatalogueScope::ProviderClients(id) => via_plans(
            Column::MunicipalityId,
            care_plan::Column::MunicipalityId,
            PlanScope::Provider(id),
        ),
    }
}

/// Rows whose organization column `column` is in `scope`.
pub fn organizations(column: impl ColumnTrait, scope: OrganizationScope) -> Condition {
    match scope {
        OrganizationScope::Own(id) => Condition::all().add(column.eq(id)),
        OrganizationScope::OwnAndProviders(id) => Condition::any().add(column.eq(id)).add(
            column.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(Expr::col(organization::Column::Kind).eq("provider"))
                    .to_owned(),
            ),
        ),
    }
}

/// Whether `id` is the caller's own organization in `scope`.
pub fn is_own(scope: OrganizationScope, id: Uuid) -> bool {
    matches!(scope, OrganizationScope::Own(own) | OrganizationScope::OwnAndProviders(own) if own == id)
}
