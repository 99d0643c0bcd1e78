//! Finding records in the caller's scope, and answering with them as the caller may see them.

use actix_web::HttpResponse;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::dto::ServiceRecord;
use crate::{
    auth::caller::Ctx,
    db::{entities::service_record, scope},
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

pub(super) fn respond(ctx: &Ctx, record: service_record::Model) -> HttpResponse {
    let version = record.version;
    ok_tagged(
        &ServiceRecord::new(record, access::record_view(&ctx.caller)),
        version,
    )
}
