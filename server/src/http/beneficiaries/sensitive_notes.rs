//! A beneficiary's sensitive notes: social workers only, every read recorded in the audit log.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    checks::authorize,
    dto::{NewSensitiveNote, SensitiveNote, SensitiveNoteList, SensitiveNoteQuery},
    load::find,
};
use crate::{
    auth::caller::Ctx,
    db::{self, audit, entities::sensitive_note},
    domain::access::{Action, Resource},
    error::ApiError,
    http::{ApiJson, Page, extract::ApiQuery, required_text},
    state::AppState,
};

/// Lists a beneficiary's sensitive notes, newest first; every read is recorded in the audit log.
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "list_sensitive_notes",
    params(("id" = Uuid, Path, description = "Beneficiary id"), SensitiveNoteQuery),
    responses((status = 200, description = "A page of notes, newest first.", body = SensitiveNoteList)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/beneficiaries/{id}/sensitive-notes")]
pub(super) async fn list_sensitive_notes(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    ApiQuery(query): ApiQuery<SensitiveNoteQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::SensitiveNotes, Action::Read)?;
    let page = Page::new(query.limit, query.offset)?;
    let txn = state.db.begin().await?;
    let person = find(&txn, &ctx, *id).await?;
    let select = sensitive_note::Entity::find()
        .filter(sensitive_note::Column::BeneficiaryId.eq(person.id))
        .order_by_desc(sensitive_note::Column::CreatedAt)
        .order_by_desc(sensitive_note::Column::Id);
    let (rows, total) = db::paginate(&txn, select, page.limit, page.offset).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "sensitive_note.read",
            resource_type: "beneficiary",
            resource_id: Some(person.id),
            organization_id: Some(person.municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(SensitiveNoteList::new(
        rows.into_iter().map(Into::into).collect(),
        page,
        total,
    )))
}

/// Adds a sensitive note to a beneficiary (social workers, in person).
#[utoipa::path(
    tag = "beneficiaries",
    operation_id = "create_sensitive_note",
    params(("id" = Uuid, Path, description = "Beneficiary id")),
    request_body = NewSensitiveNote,
    responses((status = 201, description = "Created.", body = SensitiveNote)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[post("/beneficiaries/{id}/sensitive-notes")]
pub(super) async fn create_sensitive_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    ApiJson(input): ApiJson<NewSensitiveNote>,
) -> Result<HttpResponse, ApiError> {
    authorize(&ctx, Resource::SensitiveNotes, Action::Write)?;
    let author_id = ctx.caller.user_id().ok_or(ApiError::Forbidden)?;
    let mut errors = Vec::new();
    let body = required_text("body", input.body, 10_000, &mut errors);
    ApiError::check(errors)?;
    let txn = state.db.begin().await?;
    let person = find(&txn, &ctx, *id).await?;
    let note = sensitive_note::ActiveModel {
        id: Set(Uuid::now_v7()),
        beneficiary_id: Set(person.id),
        author_id: Set(author_id),
        category: Set(input.category.as_str().to_owned()),
        body: Set(body),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "sensitive_note.create",
            resource_type: "beneficiary",
            resource_id: Some(person.id),
            organization_id: Some(person.municipality_id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/beneficiaries/{}/sensitive-notes", person.id),
        ))
        .json(SensitiveNote::from(note)))
}
