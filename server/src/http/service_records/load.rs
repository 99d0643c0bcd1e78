//! Finding records in the caller's scope, and answering with them as the caller may see them.

use actix_web::HttpResponse;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::dto::{FindingView, ServiceRecord};
use crate::{
    auth::caller::Ctx,
    db::{entities::service_record, findings::store, people, scope},
    domain::access,
    error::ApiError,
    http::ok_tagged,
};

pub(super) async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<service_record::Model, ApiError> {
    find_in_scope(db, ctx, id).await?.ok_or(ApiError::NotFound)
}

pub(super) async fn find_in_scope(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<Option<service_record::Model>, ApiError> {
    Ok(service_record::Entity::find_by_id(id)
        .filter(scope::records(access::plan_scope(&ctx.caller)))
        .one(db)
        .await?)
}

/// Records with their findings and operators' names, as the caller may see them (three
/// queries for the lot).
pub(crate) async fn render(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    records: Vec<service_record::Model>,
) -> Result<Vec<ServiceRecord>, ApiError> {
    let view = access::record_view(&ctx.caller);
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let (mut findings, acknowledgements) = store::of_records(db, &ids).await?;
    let names = people::full_names(db, records.iter().map(|r| r.operator_id)).await?;
    Ok(records
        .into_iter()
        .map(|r| {
            let acks = acknowledgements
                .get(&r.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let list = findings
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| FindingView::new(f, acks, view))
                .collect();
            let operator_name = names.get(&r.operator_id).cloned().unwrap_or_default();
            ServiceRecord::new(r, view, operator_name, list)
        })
        .collect())
}

/// 200 with the record, its findings and its ETag.
pub(super) async fn respond(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    record: service_record::Model,
) -> Result<HttpResponse, ApiError> {
    let version = record.version;
    let body = render(db, ctx, vec![record])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a rendered record went missing"))?;
    Ok(ok_tagged(&body, version))
}
