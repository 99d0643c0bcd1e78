//! `/care-plans`: individual plans (PAI), their planned services, lifecycle and operators.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait, sea_query::Query,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiJson, IfMatch, OptionalJson, Page, ReasonInput, created, list_envelope, ok_tagged,
    required_text, sort_by, text,
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{
            beneficiary, care_plan, care_plan_operator, organization, planned_service,
            service_type, user,
        },
        scope,
    },
    domain::{
        FieldError,
        access::{self, Action, BeneficiaryView, Resource},
        beneficiary::BeneficiaryStatus,
        care_plan::{PlanStatus, PlanTransition, PlannedServiceDraft, check_plan},
        period::AllowancePeriod,
        roles::{OrganizationKind, Role},
        service_record::ServiceUnit,
        values::{from_milli, to_milli},
    },
    error::ApiError,
    http::extract::ApiQuery,
    state::AppState,
};

/// Most planned services a plan may hold.
const MAX_SERVICES: usize = 20;
/// Most operators a plan may authorize.
const MAX_OPERATORS: usize = 50;

/// The beneficiary of a plan, as much as the caller's role may see: the pseudonym always, the
/// name only for social workers and provider staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBeneficiary {
    #[schema(max_length = 16, example = "B-K7QX2M9D")]
    pub pseudonym: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Anna")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "Bianchi")]
    pub family_name: Option<String>,
}

/// A service in a plan with its allowance (e.g. 6 hours a week).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedService {
    pub id: Uuid,
    pub service_type_id: Uuid,
    /// Code of the service type in the municipality's catalogue.
    #[schema(max_length = 32, example = "SAD")]
    pub service_type_code: String,
    pub unit: ServiceUnit,
    /// Quantity allowed per period, in the service's unit (three decimals at most).
    #[schema(format = Double, example = 6.0)]
    pub allowance: f64,
    pub allowance_period: AllowancePeriod,
    /// Start of a narrower window inside the plan's validity, if any.
    pub valid_from: Option<NaiveDate>,
    /// End of a narrower window inside the plan's validity, if any.
    pub valid_to: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

/// An individual plan (PAI): period, planned services, provider and authorized operators.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarePlan {
    pub id: Uuid,
    pub municipality_id: Uuid,
    pub beneficiary_id: Uuid,
    pub beneficiary: PlanBeneficiary,
    pub provider_id: Uuid,
    /// The social worker in charge.
    pub social_worker_id: Uuid,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub title: String,
    pub status: PlanStatus,
    /// Why the plan was last suspended, closed or otherwise changed status.
    #[schema(max_length = 500)]
    pub status_reason: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    #[schema(max_items = 20)]
    pub planned_services: Vec<PlannedService>,
    /// Field operators authorized to record services on this plan.
    #[schema(max_items = 50)]
    pub operator_ids: Vec<Uuid>,
    /// Incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

list_envelope!(CarePlanList, CarePlan, "A page of care plans.");

/// A planned service as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlannedService {
    /// An active service type of the municipality's catalogue.
    pub service_type_id: Uuid,
    /// Quantity allowed per period, greater than zero.
    #[schema(format = Double, minimum = 0, example = 6.0)]
    pub allowance: f64,
    pub allowance_period: AllowancePeriod,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

/// A new plan; it starts as a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCarePlan {
    /// A beneficiary of the caller's municipality.
    pub beneficiary_id: Uuid,
    /// An active provider.
    pub provider_id: Uuid,
    /// An active social worker of the municipality; defaults to the caller.
    pub social_worker_id: Option<Uuid>,
    #[schema(max_length = 200, example = "Assistenza domiciliare")]
    pub title: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub planned_services: Vec<NewPlannedService>,
    /// Active field operators of the provider.
    #[schema(max_items = 50)]
    pub operator_ids: Option<Vec<Uuid>>,
}

