//! Statements' queries: the records of a provider, municipality and month with the labels their
//! figures need, the frozen lines and history of a statement, and the month lock that an
//! approved statement puts on its records.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Query,
};
use uuid::Uuid;

use super::{
    audit::Actor,
    entities::{
        beneficiary, care_plan, service_record, service_type, statement, statement_event,
        statement_line,
    },
};
use crate::domain::{
    service_record::RecordStatus,
    statement::{
        Exclusion, Month, RecordFigure, StatementScope, StatementStatus, amount_cents, exclusion,
        tally,
    },
};

/// One line of a statement, live or frozen: a plan and service type with their labels, the
/// validated quantity, the tariff and the amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub care_plan_id: Uuid,
    pub plan_title: String,
    /// The beneficiary's pseudonym: statements never name people (DESIGN.md §2).
    pub beneficiary_pseudonym: String,
    pub service_type_id: Uuid,
    pub service_type_code: String,
    pub service_type_name: String,
    /// The service's unit as stored (`hour`, `trip`...).
    pub unit: String,
    /// Validated records summed in this line.
    pub records: i64,
    pub quantity_milli: i64,
    pub tariff_cents: i64,
    pub amount_cents: i64,
}

impl Line {
    /// What is paid, without the labels: two lines with the same figures are the same claim.
    fn figures(&self) -> (Uuid, Uuid, i64, i64, i64, i64) {
        (
            self.care_plan_id,
            self.service_type_id,
            self.records,
            self.quantity_milli,
            self.tariff_cents,
            self.amount_cents,
        )
    }
}

/// Whether two sets of lines claim the same figures (labels aside).
pub fn same_figures(a: &[Line], b: &[Line]) -> bool {
    let mut a: Vec<_> = a.iter().map(Line::figures).collect();
    let mut b: Vec<_> = b.iter().map(Line::figures).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// A record of the month that is not paid, listed apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    pub record_id: Uuid,
    pub care_plan_id: Uuid,
    pub plan_title: String,
    pub service_type_code: String,
    pub unit: String,
    pub started_at: DateTime<Utc>,
    pub status: RecordStatus,
    pub exclusion: Exclusion,
    pub quantity_milli: i64,
}

/// The figures of a month as the records stand now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Ordered by plan title, then service code.
    pub lines: Vec<Line>,
    /// Ordered by start.
    pub excluded: Vec<Excluded>,
}

/// Statements in `scope`.
pub fn in_scope(scope: StatementScope) -> Condition {
    match scope {
        StatementScope::Municipality(id) => {
            Condition::all().add(statement::Column::MunicipalityId.eq(id))
        }
        StatementScope::Provider(id) => Condition::all().add(statement::Column::ProviderId.eq(id)),
    }
}

/// The statement `id` if it is in `scope`.
pub async fn find(
    db: &impl ConnectionTrait,
    scope: StatementScope,
    id: Uuid,
) -> Result<Option<statement::Model>, DbErr> {
    statement::Entity::find_by_id(id)
        .filter(in_scope(scope))
        .one(db)
        .await
}

/// The statement of a provider to a municipality for a month, if drafted.
pub async fn find_for_month(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    provider_id: Uuid,
    month: Month,
) -> Result<Option<statement::Model>, DbErr> {
    statement::Entity::find()
        .filter(statement::Column::MunicipalityId.eq(municipality_id))
        .filter(statement::Column::ProviderId.eq(provider_id))
        .filter(statement::Column::Month.eq(month.to_string()))
        .one(db)
        .await
}

fn missing(what: &str, id: Uuid) -> DbErr {
    DbErr::RecordNotFound(format!("{what} {id} of a statement's record"))
}

