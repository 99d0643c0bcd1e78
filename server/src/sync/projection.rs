//! The SQL projection of diaries: every record of a diary becomes a row of `service_records`.
//!
//! Idempotent: a record whose row already states the same content writes nothing, so
//! replaying a change, or projecting a diary twice, changes nothing. The operator and plan of
//! a row come from the document registry (who owns the diary), never from a field a device
//! wrote. What the server owns in a row (review outcome, first reception time, source) is kept
//! when a record changes; a reviewed record that changes goes back to review as `amended`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use taccuino_sync::schema::DiaryView;
use uuid::Uuid;

use super::error::SyncError;
use super::mapping::content_of;
use super::registry::DocumentEntry;
use crate::db::entities::{care_plan, service_record, service_type};
use crate::db::findings::store;
use crate::db::record_columns::RecordColumns;
use crate::db::reviews::{self, HistoryEntry};
use crate::domain::FieldError;
use crate::domain::service_record::{RecordSource, RecordStatus, ServiceUnit, status_after_edit};
use crate::findings::{self, Span};

/// What one projection wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Projected {
    /// New rows.
    pub inserted: usize,
    /// Rows whose content changed.
    pub updated: usize,
    /// Rows removed by a tombstone (or, in a rebuild, absent from the diary).
    pub deleted: usize,
    /// Records that cannot become rows (unknown service type, impossible values); they stay
    /// in the document, and are logged.
    pub skipped: usize,
    /// Reviewed records that changed and went back to review: their plan documents must say
    /// so too.
    pub amended: Vec<Uuid>,
}

impl std::ops::AddAssign for Projected {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.skipped += other.skipped;
        self.amended.extend(other.amended);
    }
}

/// Why a diary is projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A change just arrived: a reviewed record that changed was amended and goes back to
    /// review; rows the diary does not hold are left alone.
    Live,
    /// `rebuild-projections`: the documents are the source of truth, so rows the diary does
    /// not hold are removed, and a row that differs is repaired without touching its review.
    Rebuild,
}

