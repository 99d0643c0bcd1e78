//! Issue 6's bulk validation: the real server (`Application::build` in demo mode, on port 0,
//! in this process), 10,000 pending records of the demo municipality's plans with one provider,
//! and one timed `POST /api/v1/reviews/bulk-validate` as the demo social worker.
//!
//! The records go to plans of their own (100 plans, one operator each, 100 visits of 30-120
//! minutes in a 30-day window older than the demo's month), so the filter (provider and
//! window) matches them and nothing else. 50 of them are copies of another one five minutes
//! later: 100 records with a blocking `likely_duplicate`, which the validation must skip.

use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};
use taccuino_server::{
    app::Application,
    config::Config,
    db::entities::{
        beneficiary, care_plan, care_plan_operator, organization, planned_service, service_record,
        service_type, user,
    },
    domain::{
        civil_time,
        rules::evaluate::RecordRow,
        service_record::{RecordStatus, ServiceUnit},
        values::MILLI,
    },
    findings,
};
use uuid::Uuid;

use super::{
    generator::Rng,
    load::{self, person},
};

/// Plans (and operators) the bulk validation's records belong to.
const PLANS: usize = 100;
/// Duplicate pairs planted among the records: 2 blocked records each.
const DUPLICATE_PAIRS: usize = 50;