/// Changes to a plan (JSON merge patch); `planned_services` replaces the whole list and
/// `provider_id` can change only while the plan is a draft (its operators are then removed).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarePlanPatch {
    #[schema(max_length = 200)]
    pub title: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub social_worker_id: Option<Uuid>,
    #[schema(max_items = 20)]
    pub planned_services: Option<Vec<NewPlannedService>>,
    pub provider_id: Option<Uuid>,
}

/// The full list of operators authorized on a plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanOperators {
    /// Active field operators of the plan's provider.
    #[schema(max_items = 50)]
    pub operator_ids: Vec<Uuid>,
}

/// Filters and paging of the plan list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CarePlanQuery {
    /// Only plans in this status.
    pub status: Option<PlanStatus>,
    /// Only plans of this beneficiary.
    pub beneficiary_id: Option<Uuid>,
    /// Only plans delivered by this provider.
    pub provider_id: Option<Uuid>,
    /// Only plans this operator is authorized on.
    pub operator_id: Option<Uuid>,
    /// Only plans valid on this day.
    pub active_on: Option<NaiveDate>,
    /// Sort order; `-` for descending.
    #[param(pattern = "^-?(valid_from|created_at|title)$", max_length = 11)]
    pub sort: Option<String>,
    /// Items per page (1-200, default 50).
    #[param(format = Int64, minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Items to skip.
    #[param(format = Int64, minimum = 0)]
    pub offset: Option<u64>,
}

