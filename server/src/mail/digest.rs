//! The social workers' daily digest: once a day, at `TACCUINO_MAIL_DIGEST_AT` Italian time,
//! each active social worker with records waiting for review on the plans they follow gets one
//! message with the count and a link.
//!
//! Each digest carries the dedupe key `daily_digest:<user>:<day>`, so a restart, a catch-up
//! run, `taccuino send-digest` or a second server instance on the same database never write a
//! second one for the same day. A server started after the day's time sends that day's
//! digests at once (late rather than never).
//!
//! The digest also says how many of those records have blocking automatic findings.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement},
};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{
    outbox::{self, MailKind, OutgoingMessage},
    templates,
};
use crate::{
    config::Config,
    db::entities::{care_plan, service_record, user},
    domain::{roles::Role, service_record::RecordStatus},
};

/// The longest single sleep of the scheduler: it re-reads the clock at least this often, so a
/// suspended machine or a clock change does not push the digest by hours.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Starts the scheduler: the digest of today now if `at` has passed, then every day at `at`.
pub fn spawn(db: DatabaseConnection, config: Arc<Config>, at: NaiveTime) -> JoinHandle<()> {
    tokio::spawn(async move {
        let now = Utc::now();
        let today = italian_today();
        let mut day = if now >= run_time(today, at) {
            today
        } else {
            today.pred_opt().unwrap_or(today)
        };
        // `day` is the last day whose time has come; it runs now (a no-op if already sent).
        loop {
            match enqueue_digests(&db, &config, day).await {
                Ok(0) => {}
                Ok(written) => tracing::info!(%day, written, "daily digests enqueued"),
                Err(e) => tracing::error!(%day, error = %e, "daily digests failed"),
            }
            day = day.succ_opt().unwrap_or(day);
            let when = run_time(day, at);
            loop {
                let left = when.signed_duration_since(Utc::now());
                let Ok(left) = left.to_std() else { break };
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(MAX_SLEEP)).await;
            }
        }
    })
}

/// Today's date in Italy, the calendar of the digests.
pub fn italian_today() -> NaiveDate {
    Utc::now().with_timezone(&Rome).date_naive()
}

/// Writes the digests of `day` (an Italian calendar day); returns how many were new.
pub async fn enqueue_digests(
    db: &DatabaseConnection,
    config: &Config,
    day: NaiveDate,
) -> Result<usize, DbErr> {
    if !config.mail.enabled() {
        return Ok(0);
    }
    let txn = db.begin().await?;
    let pending = pending_by_social_worker(&txn).await?;
    let blocking = pending_by_social_worker_blocking(&txn).await?;
    let workers = user::Entity::find()
        .filter(user::Column::Role.eq(Role::SocialWorker.as_str()))
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Id.is_in(pending.keys().copied()))
        .all(&txn)
        .await?;
    let mut written = 0;
    for worker in workers {
        let count = pending.get(&worker.id).copied().unwrap_or(0);
        if count == 0 {
            continue;
        }
        let message = OutgoingMessage {
            kind: MailKind::DailyDigest,
            recipient: worker.email.trim().to_lowercase(),
            content: templates::daily_digest(
                &config.public_url,
                day,
                count,
                blocking.get(&worker.id).copied().unwrap_or(0),
            ),
            dedupe_key: Some(format!("daily_digest:{}:{day}", worker.id)),
        };
        if outbox::enqueue(&txn, &message).await? {
            written += 1;
        }
    }
    txn.commit().await?;
    Ok(written)
}

/// Records waiting for review (`recorded` or `amended`) per social worker of their plan.
async fn pending_by_social_worker(
    conn: &impl ConnectionTrait,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    counts(conn, pending_query()).await
}

/// Of those, the records with at least one blocking finding.
async fn pending_by_social_worker_blocking(
    conn: &impl ConnectionTrait,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    let findings = Alias::new("findings");
    let mut query = pending_query();
    query.inner_join(
        findings.clone(),
        Expr::col((findings.clone(), Alias::new("service_record_id")))
            .equals((service_record::Entity, service_record::Column::Id))
            .and(Expr::col((findings, Alias::new("severity"))).eq("blocking")),
    );
    counts(conn, query).await
}