/// The server and what the rounds need to know about the demo data.
#[derive(Debug)]
pub struct Review {
    api: String,
    client: reqwest::Client,
    token: String,
    db: DatabaseConnection,
    provider_id: Uuid,
    /// (plan, its operator, the SAD service type) for each of our plans.
    plans: Vec<(Uuid, Uuid, Uuid)>,
    _dir: TempDir,
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub records: usize,
    pub validated: usize,
    pub skipped: usize,
    /// The HTTP call, request to parsed answer.
    pub elapsed: StdDuration,
    /// Setting up the round (inserting and computing findings), not timed in the result.
    pub setup: StdDuration,
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Review {
    /// Starts the server on a fresh SQLite file (or `database_url`), logs the social worker
    /// in, and creates the plans and operators the rounds use.
    pub async fn start(database_url: Option<String>) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("findings-bench-review-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let dir = TempDir(dir);
        let url = database_url.unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", dir.0.join("taccuino.db").display())
        });
        let config = Config::from_lookup(true, |name| {
            let value = match name {
                "TACCUINO_BIND" => "127.0.0.1:0",
                "DATABASE_URL" => &url,
                "TACCUINO_RATE_LIMIT_PER_MINUTE" => "100000",
                "TACCUINO_RATE_LIMIT_BURST" => "100000",
                "TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE" => "1000",
                "TACCUINO_ACCESS_TOKEN_TTL_SECONDS" => "3600",
                "TACCUINO_MAIL_TRANSPORT" => "off",
                _ => return None,
            };
            Some(value.to_owned())
        })?;
        let app = Application::build(config).await?;
        let api = format!("http://127.0.0.1:{}/api/v1", app.port());
        let db = app.db();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().no_proxy().build()?;
        let login: Value = client
            .post(format!("{api}/auth/login"))
            .json(&json!({
                "email": "assistente@example.org",
                "password": taccuino_server::demo::DEMO_PASSWORD,
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .context("no access_token in the login answer")?
            .to_owned();
        let (provider_id, plans) = setup_plans(&db).await?;
        Ok(Self {
            api,
            client,
            token,
            db,
            provider_id,
            plans,
            _dir: dir,
        })
    }

    /// One round: 10,000 new pending records in a window of their own (round `round`), their
    /// findings, then the timed bulk validation and the check of what it changed.
    pub async fn round(&self, round: usize, records: usize) -> anyhow::Result<Outcome> {
        let setup = Instant::now();
        let today = Utc::now().date_naive();
        let window_start = today - Duration::days(75 + 35 * round as i64);
        let from = civil_time::start_of_day(window_start);
        let to = civil_time::start_of_day(window_start + Duration::days(32));
        let rows = self.records(round, records, window_start)?;
        let blocked: Vec<Uuid> = rows[rows.len() - 2 * DUPLICATE_PAIRS..]
            .iter()
            .map(|r| r.id)
            .collect();
        let now = Utc::now();
        let txn = self.db.begin().await?;
        load::records(&txn, &rows, now).await?;
        txn.commit().await?;
        let txn = self.db.begin().await?;
        findings::recheck_all(&txn, now).await?;
        txn.commit().await?;
        let validated_before = validated_count(&self.db).await?;
        let setup = setup.elapsed();

        let started = Instant::now();
        let answer: Value = self
            .client
            .post(format!("{}/reviews/bulk-validate", self.api))
            .bearer_auth(&self.token)
            .json(&json!({
                "provider_id": self.provider_id,
                "from": from,
                "to": to,
                "note": "Verifica mensile (benchmark)",
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let elapsed = started.elapsed();

        let validated = answer["validated"].as_array().map_or(0, Vec::len);
        let skipped = answer["skipped"].as_array().map_or(0, Vec::len);
        // Exactly our records without a blocking finding are validated, and nothing else.
        let expected = rows.len() - blocked.len();
        let ours: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut ours_validated = 0;
        let mut blocked_validated = 0;
        for chunk in ours.chunks(500) {
            ours_validated += service_record::Entity::find()
                .filter(service_record::Column::Id.is_in(chunk.iter().copied()))
                .filter(service_record::Column::Status.eq(RecordStatus::Validated.as_str()))
                .count(&self.db)
                .await? as usize;
        }
        for chunk in blocked.chunks(500) {
            blocked_validated += service_record::Entity::find()
                .filter(service_record::Column::Id.is_in(chunk.iter().copied()))
                .filter(service_record::Column::Status.eq(RecordStatus::Validated.as_str()))
                .count(&self.db)
                .await? as usize;
        }
        let validated_after = validated_count(&self.db).await?;
        if validated != expected
            || skipped != blocked.len()
            || ours_validated != expected
            || blocked_validated != 0
            || validated_after - validated_before != expected as u64
        {
            bail!(
                "bulk validation of round {round}: answer {validated} validated / {skipped} \
                 skipped, database {ours_validated} of ours validated ({blocked_validated} \
                 blocked ones), {} validated in all; expected {expected} / {}",
                validated_after - validated_before,
                blocked.len()
            );
        }
        Ok(Outcome {
            records: rows.len(),
            validated,
            skipped,
            elapsed,
            setup,
        })
    }

    /// The round's records: per plan, its operator's visits at four slots a day (08:00,
    /// 10:30, 13:00, 15:30 Rome, 30-120 minutes, so they never overlap) Monday to Saturday
    /// from `first`; the last `2 * DUPLICATE_PAIRS` are the duplicate pairs.
    fn records(
        &self,
        round: usize,
        count: usize,
        first: chrono::NaiveDate,
    ) -> anyhow::Result<Vec<RecordRow>> {
        anyhow::ensure!(
            count >= 10 * DUPLICATE_PAIRS,
            "a bulk validation round needs at least {} records",
            10 * DUPLICATE_PAIRS
        );
        let mut rng = Rng::new(super::generator::SEED ^ (round as u64 + 1));
        let clean = count.saturating_sub(DUPLICATE_PAIRS);
        let per_plan = clean.div_ceil(self.plans.len());
        let mut rows = Vec::with_capacity(count);
        for &(plan, operator, sad) in &self.plans {
            let mut day = first;
            let mut made = 0;
            while made < per_plan && rows.len() < clean {
                if day.weekday().num_days_from_monday() < 6 {
                    for slot in 0..4 {
                        if made == per_plan || rows.len() == clean {
                            break;
                        }
                        let started = civil_time::start_of_day(day)
                            + Duration::minutes(8 * 60 + 150 * slot + rng.range(0, 20));
                        let minutes = rng.range(30, 120);
                        rows.push(visit(&mut rng, plan, operator, sad, started, minutes));
                        made += 1;
                    }
                }
                day += Duration::days(1);
            }
        }
        anyhow::ensure!(rows.len() == clean, "only {} clean records", rows.len());
        // Every `step`-th clean visit gets a copy five minutes later; the originals and their
        // copies go to the end, so the blocked ones are the last rows.
        let step = (clean / DUPLICATE_PAIRS.max(1)).max(1);
        let (mut kept, mut originals) = (Vec::with_capacity(count), Vec::new());
        for (i, row) in rows.into_iter().enumerate() {
            if i % step == 0 && originals.len() < DUPLICATE_PAIRS {
                originals.push(row);
            } else {
                kept.push(row);
            }
        }
        for original in originals {
            let mut copy = original.clone();
            copy.id = rng.uuid();
            copy.started_at += Duration::minutes(5);
            copy.quantity_milli = minutes_of(&copy) * MILLI / 60;
            kept.push(original);
            kept.push(copy);
        }
        let rows = kept;
        Ok(rows)
    }
}

fn minutes_of(r: &RecordRow) -> i64 {
    r.ended_at.map_or(0, |e| (e - r.started_at).num_minutes())
}

fn visit(
    rng: &mut Rng,
    plan: Uuid,
    operator: Uuid,
    sad: Uuid,
    started_at: DateTime<Utc>,
    minutes: i64,
) -> RecordRow {
    let ended_at = started_at + Duration::minutes(minutes);
    RecordRow {
        id: rng.uuid(),
        care_plan_id: plan,
        operator_id: operator,
        service_type_id: sad,
        unit: ServiceUnit::Hour,
        started_at,
        ended_at: Some(ended_at),
        quantity_milli: minutes * MILLI / 60,
        km_milli: None,
        has_origin: false,
        has_destination: false,
        position: None,
        missed: false,
        missed_reason: None,
        status: RecordStatus::Recorded,
        received_at: ended_at + Duration::minutes(rng.range(5, 600)),
    }
}

async fn validated_count(db: &DatabaseConnection) -> anyhow::Result<u64> {
    Ok(service_record::Entity::find()
        .filter(service_record::Column::Status.eq(RecordStatus::Validated.as_str()))
        .count(db)
        .await?)
}

/// Our plans in the demo municipality, with the demo provider Il Girasole and the demo social
/// worker: one new beneficiary, operator and active plan each, SAD with a weekly allowance
/// that four two-hour visits a day, six days a week, never pass (48 hours).
async fn setup_plans(db: &DatabaseConnection) -> anyhow::Result<(Uuid, Vec<(Uuid, Uuid, Uuid)>)> {
    let org = |name: &'static str| async move {
        organization::Entity::find()
            .filter(organization::Column::Name.eq(name))
            .one(db)
            .await?
            .with_context(|| format!("no demo organization {name}"))
    };
    let municipality = org("Comune di Melegnano").await?.id;
    let provider = org("Cooperativa Sociale Il Girasole").await?.id;
    let social_worker = user::Entity::find()
        .filter(user::Column::Email.eq("assistente@example.org"))
        .one(db)
        .await?
        .context("no demo social worker")?
        .id;
    let sad = service_type::Entity::find()
        .filter(service_type::Column::MunicipalityId.eq(municipality))
        .filter(service_type::Column::Code.eq("SAD"))
        .one(db)
        .await?
        .context("no SAD service type in the demo catalogue")?
        .id;
    let now = Utc::now();
    let today = now.date_naive();
    let mut rng = Rng::new(super::generator::SEED);
    let mut plans = Vec::with_capacity(PLANS);
    let txn = db.begin().await?;
    for i in 0..PLANS {
        let (plan, operator, beneficiary) = (rng.uuid(), rng.uuid(), rng.uuid());
        user::Entity::insert(person(
            operator,
            provider,
            format!("operatore.bench{i}@example.org"),
            "field_operator",
            now,
        ))
        .exec_without_returning(&txn)
        .await?;
        beneficiary::Entity::insert(beneficiary::ActiveModel {
            id: Set(beneficiary),
            municipality_id: Set(municipality),
            pseudonym: Set(format!("BENCH{i:06}")),
            tax_code: Set(format!("BNCREV{i:010}")),
            given_name: Set("Persona".to_owned()),
            family_name: Set(format!("Bench {i}")),
            birth_date: Set(chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()),
            sex: Set("F".to_owned()),
            residence_municipality: Set("Melegnano".to_owned()),
            citizenship: Set("IT".to_owned()),
            address: Set(None),
            address_latitude: Set(None),
            address_longitude: Set(None),
            phone: Set(None),
            access_notes: Set(None),
            status: Set("active".to_owned()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        care_plan::Entity::insert(care_plan::ActiveModel {
            id: Set(plan),
            municipality_id: Set(municipality),
            beneficiary_id: Set(beneficiary),
            provider_id: Set(provider),
            social_worker_id: Set(social_worker),
            title: Set(format!("Progetto bench {i}")),
            status: Set("active".to_owned()),
            status_reason: Set(None),
            valid_from: Set(today - Duration::days(400)),
            valid_to: Set(today + Duration::days(30)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        planned_service::Entity::insert(planned_service::ActiveModel {
            id: Set(rng.uuid()),
            care_plan_id: Set(plan),
            service_type_id: Set(sad),
            allowance_milli: Set(48 * MILLI),
            allowance_period: Set("week".to_owned()),
            valid_from: Set(None),
            valid_to: Set(None),
            notes: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        care_plan_operator::Entity::insert(care_plan_operator::ActiveModel {
            care_plan_id: Set(plan),
            operator_id: Set(operator),
            added_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        plans.push((plan, operator, sad));
    }
    txn.commit().await?;
    Ok((provider, plans))
}