fn authorize(ctx: &Ctx, resource: Resource, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, resource, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

/// Plans, with their beneficiaries, services and operators loaded in one query each.
async fn render(
    db: &impl ConnectionTrait,
    view: BeneficiaryView,
    plans: Vec<care_plan::Model>,
) -> Result<Vec<CarePlan>, ApiError> {
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    let plan_ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
    let beneficiary_ids: HashSet<Uuid> = plans.iter().map(|p| p.beneficiary_id).collect();
    let people: HashMap<Uuid, beneficiary::Model> = beneficiary::Entity::find()
        .filter(beneficiary::Column::Id.is_in(beneficiary_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let services = planned_service::Entity::find()
        .filter(planned_service::Column::CarePlanId.is_in(plan_ids.clone()))
        .order_by_asc(planned_service::Column::Id)
        .all(db)
        .await?;
    let type_ids: HashSet<Uuid> = services.iter().map(|s| s.service_type_id).collect();
    let types: HashMap<Uuid, service_type::Model> = if type_ids.is_empty() {
        HashMap::new()
    } else {
        service_type::Entity::find()
            .filter(service_type::Column::Id.is_in(type_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    };
    let operators = care_plan_operator::Entity::find()
        .filter(care_plan_operator::Column::CarePlanId.is_in(plan_ids))
        .order_by_asc(care_plan_operator::Column::OperatorId)
        .all(db)
        .await?;
    let mut services_by_plan: HashMap<Uuid, Vec<PlannedService>> = HashMap::new();
    for s in services {
        let kind = types.get(&s.service_type_id);
        services_by_plan
            .entry(s.care_plan_id)
            .or_default()
            .push(PlannedService {
                id: s.id,
                service_type_id: s.service_type_id,
                service_type_code: kind.map(|t| t.code.clone()).unwrap_or_default(),
                unit: kind
                    .and_then(|t| ServiceUnit::parse(&t.unit))
                    .unwrap_or(ServiceUnit::Hour),
                allowance: from_milli(s.allowance_milli),
                allowance_period: AllowancePeriod::parse(&s.allowance_period)
                    .unwrap_or(AllowancePeriod::Week),
                valid_from: s.valid_from,
                valid_to: s.valid_to,
                notes: s.notes,
            });
    }
    let mut operators_by_plan: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for o in operators {
        operators_by_plan
            .entry(o.care_plan_id)
            .or_default()
            .push(o.operator_id);
    }
    Ok(plans
        .into_iter()
        .map(|p| {
            let person = people.get(&p.beneficiary_id);
            let named = view != BeneficiaryView::Pseudonymous;
            CarePlan {
                id: p.id,
                municipality_id: p.municipality_id,
                beneficiary_id: p.beneficiary_id,
                beneficiary: PlanBeneficiary {
                    pseudonym: person.map(|b| b.pseudonym.clone()).unwrap_or_default(),
                    given_name: person.filter(|_| named).map(|b| b.given_name.clone()),
                    family_name: person.filter(|_| named).map(|b| b.family_name.clone()),
                },
                provider_id: p.provider_id,
                social_worker_id: p.social_worker_id,
                title: p.title,
                status: PlanStatus::parse(&p.status).unwrap_or(PlanStatus::Draft),
                status_reason: p.status_reason,
                valid_from: p.valid_from,
                valid_to: p.valid_to,
                planned_services: services_by_plan.remove(&p.id).unwrap_or_default(),
                operator_ids: operators_by_plan.remove(&p.id).unwrap_or_default(),
                version: p.version,
                created_at: p.created_at,
                updated_at: p.updated_at,
            }
        })
        .collect())
}

async fn render_one(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    plan: care_plan::Model,
) -> Result<CarePlan, ApiError> {
    render(db, access::beneficiary_view(&ctx.caller), vec![plan])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<care_plan::Model, ApiError> {
    care_plan::Entity::find_by_id(id)
        .filter(scope::plans(access::plan_scope(&ctx.caller)))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

fn status_of(plan: &care_plan::Model) -> PlanStatus {
    PlanStatus::parse(&plan.status).unwrap_or(PlanStatus::Draft)
}

fn plan_closed() -> ApiError {
    ApiError::Conflict {
        code: "plan-closed",
        detail: "The plan is closed and can no longer be changed.".to_owned(),
    }
}

/// A planned service that passed validation, ready to store.
struct ValidService {
    service_type_id: Uuid,
    allowance_milli: i64,
    period: AllowancePeriod,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    notes: Option<String>,
}

impl ValidService {
    fn draft(&self) -> PlannedServiceDraft {
        PlannedServiceDraft {
            allowance_milli: self.allowance_milli,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        }
    }
}

/// Checks submitted planned services against the municipality's active catalogue.
async fn check_services(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    input: Vec<NewPlannedService>,
    errors: &mut Vec<FieldError>,
) -> Result<Vec<ValidService>, ApiError> {
    if input.len() > MAX_SERVICES {
        errors.push(FieldError::new(
            "planned_services",
            format!("must have at most {MAX_SERVICES} items"),
        ));
        return Ok(Vec::new());
    }
    let ids: HashSet<Uuid> = input.iter().map(|s| s.service_type_id).collect();
    let known: HashSet<Uuid> = if ids.is_empty() {
        HashSet::new()
    } else {
        service_type::Entity::find()
            .filter(service_type::Column::Id.is_in(ids))
            .filter(service_type::Column::MunicipalityId.eq(municipality_id))
            .filter(service_type::Column::Active.eq(true))
            .all(db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    let mut services = Vec::with_capacity(input.len());
    for (i, s) in input.into_iter().enumerate() {
        let field = |name: &str| format!("planned_services[{i}].{name}");
        if !known.contains(&s.service_type_id) {
            errors.push(FieldError::new(
                field("service_type_id"),
                "unknown service type",
            ));
        }
        let allowance_milli = match to_milli(s.allowance) {
            Some(milli) => milli,
            None => {
                errors.push(FieldError::new(
                    field("allowance"),
                    "must be a finite number",
                ));
                1
            }
        };
        let notes = text(&field("notes"), s.notes, 500, errors);
        services.push(ValidService {
            service_type_id: s.service_type_id,
            allowance_milli,
            period: s.allowance_period,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            notes,
        });
    }
    Ok(services)
}

/// Checks that every id is a distinct, active field operator of `provider_id`.
async fn check_operators(
    db: &impl ConnectionTrait,
    provider_id: Uuid,
    ids: &[Uuid],
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    if ids.len() > MAX_OPERATORS {
        errors.push(FieldError::new(
            "operator_ids",
            format!("must have at most {MAX_OPERATORS} items"),
        ));
        return Ok(());
    }
    let known: HashSet<Uuid> = if ids.is_empty() {
        HashSet::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .filter(user::Column::OrganizationId.eq(provider_id))
            .filter(user::Column::Role.eq(Role::FieldOperator.as_str()))
            .filter(user::Column::Active.eq(true))
            .all(db)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect()
    };
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            errors.push(FieldError::new(
                format!("operator_ids[{i}]"),
                "is listed more than once",
            ));
        } else if !known.contains(id) {
            errors.push(FieldError::new(
                format!("operator_ids[{i}]"),
                "not an operator of the plan's provider",
            ));
        }
    }
    Ok(())
}

async fn check_provider(
    db: &impl ConnectionTrait,
    id: Uuid,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let found = organization::Entity::find_by_id(id)
        .filter(organization::Column::Kind.eq(OrganizationKind::Provider.as_str()))
        .filter(organization::Column::Active.eq(true))
        .one(db)
        .await?;
    if found.is_none() {
        errors.push(FieldError::new("provider_id", "unknown provider"));
    }
    Ok(())
}

async fn check_social_worker(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    id: Uuid,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let found = user::Entity::find_by_id(id)
        .filter(user::Column::OrganizationId.eq(municipality_id))
        .filter(user::Column::Role.eq(Role::SocialWorker.as_str()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?;
    if found.is_none() {
        errors.push(FieldError::new("social_worker_id", "unknown social worker"));
    }
    Ok(())
}

async fn replace_services(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    services: Vec<ValidService>,
) -> Result<(), ApiError> {
    planned_service::Entity::delete_many()
        .filter(planned_service::Column::CarePlanId.eq(plan_id))
        .exec(db)
        .await?;
    for s in services {
        planned_service::ActiveModel {
            id: Set(Uuid::now_v7()),
            care_plan_id: Set(plan_id),
            service_type_id: Set(s.service_type_id),
            allowance_milli: Set(s.allowance_milli),
            allowance_period: Set(s.period.as_str().to_owned()),
            valid_from: Set(s.valid_from),
            valid_to: Set(s.valid_to),
            notes: Set(s.notes),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

async fn replace_operators(
    db: &impl ConnectionTrait,
    plan_id: Uuid,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    care_plan_operator::Entity::delete_many()
        .filter(care_plan_operator::Column::CarePlanId.eq(plan_id))
        .exec(db)
        .await?;
    let now = Utc::now();
    for id in ids {
        care_plan_operator::ActiveModel {
            care_plan_id: Set(plan_id),
            operator_id: Set(*id),
            added_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Lists the care plans visible to the caller.
#[utoipa::path(
    tag = "care-plans",
    operation_id = "list_care_plans",
    params(CarePlanQuery),
    responses((status = 200, description = "A page of care plans.", body = CarePlanList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/care-plans")]
pub async fn list_care_plans(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<CarePlanQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select =
        care_plan::Entity::find().filter(scope::plans(access::plan_scope(&ctx.caller)));
    if let Some(status) = query.status {
        select = select.filter(care_plan::Column::Status.eq(status.as_str()));
    }
    if let Some(id) = query.beneficiary_id {
        select = select.filter(care_plan::Column::BeneficiaryId.eq(id));
    }
    if let Some(id) = query.provider_id {
        select = select.filter(care_plan::Column::ProviderId.eq(id));
    }
    if let Some(id) = query.operator_id {
        select = select.filter(
            care_plan::Column::Id.in_subquery(
                Query::select()
                    .column(care_plan_operator::Column::CarePlanId)
                    .from(care_plan_operator::Entity)
                    .and_where(care_plan_operator::Column::OperatorId.eq(id))
                    .to_owned(),
            ),
        );
    }
    if let Some(day) = query.active_on {
        select = select
            .filter(care_plan::Column::ValidFrom.lte(day))
            .filter(care_plan::Column::ValidTo.gte(day));
    }
    let select = sort_by(
        select,
        query.sort.as_deref(),
        "valid_from",
        &[
            ("valid_from", care_plan::Column::ValidFrom),
            ("created_at", care_plan::Column::CreatedAt),
            ("title", care_plan::Column::Title),
        ],
        care_plan::Column::Id,
    )?;
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    let items = render(&state.db, access::beneficiary_view(&ctx.caller), rows).await?;
    Ok(HttpResponse::Ok().json(CarePlanList::new(items, page, total)))
}

/// Reads one care plan.
#[utoipa::path(
    tag = "care-plans",
    operation_id = "show_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id")),
    responses((status = 200, description = "The care plan.", body = CarePlan)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/care-plans/{id}")]
pub async fn show_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Read)?;
    let plan = find(&state.db, &ctx, *id).await?;
    let body = render_one(&state.db, &ctx, plan).await?;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

/// Creates a draft care plan for a beneficiary of the caller's municipality (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "create_care_plan",
    request_body = NewCarePlan,
    responses((status = 201, description = "Created as a draft.", body = CarePlan)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans")]
pub async fn create_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewCarePlan>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Write)?;
    let municipality_id = ctx.caller.organization_id;
    let mut errors = Vec::new();
    let title = required_text("title", input.title, 200, &mut errors);
    let txn = state.db.begin().await?;
    let person = beneficiary::Entity::find_by_id(input.beneficiary_id)
        .filter(beneficiary::Column::MunicipalityId.eq(municipality_id))
        .one(&txn)
        .await?;
    match person {
        None => errors.push(FieldError::new("beneficiary_id", "unknown beneficiary")),
        Some(p) if p.status == BeneficiaryStatus::Archived.as_str() => {
            errors.push(FieldError::new(
                "beneficiary_id",
                "the beneficiary is archived",
            ));
        }
        Some(_) => {}
    }
    check_provider(&txn, input.provider_id, &mut errors).await?;
    let social_worker_id = match input.social_worker_id.or(ctx.caller.user_id()) {
        Some(id) => {
            check_social_worker(&txn, municipality_id, id, &mut errors).await?;
            id
        }
        None => {
            errors.push(FieldError::new(
                "social_worker_id",
                "is required when an API client creates a plan",
            ));
            Uuid::nil()
        }
    };
    let services =
        check_services(&txn, municipality_id, input.planned_services, &mut errors).await?;
    let drafts: Vec<_> = services.iter().map(ValidService::draft).collect();
    errors.extend(check_plan(input.valid_from, input.valid_to, &drafts));
    let operator_ids = input.operator_ids.unwrap_or_default();
    check_operators(&txn, input.provider_id, &operator_ids, &mut errors).await?;
    ApiError::check(errors)?;
    let now = Utc::now();
    let plan = care_plan::ActiveModel {
        id: Set(Uuid::now_v7()),
        municipality_id: Set(municipality_id),
        beneficiary_id: Set(input.beneficiary_id),
        provider_id: Set(input.provider_id),
        social_worker_id: Set(social_worker_id),
        title: Set(title),
        status: Set(PlanStatus::Draft.as_str().to_owned()),
        status_reason: Set(None),
        valid_from: Set(input.valid_from),
        valid_to: Set(input.valid_to),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    replace_services(&txn, plan.id, services).await?;
    replace_operators(&txn, plan.id, &operator_ids).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.create",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(municipality_id),
        },
    )
    .await?;
    let body = render_one(&txn, &ctx, plan).await?;
    txn.commit().await?;
    let version = body.version;
    Ok(created(
        format!("/api/v1/care-plans/{}", body.id),
        &body,
        version,
    ))
}

/// Updates a care plan that is not closed (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "update_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = CarePlanPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Updated.", body = CarePlan),
        (status = 409, description = "The plan is closed (`plan-closed`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[patch("/care-plans/{id}")]
pub async fn update_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<CarePlanPatch>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlans, Action::Write)?;
    let txn = state.db.begin().await?;
    let plan = find(&txn, &ctx, *id).await?;
    if_match.check(plan.version)?;
    if status_of(&plan) == PlanStatus::Closed {
        return Err(plan_closed());
    }
    let mut errors = Vec::new();
    let mut changes = plan.clone().into_active_model();
    if let Some(title) = input.title {
        changes.title = Set(required_text("title", title, 200, &mut errors));
    }
    if let Some(worker) = input.social_worker_id {
        check_social_worker(&txn, plan.municipality_id, worker, &mut errors).await?;
        changes.social_worker_id = Set(worker);
    }
    let provider_changed = input.provider_id.is_some_and(|p| p != plan.provider_id);
    if let Some(provider) = input.provider_id.filter(|_| provider_changed) {
        if status_of(&plan) != PlanStatus::Draft {
            errors.push(FieldError::new(
                "provider_id",
                "can change only while the plan is a draft",
            ));
        } else {
            check_provider(&txn, provider, &mut errors).await?;
            changes.provider_id = Set(provider);
        }
    }
    let valid_from = input.valid_from.unwrap_or(plan.valid_from);
    let valid_to = input.valid_to.unwrap_or(plan.valid_to);
    changes.valid_from = Set(valid_from);
    changes.valid_to = Set(valid_to);
    let new_services = match input.planned_services {
        Some(list) => Some(check_services(&txn, plan.municipality_id, list, &mut errors).await?),
        None => None,
    };
    let drafts: Vec<PlannedServiceDraft> = match &new_services {
        Some(list) => list.iter().map(ValidService::draft).collect(),
        None => planned_service::Entity::find()
            .filter(planned_service::Column::CarePlanId.eq(plan.id))
            .order_by_asc(planned_service::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| PlannedServiceDraft {
                allowance_milli: s.allowance_milli,
                valid_from: s.valid_from,
                valid_to: s.valid_to,
            })
            .collect(),
    };
    errors.extend(check_plan(valid_from, valid_to, &drafts));
    ApiError::check(errors)?;
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<care_plan::Entity, _>(
        &txn,
        care_plan::Column::Id,
        care_plan::Column::Version,
        plan.id,
        plan.version,
        changes,
    )
    .await?;
    if let Some(services) = new_services {
        replace_services(&txn, plan.id, services).await?;
    }
    if provider_changed {
        // The operators belong to the previous provider: the new one assigns its own.
        replace_operators(&txn, plan.id, &[]).await?;
    }
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.update",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, plan.id).await?;
    let body = render_one(&txn, &ctx, updated).await?;
    txn.commit().await?;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

async fn transition(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: IfMatch,
    step: PlanTransition,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(ctx, Resource::CarePlans, Action::Write)?;
    let mut errors = Vec::new();
    let reason = text("reason", reason, 500, &mut errors);
    if step.needs_reason() && reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            "a reason is required for this step",
        ));
    }
    let (verb, action) = match step {
        PlanTransition::Activate => ("activate", "care_plan.activate"),
        PlanTransition::Suspend => ("suspend", "care_plan.suspend"),
        PlanTransition::Resume => ("resume", "care_plan.resume"),
        PlanTransition::Close => ("close", "care_plan.close"),
    };
    let txn = state.db.begin().await?;
    let plan = find(&txn, ctx, id).await?;
    if_match.check(plan.version)?;
    let current = status_of(&plan);
    let Some(next) = step.apply(current) else {
        return Err(ApiError::Conflict {
            code: "invalid-transition",
            detail: format!("A plan that is {} cannot {verb}.", current.as_str()),
        });
    };
    ApiError::check(errors)?;
    let mut changes = plan.clone().into_active_model();
    changes.status = Set(next.as_str().to_owned());
    changes.status_reason = Set(reason);
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<care_plan::Entity, _>(
        &txn,
        care_plan::Column::Id,
        care_plan::Column::Version,
        plan.id,
        plan.version,
        changes,
    )
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action,
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, ctx, plan.id).await?;
    let body = render_one(&txn, ctx, updated).await?;
    txn.commit().await?;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

/// Activates a draft plan: services can then be delivered against it (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "activate_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = Option<ReasonInput>, description = "Optional; may be empty."),
    responses(
        (status = 200, description = "Activated.", body = CarePlan),
        (status = 409, description = "The plan is not a draft (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/activate")]
pub async fn activate_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(
        &state,
        &ctx,
        *id,
        if_match,
        PlanTransition::Activate,
        reason,
    )
    .await
}

/// Suspends an active plan, with a reason (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "suspend_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReasonInput,
    responses(
        (status = 200, description = "Suspended.", body = CarePlan),
        (status = 409, description = "The plan is not active (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/suspend")]
pub async fn suspend_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Suspend, reason).await
}

/// Resumes a suspended plan (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "resume_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body(content = Option<ReasonInput>, description = "Optional; may be empty."),
    responses(
        (status = 200, description = "Resumed.", body = CarePlan),
        (status = 409, description = "The plan is not suspended (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/resume")]
pub async fn resume_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Resume, reason).await
}

/// Closes a plan for good, with a reason (social workers).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "close_care_plan",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = ReasonInput,
    responses(
        (status = 200, description = "Closed.", body = CarePlan),
        (status = 409, description = "The plan is already closed (`invalid-transition`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/care-plans/{id}/close")]
pub async fn close_care_plan(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    OptionalJson(input): OptionalJson<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let reason = input.and_then(|input| input.reason);
    transition(&state, &ctx, *id, if_match, PlanTransition::Close, reason).await
}

/// Replaces the operators authorized on a plan (social workers, the provider's coordinator).
#[utoipa::path(
    tag = "care-plans",
    operation_id = "replace_care_plan_operators",
    params(("id" = Uuid, Path, description = "Care plan id"), ("If-Match" = String, Header, description = "The ETag read")),
    request_body = PlanOperators,
    responses(
        (status = 200, description = "Updated.", body = CarePlan),
        (status = 409, description = "The plan is closed (`plan-closed`)."),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[put("/care-plans/{id}/operators")]
pub async fn replace_care_plan_operators(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<PlanOperators>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::CarePlanOperators, Action::Write)?;
    let txn = state.db.begin().await?;
    let plan = find(&txn, &ctx, *id).await?;
    if_match.check(plan.version)?;
    if status_of(&plan) == PlanStatus::Closed {
        return Err(plan_closed());
    }
    let mut errors = Vec::new();
    check_operators(&txn, plan.provider_id, &input.operator_ids, &mut errors).await?;
    ApiError::check(errors)?;
    let mut changes = plan.clone().into_active_model();
    changes.updated_at = Set(Utc::now());
    db::update_versioned::<care_plan::Entity, _>(
        &txn,
        care_plan::Column::Id,
        care_plan::Column::Version,
        plan.id,
        plan.version,
        changes,
    )
    .await?;
    replace_operators(&txn, plan.id, &input.operator_ids).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "care_plan.operators",
            resource_type: "care_plan",
            resource_id: Some(plan.id),
            organization_id: Some(plan.municipality_id),
        },
    )
    .await?;
    let updated = find(&txn, &ctx, plan.id).await?;
    let body = render_one(&txn, &ctx, updated).await?;
    txn.commit().await?;
    let version = body.version;
    Ok(ok_tagged(&body, version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_care_plans)
        .service(create_care_plan)
        .service(show_care_plan)
        .service(update_care_plan)
        .service(activate_care_plan)
        .service(suspend_care_plan)
        .service(resume_care_plan)
        .service(close_care_plan)
        .service(replace_care_plan_operators);
}
