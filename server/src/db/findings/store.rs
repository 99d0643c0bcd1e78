//! Where findings and acknowledgements are kept.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, sea_query::Query,
};
use uuid::Uuid;

use crate::{
    db::entities::{finding, finding_acknowledgement},
    domain::rules::{Finding, RuleCode, evaluate::Targets},
};

const CHUNK: usize = 500;

/// Replaces the findings of the targets, family by family, with `found` (which holds the
/// targets' new findings; a target missing from it has none).
pub async fn replace(
    db: &impl ConnectionTrait,
    targets: &Targets,
    found: &HashMap<Uuid, Vec<Finding>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    match targets {
        Targets::All => {
            let ids: Vec<Uuid> = found.keys().copied().collect();
            for chunk in ids.chunks(CHUNK) {
                finding::Entity::delete_many()
                    .filter(finding::Column::ServiceRecordId.is_in(chunk.iter().copied()))
                    .exec(db)
                    .await?;
            }
        }
        Targets::Some(families) => {
            // The targets' findings by record (its index), the family filter here, and one
            // `DELETE` by primary key: two statements whatever the families. (A `DELETE ..
            // WHERE record IN (..) AND code IN (..)` per family made SQLite, without
            // statistics, pick the index on the code and scan every finding of those codes.)
            let mut ids: Vec<Uuid> = families.values().flatten().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            let mut stale = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let select = Query::select()
                    .columns([
                        finding::Column::Id,
                        finding::Column::ServiceRecordId,
                        finding::Column::Code,
                    ])
                    .from(finding::Entity)
                    .and_where(finding::Column::ServiceRecordId.is_in(chunk.iter().copied()))
                    .to_owned();
                for row in db.query_all(&select).await? {
                    let id: Uuid = row.try_get_by_index(0)?;
                    let record: Uuid = row.try_get_by_index(1)?;
                    let code: String = row.try_get_by_index(2)?;
                    // A code this release does not know is left alone, as before.
                    let Some(family) = RuleCode::parse(&code).map(|c| c.family()) else {
                        continue;
                    };
                    if families.get(&family).is_some_and(|t| t.contains(&record)) {
                        stale.push(id);
                    }
                }
            }
            for chunk in stale.chunks(CHUNK) {
                finding::Entity::delete_many()
                    .filter(finding::Column::Id.is_in(chunk.iter().copied()))
                    .exec(db)
                    .await?;
            }
        }
    }
    insert(db, found, now).await
}

/// Stores `found` (after every finding was deleted: a full recheck).
pub async fn insert(
    db: &impl ConnectionTrait,
    found: &HashMap<Uuid, Vec<Finding>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows: Vec<finding::ActiveModel> = found
        .iter()
        .flat_map(|(record, list)| list.iter().map(move |f| active(*record, f, now)))
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // 13 parameters a row: 400 rows (5,200 parameters) stay far below SQLite's and
        // PostgreSQL's limits, and a full recheck's ~27,000 findings take 70 statements.
        let batch: Vec<_> = rows.by_ref().take(400).collect();
        finding::Entity::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn active(record: Uuid, f: &Finding, now: DateTime<Utc>) -> finding::ActiveModel {
    finding::ActiveModel {
        id: Set(Uuid::now_v7()),
        service_record_id: Set(record),
        code: Set(f.code.as_str().to_owned()),
        severity: Set(f.severity.as_str().to_owned()),
        message_it: Set(f.message_it.clone()),
        message_en: Set(f.message_en.clone()),
        measured_value: Set(f.measured.map(|m| m.value)),
        measured_limit: Set(f.measured.map(|m| m.limit)),
        measured_unit: Set(f.measured.map(|m| m.unit.to_owned())),
        related_record_id: Set(f.related_record),
        planned_service_id: Set(f.planned_service),
        period: Set(f.period.clone()),
        computed_at: Set(now),
    }
}

/// The stored findings and acknowledgements of these records.
pub async fn of_records(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<
    (
        HashMap<Uuid, Vec<finding::Model>>,
        HashMap<Uuid, Vec<finding_acknowledgement::Model>>,
    ),
    DbErr,
> {
    let mut findings: HashMap<Uuid, Vec<finding::Model>> = HashMap::new();
    let mut acknowledgements: HashMap<Uuid, Vec<finding_acknowledgement::Model>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for f in finding::Entity::find()
            .filter(finding::Column::ServiceRecordId.is_in(chunk.iter().copied()))
            .order_by_asc(finding::Column::Id)
            .all(db)
            .await?
        {
            findings.entry(f.service_record_id).or_default().push(f);
        }
        for a in finding_acknowledgement::Entity::find()
            .filter(finding_acknowledgement::Column::ServiceRecordId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            acknowledgements
                .entry(a.service_record_id)
                .or_default()
                .push(a);
        }
    }
    Ok((findings, acknowledgements))
}

/// A reviewer's acknowledgement (a warning) or override (a blocking finding).
#[derive(Debug, Clone)]
pub struct Acknowledgement<'a> {
    pub record: Uuid,
    pub code: RuleCode,
    pub kind: &'static str,
    pub reason: &'a str,
    pub by: Uuid,
    pub at: DateTime<Utc>,
}

/// Stores an acknowledgement, replacing an earlier one of the same finding.
pub async fn acknowledge(db: &impl ConnectionTrait, ack: Acknowledgement<'_>) -> Result<(), DbErr> {
    finding_acknowledgement::Entity::delete_many()
        .filter(finding_acknowledgement::Column::ServiceRecordId.eq(ack.record))
        .filter(finding_acknowledgement::Column::Code.eq(ack.code.as_str()))
        .exec(db)
        .await?;
    finding_acknowledgement::ActiveModel {
        id: Set(Uuid::now_v7()),
        service_record_id: Set(ack.record),
        code: Set(ack.code.as_str().to_owned()),
        kind: Set(ack.kind.to_owned()),
        reason: Set(ack.reason.to_owned()),
        acknowledged_by: Set(ack.by),
        acknowledged_at: Set(ack.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Forgets the acknowledgements of records whose content changed: what was judged is gone.
pub async fn forget_acknowledgements(
    db: &impl ConnectionTrait,
    records: &[Uuid],
) -> Result<(), DbErr> {
    for chunk in records.chunks(CHUNK) {
        finding_acknowledgement::Entity::delete_many()
            .filter(finding_acknowledgement::Column::ServiceRecordId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}