/// `SELECT social_worker_id, COUNT(DISTINCT record)` of the records waiting for review.
fn pending_query() -> SelectStatement {
    Query::select()
        .column((care_plan::Entity, care_plan::Column::SocialWorkerId))
        .expr_as(
            Func::count_distinct(Expr::col((
                service_record::Entity,
                service_record::Column::Id,
            ))),
            "pending",
        )
        .from(service_record::Entity)
        .inner_join(
            care_plan::Entity,
            Expr::col((care_plan::Entity, care_plan::Column::Id))
                .equals((service_record::Entity, service_record::Column::CarePlanId)),
        )
        .and_where(
            Expr::col((service_record::Entity, service_record::Column::Status)).is_in([
                RecordStatus::Recorded.as_str(),
                RecordStatus::Amended.as_str(),
            ]),
        )
        .group_by_col((care_plan::Entity, care_plan::Column::SocialWorkerId))
        .to_owned()
}

async fn counts(
    conn: &impl ConnectionTrait,
    query: SelectStatement,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    let mut pending = HashMap::new();
    for row in conn.query_all(&query).await? {
        let worker: Uuid = row.try_get("", "social_worker_id")?;
        let count: i64 = row.try_get("", "pending")?;
        pending.insert(worker, u64::try_from(count).unwrap_or(0));
    }
    Ok(pending)
}

/// The instant `at` (Italian time) happens on `day`. A time skipped by the spring DST change
/// happens an hour later; a repeated one, the first time.
fn run_time(day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(at);
    Rome.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            Rome.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::notify::tests::{config, demo_db, outbox};

    #[test]
    fn the_run_time_is_italian_time_across_daylight_saving() {
        let at = NaiveTime::from_hms_opt(7, 30, 0).expect("time");
        let winter = NaiveDate::from_ymd_opt(2026, 1, 15).expect("date");
        let summer = NaiveDate::from_ymd_opt(2026, 7, 15).expect("date");
        assert_eq!(
            run_time(winter, at).to_rfc3339(),
            "2026-01-15T06:30:00+00:00"
        );
        assert_eq!(
            run_time(summer, at).to_rfc3339(),
            "2026-07-15T05:30:00+00:00"
        );
        // 02:30 does not exist on the last Sunday of March: it runs at 03:30 CEST.
        let gap = NaiveTime::from_hms_opt(2, 30, 0).expect("time");
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).expect("date");
        assert_eq!(
            run_time(spring, gap).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
    }

    #[tokio::test]
    async fn one_digest_per_social_worker_with_pending_work_per_day() {
        let db = demo_db().await;
        let config = config("folder");
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let expected = pending_by_social_worker(&db).await.expect("counts");
        assert!(!expected.is_empty(), "the demo data has records to review");

        let written = enqueue_digests(&db, &config, day).await.expect("digests");
        assert_eq!(written, expected.len());
        let rows = outbox(&db).await;
        assert_eq!(rows.len(), expected.len());
        for row in &rows {
            let worker = user::Entity::find()
                .filter(user::Column::Email.eq(row.recipient.clone()))
                .one(&db)
                .await
                .expect("query")
                .expect("a user");
            assert_eq!(worker.role, "social_worker");
            let count = expected[&worker.id];
            assert!(
                row.body_text.contains(&format!("{count} prestazion")),
                "{}",
                row.body_text
            );
            assert_eq!(
                row.dedupe_key.as_deref(),
                Some(format!("daily_digest:{}:2026-11-23", worker.id).as_str())
            );
        }

        // A second run the same day (a restart, another instance) writes nothing.
        assert_eq!(enqueue_digests(&db, &config, day).await.expect("again"), 0);
        assert_eq!(outbox(&db).await.len(), rows.len());
        // The next day has its own digest.
        let next = day.succ_opt().expect("date");
        assert_eq!(
            enqueue_digests(&db, &config, next).await.expect("next day"),
            expected.len()
        );
    }
}
