//! Listing, reading and drafting statements.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    dto::{NewStatement, Statement, StatementList, StatementQuery, StatementSummary},
    load::{authorize, find, render, status_of},
};
use crate::{
    auth::caller::Ctx,
    db::{
        self, audit,
        entities::{organization, statement},
        statements,
    },
    domain::{
        FieldError,
        access::Action,
        roles::OrganizationKind,
        statement::{self as rules, Month, StatementStatus},
    },
    error::{ApiError, Problem},
    http::{ApiJson, Page, created, extract::ApiQuery, ok_tagged},
    state::AppState,
};

fn exists(month: Month) -> ApiError {
    ApiError::Conflict {
        code: "statement-exists",
        detail: format!("The statement of {month} to this municipality already exists."),
    }
}

/// Lists the statements visible to the caller: provider staff their organization's,
/// municipality staff those addressed to their municipality. Newest month first.
#[utoipa::path(
    tag = "statements",
    operation_id = "list_statements",
    params(StatementQuery),
    responses((status = 200, description = "A page of statements.", body = StatementList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/statements")]
pub(super) async fn list_statements(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let mut select =
        statement::Entity::find().filter(statements::in_scope(rules::scope(&ctx.caller)));
    if let Some(month) = query.month {
        let month = Month::parse(&month)
            .ok_or_else(|| ApiError::field("month", "must be a month as YYYY-MM"))?;
        select = select.filter(statement::Column::Month.eq(month.to_string()));
    }
    if let Some(id) = query.municipality_id {
        select = select.filter(statement::Column::MunicipalityId.eq(id));
    }
    if let Some(id) = query.provider_id {
        select = select.filter(statement::Column::ProviderId.eq(id));
    }
    if let Some(status) = query.status {
        select = select.filter(statement::Column::Status.eq(status.as_str()));
    }
    let select = select
        .order_by_desc(statement::Column::Month)
        .order_by_asc(statement::Column::Id);
    let (rows, total) = db::paginate(&state.db, select, page.limit, page.offset).await?;
    let items = rows
        .into_iter()
        .map(|s| {
            let status = status_of(&s)?;
            Ok(StatementSummary::new(s, status))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(HttpResponse::Ok().json(StatementList::new(items, page, total)))
}

/// Reads one statement with its figures: live while a draft, as submitted afterwards; the
/// month's records that are not paid are listed apart.
#[utoipa::path(
    tag = "statements",
    operation_id = "show_statement",
    params(("id" = Uuid, Path, description = "Statement id")),
    responses((status = 200, description = "The statement.", body = Statement)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/statements/{id}")]
pub(super) async fn show_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Read)?;
    let found = find(&state.db, &ctx, *id).await?;
    let body = render(&state.db, found).await?;
    Ok(ok_tagged(&body, body.version))
}

/// Drafts the statement of a month to a municipality (the provider's coordinator or
/// administrative office, or its API client).
#[utoipa::path(
    tag = "statements",
    operation_id = "create_statement",
    request_body = NewStatement,
    responses(
        (status = 201, description = "Created as a draft.", body = Statement),
        (status = 409, description = "The statement of this month already exists (code statement-exists).", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/statements")]
pub(super) async fn create_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewStatement>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Action::Write)?;
    if !rules::may_create(&ctx.caller) {
        return Err(ApiError::Forbidden);
    }
    let provider_id = ctx.caller.organization_id;
    let mut errors = Vec::new();
    let month = Month::parse(&input.month);
    match month {
        None => errors.push(FieldError::new("month", "must be a month as YYYY-MM")),
        Some(m) if m > Month::of(Utc::now()) => {
            errors.push(FieldError::new("month", "must not be in the future"));
        }
        Some(_) => {}
    }
    let txn = state.db.begin().await?;
    let municipality = organization::Entity::find_by_id(input.municipality_id)
        .filter(organization::Column::Kind.eq(OrganizationKind::Municipality.as_str()))
        .filter(organization::Column::Active.eq(true))
        .one(&txn)
        .await?;
    if municipality.is_none() {
        errors.push(FieldError::new("municipality_id", "unknown municipality"));
    }
    ApiError::check(errors)?;
    let month = month.ok_or_else(|| anyhow::anyhow!("validated statement without a month"))?;
    if statements::find_for_month(&txn, input.municipality_id, provider_id, month)
        .await?
        .is_some()
    {
        return Err(exists(month));
    }
    let now = Utc::now();
    let inserted = statement::ActiveModel {
        id: Set(Uuid::now_v7()),
        municipality_id: Set(input.municipality_id),
        provider_id: Set(provider_id),
        month: Set(month.to_string()),
        status: Set(StatementStatus::Draft.as_str().to_owned()),
        status_reason: Set(None),
        submitted_at: Set(None),
        approved_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        // Drafted by someone else between the check and the insert.
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(exists(month));
        }
        Err(err) => return Err(err.into()),
    };
    let actor = ctx.actor();
    statements::record_event(&txn, row.id, "create", StatementStatus::Draft, None, &actor).await?;
    audit::record(
        &txn,
        &actor,
        audit::Event {
            action: "statement.create",
            resource_type: "statement",
            resource_id: Some(row.id),
            organization_id: Some(row.municipality_id),
        },
    )
    .await?;
    let body = render(&txn, row).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/statements/{}", body.id),
        &body,
        body.version,
    ))
}
