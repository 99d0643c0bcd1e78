//! Writing a generated [`Dataset`] into a migrated database, as rows the server would have
//! written: a data loader (not timed), not a path the server has. Everything goes in one
//! transaction, in multi-row `INSERT`s sized to stay under SQLite's 32,766 bound parameters.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};
use taccuino_server::{
    db::entities::{
        beneficiary, care_plan, care_plan_operator, care_plan_status_change, organization,
        planned_service, service_record, service_type, user,
    },
    domain::{
        rules::evaluate::RecordRow,
        service_record::{MissedReason, RecordStatus},
    },
};
use uuid::Uuid;

use super::generator::{Dataset, SERVICE_TYPES};

/// Bound parameters per `INSERT`: below SQLite's limit (32,766) and PostgreSQL's (65,535).
const PARAMETERS: usize = 30_000;

/// Inserts `rows` in statements of at most [`PARAMETERS`] parameters (`columns` per row),
/// building each statement's rows only when it is sent, so a million rows never sit in memory
/// as active models at once.
async fn insert_all<E, I>(db: &impl ConnectionTrait, columns: usize, rows: I) -> Result<(), DbErr>
where
    E: EntityTrait,
    I: IntoIterator<Item = E::ActiveModel>,
{
    let per_statement = (PARAMETERS / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(per_statement).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Writes the whole dataset in one transaction.
pub async fn dataset(db: &DatabaseConnection, data: &Dataset) -> Result<(), DbErr> {
    let created = civil_at(data.start - Duration::days(90));
    let txn = db.begin().await?;
    insert_all::<organization::Entity, _>(
        &txn,
        9,
        data.municipalities
            .iter()
            .enumerate()
            .map(|(i, id)| organization(*id, "municipality", format!("Comune {i}"), created))
            .chain(
                data.providers.iter().enumerate().map(|(i, id)| {
                    organization(*id, "provider", format!("Cooperativa {i}"), created)
                }),
            ),
    )
    .await?;
    let social_workers = data.social_workers.iter().enumerate().map(|(i, id)| {
        person(
            *id,
            data.municipalities[i],
            format!("assistente{i}@bench.example"),
            "social_worker",
            created,
        )
    });
    let operators = data.operators.iter().enumerate().map(|(i, o)| {
        person(
            o.id,
            data.providers[o.provider],
            format!("operatore{i}@bench.example"),
            "field_operator",
            created,
        )
    });
    insert_all::<user::Entity, _>(&txn, 11, social_workers.chain(operators)).await?;
    insert_all::<beneficiary::Entity, _>(
        &txn,
        19,
        data.plans
            .iter()
            .enumerate()
            .map(|(i, p)| beneficiary::ActiveModel {
                id: Set(p.beneficiary_id),
                municipality_id: Set(data.municipalities[p.municipality]),
                pseudonym: Set(format!("BN{i:08}")),
                tax_code: Set(format!("BNCH{i:012}")),
                given_name: Set("Persona".to_owned()),
                family_name: Set(format!("Assistita {i}")),
                birth_date: Set(NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()),
                sex: Set("F".to_owned()),
                residence_municipality: Set("Melegnano".to_owned()),
                citizenship: Set("IT".to_owned()),
                address: Set(p.home.map(|_| format!("Via Benchmark {i}, Melegnano"))),
                address_latitude: Set(p.home.map(|h| h.0)),
                address_longitude: Set(p.home.map(|h| h.1)),
                phone: Set(None),
                access_notes: Set(None),
                status: Set("active".to_owned()),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(created),
            }),
    )
    .await?;
    insert_all::<service_type::Entity, _>(
        &txn,
        10,
        data.service_types
            .iter()
            .map(|t| service_type::ActiveModel {
                id: Set(t.id),
                municipality_id: Set(data.municipalities[t.municipality]),
                code: Set(t.code.to_owned()),
                name: Set(t.code.to_owned()),
                unit: Set(t.unit.as_str().to_owned()),
                tariff_cents: Set(2_000),
                active: Set(true),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(created),
            }),
    )
    .await?;
    insert_all::<care_plan::Entity, _>(
        &txn,
        13,
        data.plans
            .iter()
            .enumerate()
            .map(|(i, p)| care_plan::ActiveModel {
                id: Set(p.id),
                municipality_id: Set(data.municipalities[p.municipality]),
                beneficiary_id: Set(p.beneficiary_id),
                provider_id: Set(data.providers[p.provider]),
                social_worker_id: Set(data.social_workers[p.municipality]),
                title: Set(format!("Progetto {i}")),
                status: Set("active".to_owned()),
                status_reason: Set(None),
                valid_from: Set(p.valid_from),
                valid_to: Set(p.valid_to),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(created),
            }),
    )
    .await?;
    insert_all::<planned_service::Entity, _>(
        &txn,
        8,
        data.plans.iter().flat_map(|p| {
            p.planned.iter().map(|s| planned_service::ActiveModel {
                id: Set(s.id),
                care_plan_id: Set(p.id),
                service_type_id: Set(s.service_type_id),
                allowance_milli: Set(s.allowance_milli),
                allowance_period: Set(SERVICE_TYPES[s.kind].2.as_str().to_owned()),
                valid_from: Set(None),
                valid_to: Set(None),
                notes: Set(None),
            })
        }),
    )
    .await?;
    insert_all::<care_plan_operator::Entity, _>(
        &txn,
        3,
        data.plans.iter().flat_map(|p| {
            p.operators.iter().map(|o| care_plan_operator::ActiveModel {
                care_plan_id: Set(p.id),
                operator_id: Set(*o),
                added_at: Set(created),
            })
        }),
    )
    .await?;
    // A suspended plan's steps: active since its start, suspended, active again. The context
    // loader turns them into the interruption the generator gives the engine.
    insert_all::<care_plan_status_change::Entity, _>(
        &txn,
        4,
        data.plans.iter().flat_map(|p| {
            p.suspension
                .map(|(from, until)| {
                    [
                        ("active", civil_at(p.valid_from)),
                        ("suspended", from),
                        ("active", until),
                    ]
                })
                .into_iter()
                .flatten()
                .map(|(status, at)| care_plan_status_change::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    care_plan_id: Set(p.id),
                    status: Set(status.to_owned()),
                    changed_at: Set(at),
                })
        }),
    )
    .await?;
    records(&txn, &data.records, data.now).await?;
    txn.commit().await
}

/// Inserts service records (as the generator made them).
pub async fn records(
    db: &impl ConnectionTrait,
    rows: &[RecordRow],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert_all::<service_record::Entity, _>(db, 27, rows.iter().map(|r| record(r, now))).await
}

/// A service record as the server stores it.
pub fn record(r: &RecordRow, now: DateTime<Utc>) -> service_record::ActiveModel {
    let reviewed = matches!(r.status, RecordStatus::Validated | RecordStatus::Rejected);
    service_record::ActiveModel {
        id: Set(r.id),
        care_plan_id: Set(r.care_plan_id),
        service_type_id: Set(r.service_type_id),
        operator_id: Set(r.operator_id),
        started_at: Set(r.started_at),
        ended_at: Set(r.ended_at),
        quantity_milli: Set(r.quantity_milli),
        km_milli: Set(r.km_milli),
        origin: Set(r.has_origin.then(|| "Via Roma 1, Melegnano".to_owned())),
        destination: Set(r.has_destination.then(|| "Ospedale Predabissi".to_owned())),
        latitude: Set(r.position.map(|p| p.0)),
        longitude: Set(r.position.map(|p| p.1)),
        notes: Set(None),
        missed: Set(r.missed),
        missed_reason: Set(r.missed_reason.map(|m: MissedReason| m.as_str().to_owned())),
        status: Set(r.status.as_str().to_owned()),
        review_reason_code: Set((r.status == RecordStatus::Rejected).then(|| "other".to_owned())),
        review_note: Set(None),
        reviewed_by: NotSet,
        reviewed_at: Set(reviewed.then_some(now)),
        source: Set("api".to_owned()),
        received_at: Set(r.received_at),
        version: Set(1),
        created_at: Set(r.received_at),
        updated_at: Set(r.received_at),
    }
}

fn civil_at(day: NaiveDate) -> DateTime<Utc> {
    taccuino_server::domain::civil_time::start_of_day(day)
}

fn organization(
    id: Uuid,
    kind: &str,
    name: String,
    at: DateTime<Utc>,
) -> organization::ActiveModel {
    organization::ActiveModel {
        id: Set(id),
        kind: Set(kind.to_owned()),
        name: Set(name),
        tax_code: Set(None),
        email: Set(None),
        active: Set(true),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// A user who cannot log in (the hash is not a hash): the loader's people only own rows.
pub fn person(
    id: Uuid,
    organization_id: Uuid,
    email: String,
    role: &str,
    at: DateTime<Utc>,
) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(id),
        organization_id: Set(organization_id),
        email: Set(email),
        given_name: Set("Bench".to_owned()),
        family_name: Set(role.to_owned()),
        role: Set(role.to_owned()),
        password_hash: Set("!".to_owned()),
        active: Set(true),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    }
}