/// The figures of `month` for the plans `provider_id` delivers for `municipality_id`: every
/// record whose start falls in the month in Rome, validated ones summed into lines, the others
/// listed apart.
pub async fn live_figures(
    db: &impl ConnectionTrait,
    municipality_id: Uuid,
    provider_id: Uuid,
    month: Month,
) -> Result<Figures, DbErr> {
    let (start, end) = month.bounds();
    let records = service_record::Entity::find()
        .filter(
            service_record::Column::CarePlanId.in_subquery(
                Query::select()
                    .column(care_plan::Column::Id)
                    .from(care_plan::Entity)
                    .and_where(care_plan::Column::MunicipalityId.eq(municipality_id))
                    .and_where(care_plan::Column::ProviderId.eq(provider_id))
                    .to_owned(),
            ),
        )
        .filter(service_record::Column::StartedAt.gte(start))
        .filter(service_record::Column::StartedAt.lt(end))
        .order_by_asc(service_record::Column::StartedAt)
        .order_by_asc(service_record::Column::Id)
        .all(db)
        .await?;
    if records.is_empty() {
        return Ok(Figures {
            lines: Vec::new(),
            excluded: Vec::new(),
        });
    }
    let plan_ids: HashSet<Uuid> = records.iter().map(|r| r.care_plan_id).collect();
    let type_ids: HashSet<Uuid> = records.iter().map(|r| r.service_type_id).collect();
    let plans: HashMap<Uuid, care_plan::Model> = care_plan::Entity::find()
        .filter(care_plan::Column::Id.is_in(plan_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let people: HashSet<Uuid> = plans.values().map(|p| p.beneficiary_id).collect();
    let pseudonyms: HashMap<Uuid, String> = beneficiary::Entity::find()
        .filter(beneficiary::Column::Id.is_in(people))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.pseudonym))
        .collect();
    let types: HashMap<Uuid, service_type::Model> = service_type::Entity::find()
        .filter(service_type::Column::Id.is_in(type_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let plan = |id: Uuid| plans.get(&id).ok_or_else(|| missing("care plan", id));
    let kind = |id: Uuid| types.get(&id).ok_or_else(|| missing("service type", id));

    let mut validated = Vec::new();
    let mut excluded = Vec::new();
    for record in &records {
        let status = RecordStatus::parse(&record.status)
            .ok_or_else(|| DbErr::Custom(format!("record {} has an unknown status", record.id)))?;
        match exclusion(status) {
            None => validated.push(RecordFigure {
                care_plan_id: record.care_plan_id,
                service_type_id: record.service_type_id,
                quantity_milli: record.quantity_milli,
            }),
            Some(why) => {
                let t = kind(record.service_type_id)?;
                excluded.push(Excluded {
                    record_id: record.id,
                    care_plan_id: record.care_plan_id,
                    plan_title: plan(record.care_plan_id)?.title.clone(),
                    service_type_code: t.code.clone(),
                    unit: t.unit.clone(),
                    started_at: record.started_at,
                    status,
                    exclusion: why,
                    quantity_milli: record.quantity_milli,
                });
            }
        }
    }
    let mut lines = Vec::new();
    for sum in tally(validated) {
        let p = plan(sum.care_plan_id)?;
        let t = kind(sum.service_type_id)?;
        lines.push(Line {
            care_plan_id: p.id,
            plan_title: p.title.clone(),
            beneficiary_pseudonym: pseudonyms
                .get(&p.beneficiary_id)
                .cloned()
                .unwrap_or_default(),
            service_type_id: t.id,
            service_type_code: t.code.clone(),
            service_type_name: t.name.clone(),
            unit: t.unit.clone(),
            records: sum.records,
            quantity_milli: sum.quantity_milli,
            tariff_cents: t.tariff_cents,
            amount_cents: amount_cents(sum.quantity_milli, t.tariff_cents),
        });
    }
    // Tallies come ordered by ids; people read them by plan and service.
    lines.sort_by(|a, b| {
        (&a.plan_title, &a.service_type_code, a.care_plan_id).cmp(&(
            &b.plan_title,
            &b.service_type_code,
            b.care_plan_id,
        ))
    });
    Ok(Figures { lines, excluded })
}

/// The lines frozen when the statement was submitted, in their order.
pub async fn frozen_lines(
    db: &impl ConnectionTrait,
    statement_id: Uuid,
) -> Result<Vec<Line>, DbErr> {
    Ok(statement_line::Entity::find()
        .filter(statement_line::Column::StatementId.eq(statement_id))
        .order_by_asc(statement_line::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|l| Line {
            care_plan_id: l.care_plan_id,
            plan_title: l.plan_title,
            beneficiary_pseudonym: l.beneficiary_pseudonym,
            service_type_id: l.service_type_id,
            service_type_code: l.service_type_code,
            service_type_name: l.service_type_name,
            unit: l.unit,
            records: l.records,
            quantity_milli: l.quantity_milli,
            tariff_cents: l.tariff_cents,
            amount_cents: l.amount_cents,
        })
        .collect())
}

/// Replaces the statement's frozen lines with `lines` (at submission).
pub async fn freeze(
    db: &impl ConnectionTrait,
    statement_id: Uuid,
    lines: &[Line],
) -> Result<(), DbErr> {
    thaw(db, statement_id).await?;
    for (position, line) in lines.iter().enumerate() {
        statement_line::ActiveModel {
            id: Set(Uuid::now_v7()),
            statement_id: Set(statement_id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            care_plan_id: Set(line.care_plan_id),
            plan_title: Set(line.plan_title.clone()),
            beneficiary_pseudonym: Set(line.beneficiary_pseudonym.clone()),
            service_type_id: Set(line.service_type_id),
            service_type_code: Set(line.service_type_code.clone()),
            service_type_name: Set(line.service_type_name.clone()),
            unit: Set(line.unit.clone()),
            records: Set(line.records),
            quantity_milli: Set(line.quantity_milli),
            tariff_cents: Set(line.tariff_cents),
            amount_cents: Set(line.amount_cents),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Drops the statement's frozen lines (at reopening: its figures follow the records again).
pub async fn thaw(db: &impl ConnectionTrait, statement_id: Uuid) -> Result<(), DbErr> {
    statement_line::Entity::delete_many()
        .filter(statement_line::Column::StatementId.eq(statement_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Appends a status change to the statement's history.
pub async fn record_event(
    db: &impl ConnectionTrait,
    statement_id: Uuid,
    action: &str,
    status: StatementStatus,
    reason: Option<String>,
    actor: &Actor,
) -> Result<(), DbErr> {
    statement_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        statement_id: Set(statement_id),
        action: Set(action.to_owned()),
        status: Set(status.as_str().to_owned()),
        reason: Set(reason),
        actor_user_id: Set(actor.user_id),
        actor_client_id: Set(actor.client_id),
        occurred_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The statement's history, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    statement_id: Uuid,
) -> Result<Vec<statement_event::Model>, DbErr> {
    statement_event::Entity::find()
        .filter(statement_event::Column::StatementId.eq(statement_id))
        .order_by_asc(statement_event::Column::OccurredAt)
        .order_by_asc(statement_event::Column::Id)
        .all(db)
        .await
}

/// Why a record may not change.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The record's month is in an approved statement; reopening the statement unlocks it.
    #[error("the month {month} is locked by the approved statement {statement_id}")]
    Locked { statement_id: Uuid, month: Month },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Checks that `record` may still change: its month (the month of its start, in Rome) is not in
/// an approved statement of its plan's provider and municipality.
///
/// Call it inside the transaction that changes the record, before writing. On PostgreSQL it
/// takes a share lock on the month's statement row, so an approval running at the same time
/// either waits for this change (and then sees it) or is seen by it as approved: a record can
/// never change under an approval. SQLite has one writer, which gives the same order.
pub async fn ensure_unlocked(
    db: &impl ConnectionTrait,
    record: &service_record::Model,
) -> Result<(), LockError> {
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(db)
        .await?
        .ok_or_else(|| missing("care plan", record.care_plan_id))?;
    ensure_month_unlocked(db, &plan, record.started_at).await
}

/// Like [`ensure_unlocked`] for a record of `plan` starting at `started_at` that may not exist
/// yet (a new record, or one moved to another month).
pub async fn ensure_month_unlocked(
    db: &impl ConnectionTrait,
    plan: &care_plan::Model,
    started_at: DateTime<Utc>,
) -> Result<(), LockError> {
    let month = Month::of(started_at);
    // Locked whatever its status: an approval in flight must wait for this transaction.
    let found = statement::Entity::find()
        .filter(statement::Column::MunicipalityId.eq(plan.municipality_id))
        .filter(statement::Column::ProviderId.eq(plan.provider_id))
        .filter(statement::Column::Month.eq(month.to_string()))
        .lock_shared()
        .one(db)
        .await?;
    match found {
        Some(s) if s.status == StatementStatus::Approved.as_str() => Err(LockError::Locked {
            statement_id: s.id,
            month,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(plan: u128, quantity_milli: i64, title: &str) -> Line {
        Line {
            care_plan_id: Uuid::from_u128(plan),
            plan_title: title.to_owned(),
            beneficiary_pseudonym: "B-1".to_owned(),
            service_type_id: Uuid::from_u128(9),
            service_type_code: "SAD".to_owned(),
            service_type_name: "Assistenza domiciliare".to_owned(),
            unit: "hour".to_owned(),
            records: 1,
            quantity_milli,
            tariff_cents: 2350,
            amount_cents: amount_cents(quantity_milli, 2350),
        }
    }

    #[test]
    fn figures_compare_without_labels_or_order() {
        let a = [line(1, 1500, "A"), line(2, 1000, "B")];
        let renamed = [line(2, 1000, "B'"), line(1, 1500, "A'")];
        assert!(same_figures(&a, &renamed));
        let changed = [line(1, 1500, "A"), line(2, 2000, "B")];
        assert!(!same_figures(&a, &changed));
        assert!(!same_figures(&a, &a[..1]));
    }
}
