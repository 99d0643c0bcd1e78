//! The review's queries: the queue, what stands in the way of validating records (findings,
//! acknowledgements, month locks), the bulk update, and the records' history.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Query,
};
use uuid::Uuid;

use super::{
    audit::Actor,
    entities::{
        care_plan, finding, finding_acknowledgement, service_record, service_record_event,
        statement,
    },
};
use crate::domain::{
    review::{AcknowledgementKind, FindingState},
    rules::{RuleCode, Severity},
    service_record::RecordStatus,
    statement::{Month, StatementStatus},
};

/// Ids per `IN (...)` list, so that no statement nears the databases' parameter limits.
const CHUNK: usize = 500;

/// The queue's filters (all optional; the caller's scope applies on top).
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub care_plan_id: Option<Uuid>,
    pub provider_id: Option<Uuid>,
    pub operator_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Default: the records waiting for a decision (`recorded`, `amended`).
    pub statuses: Vec<RecordStatus>,
    pub finding: Option<RuleCode>,
    pub severity: Option<Severity>,
}

/// The condition selecting the queue's records.
pub fn queue(filter: &QueueFilter) -> Condition {
    let mut condition = Condition::all();
    let statuses: Vec<&str> = if filter.statuses.is_empty() {
        vec![
            RecordStatus::Recorded.as_str(),
            RecordStatus::Amended.as_str(),
        ]
    } else {
        filter.statuses.iter().map(|s| s.as_str()).collect()
    };
    condition = condition.add(service_record::Column::Status.is_in(statuses));
    if let Some(id) = filter.care_plan_id {
        condition = condition.add(service_record::Column::CarePlanId.eq(id));
    }
    if let Some(id) = filter.provider_id {
        condition = condition.add(
            service_record::Column::CarePlanId.in_subquery(
                Query::select()
                    .column(care_plan::Column::Id)
                    .from(care_plan::Entity)
                    .and_where(care_plan::Column::ProviderId.eq(id))
                    .to_owned(),
            ),
        );
    }
    if let Some(id) = filter.operator_id {
        condition = condition.add(service_record::Column::OperatorId.eq(id));
    }
    if let Some(from) = filter.from {
        condition = condition.add(service_record::Column::StartedAt.gte(from));
    }
    if let Some(to) = filter.to {
        condition = condition.add(service_record::Column::StartedAt.lt(to));
    }
    if filter.finding.is_some() || filter.severity.is_some() {
        let mut findings = Query::select()
            .column(finding::Column::ServiceRecordId)
            .from(finding::Entity)
            .to_owned();
        if let Some(code) = filter.finding {
            findings.and_where(finding::Column::Code.eq(code.as_str()));
        }
        if let Some(severity) = filter.severity {
            findings.and_where(finding::Column::Severity.eq(severity.as_str()));
        }
        condition = condition.add(service_record::Column::Id.in_subquery(findings));
    }
    condition
}