/// Projects diary `entry` (read as `view`) into `service_records`, inside the caller's
/// transaction. New rows get `source` and `received_at = now`.
pub async fn project_diary(
    db: &impl ConnectionTrait,
    entry: &DocumentEntry,
    view: &DiaryView,
    source: RecordSource,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Projected, SyncError> {
    project_diaries(db, &[(entry, view)], source, now, mode).await
}

/// Projects several diaries in the caller's transaction with a handful of queries in all
/// (plans, service types, existing rows, inserts), not a handful per diary: after a storm of
/// reconnections the projector gets hundreds at once.
pub async fn project_diaries(
    db: &impl ConnectionTrait,
    diaries: &[(&DocumentEntry, &DiaryView)],
    source: RecordSource,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Projected, SyncError> {
    let mut outcome = Projected::default();
    let plan_ids: Vec<Uuid> = diaries.iter().map(|(e, _)| e.care_plan_id).collect();
    let plans: HashMap<Uuid, care_plan::Model> = care_plan::Entity::find()
        .filter(care_plan::Column::Id.is_in(plan_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let municipalities: Vec<Uuid> = plans.values().map(|p| p.municipality_id).collect();
    // A month in an approved statement keeps its rows as approved (docs/statements.md).
    let locked = reviews::locked_months(db, &municipalities).await?;
    let is_locked = |plan: &care_plan::Model, at: DateTime<Utc>| {
        reviews::is_locked(&locked, plan.municipality_id, plan.provider_id, at)
    };
    // Service type -> (municipality, unit).
    let units: HashMap<Uuid, (Uuid, ServiceUnit)> = service_type::Entity::find()
        .filter(service_type::Column::MunicipalityId.is_in(municipalities))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| Some((t.id, (t.municipality_id, ServiceUnit::parse(&t.unit)?))))
        .collect();
    let ids: Vec<Uuid> = diaries
        .iter()
        .flat_map(|(_, view)| view.records.iter().map(|r| r.id))
        .collect();
    let mut existing: HashMap<Uuid, service_record::Model> = HashMap::new();
    for ids in ids.chunks(500) {
        existing.extend(
            service_record::Entity::find()
                .filter(service_record::Column::Id.is_in(ids.iter().copied()))
                .all(db)
                .await?
                .into_iter()
                .map(|m| (m.id, m)),
        );
    }
    let mut inserts = Vec::new();
    // For the findings: where changed and removed records were, and which changed.
    let mut before: Vec<Span> = Vec::new();
    let mut changed: Vec<Uuid> = Vec::new();
    let mut corrected: Vec<Uuid> = Vec::new();
    // The records' histories: (operator, record, step, status after it).
    let mut steps: Vec<(Uuid, Uuid, &'static str, RecordStatus)> = Vec::new();
    for (entry, view) in diaries {
        let (Some(operator_id), Some(plan)) = (entry.operator_id, plans.get(&entry.care_plan_id))
        else {
            continue;
        };
        for record in &view.records {
            let row = existing.remove(&record.id);
            // A record id already used by another operator's or plan's row is not this
            // diary's to change: a device cannot take over a row by reusing its id.
            if row
                .as_ref()
                .is_some_and(|m| m.operator_id != operator_id || m.care_plan_id != plan.id)
            {
                tracing::warn!(document = %entry.id, record = %record.id, "record id belongs to another diary; not projected");
                outcome.skipped += 1;
                continue;
            }
            if record.deleted {
                if let Some(row) = row {
                    if is_locked(plan, row.started_at) {
                        tracing::warn!(document = %entry.id, record = %record.id, "record in a locked month; its removal is not projected");
                        outcome.skipped += 1;
                        continue;
                    }
                    before.push(Span::of(&row));
                    service_record::Entity::delete_by_id(row.id)
                        .exec(db)
                        .await?;
                    outcome.deleted += 1;
                }
                continue;
            }
            let checked = content_of(&record.fields).and_then(|content| {
                let unit = units
                    .get(&content.service_type_id)
                    .filter(|(municipality, _)| *municipality == plan.municipality_id)
                    .map(|(_, unit)| *unit)
                    .ok_or_else(|| {
                        FieldError::new("service_type_id", "unknown in this municipality")
                    })?;
                let mut errors = Vec::new();
                match content.check(unit, &mut errors) {
                    Some(quantity) => Ok((content, quantity)),
                    None => Err(errors
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| FieldError::new("record", "not a valid record"))),
                }
            });
            let (content, quantity) = match checked {
                Ok(ok) => ok,
                Err(problem) => {
                    tracing::warn!(document = %entry.id, record = %record.id, field = %problem.field, detail = %problem.detail, "diary record not projected");
                    outcome.skipped += 1;
                    continue;
                }
            };
            let month_locked = row.as_ref().is_some_and(|r| is_locked(plan, r.started_at))
                || is_locked(plan, content.started_at);
            match row {
                Some(row) if content.matches(&row, quantity) => {}
                _ if month_locked => {
                    tracing::warn!(document = %entry.id, record = %record.id, "record in a locked month; not projected");
                    outcome.skipped += 1;
                }
                Some(row) => {
                    before.push(Span::of(&row));
                    changed.push(row.id);
                    corrected.push(row.id);
                    let status = RecordStatus::parse(&row.status).unwrap_or(RecordStatus::Recorded);
                    let (row_id, version) = (row.id, row.version);
                    let mut changes = row.into_active_model();
                    content.apply(quantity, &mut changes);
                    let mut status_after = status;
                    if mode == Mode::Live && status_after_edit(status) != status {
                        status_after = status_after_edit(status);
                        changes.status = Set(status_after.as_str().to_owned());
                        outcome.amended.push(row_id);
                    }
                    steps.push((operator_id, row_id, "corrected", status_after));
                    changes.version = Set(version + 1);
                    changes.updated_at = Set(now);
                    changes.update(db).await?;
                    outcome.updated += 1;
                }
                None => {
                    let mut row = service_record::ActiveModel {
                        id: Set(record.id),
                        care_plan_id: Set(plan.id),
                        operator_id: Set(operator_id),
                        status: Set(RecordStatus::Recorded.as_str().to_owned()),
                        review_reason_code: Set(None),
                        review_note: Set(None),
                        reviewed_by: Set(None),
                        reviewed_at: Set(None),
                        source: Set(source.as_str().to_owned()),
                        received_at: Set(now),
                        version: Set(1),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    };
                    content.apply(quantity, &mut row);
                    changed.push(record.id);
                    steps.push((operator_id, record.id, "synced", RecordStatus::Recorded));
                    inserts.push(row);
                }
            }
        }
        if mode == Mode::Rebuild {
            let kept: std::collections::HashSet<Uuid> = view
                .records
                .iter()
                .filter(|r| !r.deleted)
                .map(|r| r.id)
                .collect();
            let mut orphaned = service_record::Entity::find()
                .filter(service_record::Column::CarePlanId.eq(plan.id))
                .filter(service_record::Column::OperatorId.eq(operator_id))
                .all(db)
                .await?;
            orphaned.retain(|m| !kept.contains(&m.id) && !is_locked(plan, m.started_at));
            for row in orphaned {
                before.push(Span::of(&row));
                service_record::Entity::delete_by_id(row.id)
                    .exec(db)
                    .await?;
                outcome.deleted += 1;
            }
        }
    }
    outcome.inserted = inserts.len();
    for batch in chunked(inserts, 200) {
        service_record::Entity::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
    // Changed content drops what reviewers acknowledged about the old one (new rows have
    // none); then the findings follow the rows in the same transaction.
    store::forget_acknowledgements(db, &corrected).await?;
    let mut by_operator: HashMap<Uuid, Vec<HistoryEntry>> = HashMap::new();
    for (operator, record, action, status) in steps {
        by_operator.entry(operator).or_default().push(HistoryEntry {
            record,
            action,
            status,
            reason_code: None,
            note: None,
            at: now,
        });
    }
    for (operator, entries) in by_operator {
        reviews::add_device_history(db, operator, &entries).await?;
    }
    findings::after_records_changed(db, &changed, &before, now).await?;
    Ok(outcome)
}

fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        out.push(items.by_ref().take(size).collect());
    }
    out
}
