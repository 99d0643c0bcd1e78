//! Statements in the caller's scope, and their rendering with figures, exclusions and history.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::dto::{ExcludedRecord, Statement, StatementEvent, StatementLine};
use crate::{
    auth::caller::Ctx,
    db::{
        entities::{organization, statement},
        statements::{self, Figures, Line, same_figures},
    },
    domain::{
        access::{self, Action, Resource},
        civil_time,
        service_record::ServiceUnit,
        statement::{self as rules, Month, StatementStatus, total_cents},
        values::{Money, from_milli},
    },
    error::ApiError,
};

/// 403 unless the caller's role may use statements for `action`.
pub(super) fn authorize(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    access::allows(&ctx.caller, Resource::Statements, action)
        .then_some(())
        .ok_or(ApiError::Forbidden)
}

pub(super) fn status_of(s: &statement::Model) -> Result<StatementStatus, ApiError> {
    StatementStatus::parse(&s.status)
        .ok_or_else(|| anyhow::anyhow!("statement {} has an unknown status", s.id).into())
}

pub(super) fn month_of(s: &statement::Model) -> Result<Month, ApiError> {
    Month::parse(&s.month)
        .ok_or_else(|| anyhow::anyhow!("statement {} has an invalid month", s.id).into())
}

/// The statement `id` if the caller sees it; 404 otherwise.
pub(super) async fn find(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    id: Uuid,
) -> Result<statement::Model, ApiError> {
    statements::find(db, rules::scope(&ctx.caller), id)
        .await?
        .ok_or(ApiError::NotFound)
}

fn unit(stored: &str) -> Result<ServiceUnit, ApiError> {
    ServiceUnit::parse(stored)
        .ok_or_else(|| anyhow::anyhow!("unknown service unit {stored:?}").into())
}

fn line(l: Line) -> Result<StatementLine, ApiError> {
    Ok(StatementLine {
        unit: unit(&l.unit)?,
        care_plan_id: l.care_plan_id,
        plan_title: l.plan_title,
        beneficiary_pseudonym: l.beneficiary_pseudonym,
        service_type_id: l.service_type_id,
        service_type_code: l.service_type_code,
        service_type_name: l.service_type_name,
        records: l.records,
        quantity: from_milli(l.quantity_milli),
        tariff: Money::from_cents(l.tariff_cents),
        amount: Money::from_cents(l.amount_cents),
    })
}

/// The statement with its figures: live while a draft, as submitted afterwards.
pub(super) async fn render(
    db: &impl ConnectionTrait,
    s: statement::Model,
) -> Result<Statement, ApiError> {
    let status = status_of(&s)?;
    let month = month_of(&s)?;
    let Figures {
        lines: live,
        excluded,
    } = statements::live_figures(db, s.municipality_id, s.provider_id, month).await?;
    let (lines, frozen, outdated) = match status {
        StatementStatus::Draft => (live, false, false),
        StatementStatus::Submitted => {
            let submitted = statements::frozen_lines(db, s.id).await?;
            let outdated = !same_figures(&submitted, &live);
            (submitted, true, outdated)
        }
        // Approval checked that the records said the same, and locked them.
        StatementStatus::Approved => (statements::frozen_lines(db, s.id).await?, true, false),
    };
    let names: HashMap<Uuid, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in([s.municipality_id, s.provider_id]))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let name = |id: Uuid| names.get(&id).cloned().unwrap_or_default();
    let total = total_cents(lines.iter().map(|l| l.amount_cents));
    let history = statements::history(db, s.id)
        .await?
        .into_iter()
        .map(|e| StatementEvent {
            status: StatementStatus::parse(&e.status).unwrap_or(status),
            action: e.action,
            reason: e.reason,
            actor_user_id: e.actor_user_id,
            actor_client_id: e.actor_client_id,
            occurred_at: e.occurred_at,
        })
        .collect();
    let excluded_records = excluded
        .into_iter()
        .map(|x| {
            Ok(ExcludedRecord {
                unit: unit(&x.unit)?,
                id: x.record_id,
                care_plan_id: x.care_plan_id,
                plan_title: x.plan_title,
                service_type_code: x.service_type_code,
                date: civil_time::local_date(x.started_at),
                started_at: x.started_at,
                status: x.status,
                exclusion: x.exclusion,
                quantity: from_milli(x.quantity_milli),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Statement {
        id: s.id,
        municipality_id: s.municipality_id,
        municipality_name: name(s.municipality_id),
        provider_id: s.provider_id,
        provider_name: name(s.provider_id),
        month: s.month,
        status,
        status_reason: s.status_reason,
        period_start: month.first_day(),
        period_end: month.last_day(),
        frozen,
        outdated,
        lines: lines.into_iter().map(line).collect::<Result<_, _>>()?,
        total: Money::from_cents(total),
        excluded_records,
        history,
        submitted_at: s.submitted_at,
        approved_at: s.approved_at,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}
