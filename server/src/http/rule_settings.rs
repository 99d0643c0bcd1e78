//! `/organizations/{id}/rule-settings`: a municipality's configuration of the automatic checks
//! (docs/rules.md). Its administrator changes them; every record of the municipality is then
//! rechecked in the same transaction.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, IfMatch, ok_tagged};
use crate::{
    auth::caller::Ctx,
    db::{audit, rule_settings},
    domain::{
        access::{self, Action, Resource},
        roles::OrganizationKind,
        rules::{
            RuleCode, RuleSettings, Severity,
            settings::{RuleSettingsDocument, Thresholds},
        },
    },
    error::{ApiError, Problem},
    findings,
    state::AppState,
};

/// A municipality's rule settings: every rule with its state, and the thresholds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleSettingsView {
    pub municipality_id: Uuid,
    /// Every rule of the catalogue, in order.
    #[schema(max_items = 32)]
    pub rules: Vec<RuleState>,
    pub thresholds: Thresholds,
    /// 0 while the municipality uses the defaults; incremented by every change; also the ETag.
    #[schema(format = Int32, minimum = 0)]
    pub version: i32,
    /// Absent while the municipality uses the defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One rule's state in a municipality.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleState {
    pub code: RuleCode,
    pub enabled: bool,
    pub severity: Severity,
    /// The severity a municipality starts with.
    pub default_severity: Severity,
}

fn view(
    municipality_id: Uuid,
    settings: &RuleSettings,
    version: i32,
    updated_at: Option<DateTime<Utc>>,
) -> RuleSettingsView {
    let document = settings.to_document();
    RuleSettingsView {
        municipality_id,
        rules: document
            .rules
            .iter()
            .map(|r| RuleState {
                code: r.code,
                enabled: r.enabled,
                severity: r.severity,
                default_severity: r.code.default_severity(),
            })
            .collect(),
        thresholds: document.thresholds,
        version,
        updated_at,
    }
}

/// Reads a municipality's rule settings (its staff; the coordinators of providers serving it).
#[utoipa::path(
    tag = "rule-settings",
    operation_id = "show_rule_settings",
    params(("id" = Uuid, Path, description = "Municipality id")),
    responses((status = 200, description = "The settings.", body = RuleSettingsView)),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[get("/organizations/{id}/rule-settings")]
pub async fn show_rule_settings(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !access::allows(&ctx.caller, Resource::RuleSettings, Action::Read) {
        return Err(ApiError::Forbidden);
    }
    let id = *id;
    let visible = match ctx.caller.organization_kind {
        OrganizationKind::Municipality => ctx.caller.organization_id == id,
        OrganizationKind::Provider => {
            rule_settings::serves(&state.db, ctx.caller.organization_id, id).await?
        }
    };
    if !visible || !rule_settings::is_municipality(&state.db, id).await? {
        return Err(ApiError::NotFound);
    }
    let (settings, version, updated_at) = rule_settings::load(&state.db, id).await?;
    Ok(ok_tagged(
        &view(id, &settings, version, updated_at),
        version,
    ))
}

/// Replaces a municipality's rule settings (its administrator); rules and thresholds left out
/// take their defaults. Every record of the municipality is rechecked before the answer.
#[utoipa::path(
    tag = "rule-settings",
    operation_id = "replace_rule_settings",
    params(
        ("id" = Uuid, Path, description = "Municipality id"),
        ("If-Match" = String, Header, description = "The ETag read (\"0\" while the defaults apply)"),
    ),
    request_body = RuleSettingsDocument,
    responses(
        (status = 200, description = "Saved; findings recomputed.", body = RuleSettingsView),
        (status = 422, description = "A threshold out of its bounds or a rule listed twice.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = [])),
)]
#[put("/organizations/{id}/rule-settings")]
pub async fn replace_rule_settings(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    ApiJson(input): ApiJson<RuleSettingsDocument>,
) -> Result<HttpResponse, ApiError> {
    if !access::allows(&ctx.caller, Resource::RuleSettings, Action::Write) {
        return Err(ApiError::Forbidden);
    }
    let id = *id;
    if ctx.caller.organization_id != id {
        return Err(ApiError::NotFound);
    }
    let settings = RuleSettings::from_document(&input).map_err(ApiError::Validation)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let (_, current, _) = rule_settings::load(&txn, id).await?;
    if_match.check(current)?;
    let version = rule_settings::save(&txn, id, &settings, current, now).await?;
    audit::record(
        &txn,
        &ctx.actor(),
        audit::Event {
            action: "rule_settings.replace",
            resource_type: "organization",
            resource_id: Some(id),
            organization_id: Some(id),
        },
    )
    .await?;
    findings::after_settings_changed(&txn, id, now).await?;
    txn.commit().await?;
    Ok(ok_tagged(&view(id, &settings, version, Some(now)), version))
}

/// Registers this resource's routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(show_rule_settings)
        .service(replace_rule_settings);
}