/// All records matching `condition`, oldest first (the bulk validation's candidates), locked
/// until the transaction ends: a reviewer deciding one of them meanwhile waits, then finds a
/// new version (412), so two reviewers never both win. (SQLite's single writer orders them
/// the same way.)
pub async fn matching(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> Result<Vec<service_record::Model>, DbErr> {
    service_record::Entity::find()
        .filter(condition)
        .order_by_asc(service_record::Column::StartedAt)
        .order_by_asc(service_record::Column::Id)
        .lock_exclusive()
        .all(db)
        .await
}

/// The findings of these records with what reviewers did about them.
pub async fn finding_states(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<FindingState>>, DbErr> {
    let mut dealt: HashMap<(Uuid, String), AcknowledgementKind> = HashMap::new();
    let mut states: HashMap<Uuid, Vec<FindingState>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for a in finding_acknowledgement::Entity::find()
            .filter(finding_acknowledgement::Column::ServiceRecordId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            if let Some(kind) = AcknowledgementKind::parse(&a.kind) {
                dealt.insert((a.service_record_id, a.code), kind);
            }
        }
        for f in finding::Entity::find()
            .filter(finding::Column::ServiceRecordId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            let (Some(code), Some(severity)) =
                (RuleCode::parse(&f.code), Severity::parse(&f.severity))
            else {
                continue;
            };
            let dealt_with = dealt.get(&(f.service_record_id, f.code)).copied();
            states
                .entry(f.service_record_id)
                .or_default()
                .push(FindingState {
                    code,
                    severity,
                    dealt_with,
                });
        }
    }
    Ok(states)
}

/// The months closed by an approved statement: (municipality, provider, `YYYY-MM`).
pub type LockedMonths = HashSet<(Uuid, Uuid, String)>;

/// The months of these municipalities closed by an approved statement.
pub async fn locked_months(
    db: &impl ConnectionTrait,
    municipalities: &[Uuid],
) -> Result<LockedMonths, DbErr> {
    let mut locked = HashSet::new();
    for chunk in municipalities.chunks(CHUNK) {
        locked.extend(
            statement::Entity::find()
                .filter(statement::Column::MunicipalityId.is_in(chunk.iter().copied()))
                // Whatever their status, as in `statements::ensure_unlocked`: an approval in
                // flight waits for this change.
                .lock_shared()
                .all(db)
                .await?
                .into_iter()
                .filter(|s| s.status == StatementStatus::Approved.as_str())
                .map(|s| (s.municipality_id, s.provider_id, s.month)),
        );
    }
    Ok(locked)
}

/// Whether a record of a plan of `municipality_id` and `provider_id` starting at `started_at`
/// is locked.
pub fn is_locked(
    locked: &LockedMonths,
    municipality_id: Uuid,
    provider_id: Uuid,
    started_at: DateTime<Utc>,
) -> bool {
    locked.contains(&(
        municipality_id,
        provider_id,
        Month::of(started_at).to_string(),
    ))
}

/// Validates these records in one statement each chunk, bumping their versions. The caller
/// checked them inside the same transaction.
pub async fn validate_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    reviewer: Uuid,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    for chunk in ids.chunks(CHUNK) {
        service_record::Entity::update_many()
            .col_expr(
                service_record::Column::Status,
                Expr::value(RecordStatus::Validated.as_str()),
            )
            .col_expr(
                service_record::Column::ReviewReasonCode,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                service_record::Column::ReviewNote,
                Expr::value(note.map(str::to_owned)),
            )
            .col_expr(service_record::Column::ReviewedBy, Expr::value(reviewer))
            .col_expr(service_record::Column::ReviewedAt, Expr::value(at))
            .col_expr(service_record::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                service_record::Column::Version,
                Expr::col(service_record::Column::Version).add(1),
            )
            .filter(service_record::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// One step of a record's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry<'a> {
    pub record: Uuid,
    pub action: &'static str,
    pub status: RecordStatus,
    pub reason_code: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Appends steps to records' histories, taken by `actor`.
pub async fn add_history(
    db: &impl ConnectionTrait,
    actor: &Actor,
    entries: &[HistoryEntry<'_>],
) -> Result<(), DbErr> {
    insert_history(db, actor.user_id, actor.client_id, entries).await
}

/// A step many records take at once (a bulk validation).
#[derive(Debug, Clone, Copy)]
pub struct SharedStep<'a> {
    pub action: &'static str,
    pub status: RecordStatus,
    pub reason_code: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Appends the same step, taken by `actor`, to the histories of many records, a few hundred
/// rows a statement ([`super::insert_pairs`]).
pub async fn add_history_each(
    db: &impl ConnectionTrait,
    actor: &Actor,
    step: SharedStep<'_>,
    records: &[Uuid],
) -> Result<(), DbErr> {
    use service_record_event::Column;
    let pairs: Vec<(Uuid, Uuid)> = records.iter().map(|r| (Uuid::now_v7(), *r)).collect();
    super::insert_pairs::<service_record_event::Entity>(
        db,
        [Column::Id, Column::ServiceRecordId],
        &[
            (Column::OccurredAt, step.at.into()),
            (Column::Action, step.action.to_owned().into()),
            (Column::ActorUserId, actor.user_id.into()),
            (Column::ActorClientId, actor.client_id.into()),
            (Column::Status, step.status.as_str().to_owned().into()),
            (
                Column::ReasonCode,
                step.reason_code.map(str::to_owned).into(),
            ),
            (Column::Note, step.note.map(str::to_owned).into()),
        ],
        &pairs,
    )
    .await
}

/// Appends the steps an operator's device took (records synced from a diary).
pub async fn add_device_history(
    db: &impl ConnectionTrait,
    operator_id: Uuid,
    entries: &[HistoryEntry<'_>],
) -> Result<(), DbErr> {
    insert_history(db, Some(operator_id), None, entries).await
}

async fn insert_history(
    db: &impl ConnectionTrait,
    user: Option<Uuid>,
    client: Option<Uuid>,
    entries: &[HistoryEntry<'_>],
) -> Result<(), DbErr> {
    let rows: Vec<service_record_event::ActiveModel> = entries
        .iter()
        .map(|e| service_record_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            service_record_id: Set(e.record),
            occurred_at: Set(e.at),
            action: Set(e.action.to_owned()),
            actor_user_id: Set(user),
            actor_client_id: Set(client),
            status: Set(e.status.as_str().to_owned()),
            reason_code: Set(e.reason_code.map(str::to_owned)),
            note: Set(e.note.map(str::to_owned)),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(CHUNK / 2).collect();
        service_record_event::Entity::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// A record's history, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    record: Uuid,
) -> Result<Vec<service_record_event::Model>, DbErr> {
    service_record_event::Entity::find()
        .filter(service_record_event::Column::ServiceRecordId.eq(record))
        .order_by_asc(service_record_event::Column::OccurredAt)
        .order_by_asc(service_record_event::Column::Id)
        .all(db)
        .await
}
