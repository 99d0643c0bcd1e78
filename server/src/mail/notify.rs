//! The workflow hooks: each runs inside the caller's transaction and writes the messages a
//! step calls for into the outbox, so they exist exactly when the step commits. Nothing here
//! talks to a mail server.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Europe::Rome;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{
    outbox::{self, MailKind, OutgoingMessage},
    templates::{self, Content, ReviewOutcome},
};
use crate::{
    config::Config,
    db::entities::{care_plan, organization, service_record, user},
    domain::{
        roles::Role,
        service_record::{ReviewAction, ReviewReason},
    },
};

/// After a review decision on record `record_id`, in the decision's transaction (the record is
/// read through it, as the decision left it): a rejection or a clarification request notifies
/// the record's operator and the coordinators of the plan's provider (active accounts). Other
/// decisions write nothing, so the review handler may call this for every decision.
pub async fn record_reviewed(
    conn: &impl ConnectionTrait,
    config: &Config,
    record_id: Uuid,
    action: ReviewAction,
) -> Result<(), DbErr> {
    let outcome = match action {
        ReviewAction::Reject => ReviewOutcome::Rejected,
        ReviewAction::RequestClarification => ReviewOutcome::ClarificationRequested,
        ReviewAction::Validate | ReviewAction::Reopen => return Ok(()),
    };
    if !config.mail.enabled() {
        return Ok(());
    }
    let record = service_record::Entity::find_by_id(record_id)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("service record {record_id}")))?;
    let plan = care_plan::Entity::find_by_id(record.care_plan_id)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("plan of record {}", record.id)))?;
    let recipients = active_addresses(
        conn,
        Condition::any()
            .add(user::Column::Id.eq(record.operator_id))
            .add(
                Condition::all()
                    .add(user::Column::OrganizationId.eq(plan.provider_id))
                    .add(user::Column::Role.eq(Role::ProviderCoordinator.as_str())),
            ),
    )
    .await?;
    let content = templates::record_reviewed(
        &config.public_url,
        outcome,
        record.id,
        record.started_at.with_timezone(&Rome).date_naive(),
        record
            .review_reason_code
            .as_deref()
            .and_then(ReviewReason::parse),
    );
    send_to_all(conn, MailKind::RecordReviewed, recipients, content).await
}

/// After the municipality approves a provider's statement of `month` (any day of it): notifies
/// the provider organization's own address and its active coordinators and administrative
/// staff.
///
/// Call it inside the approval's transaction, after the statement row is updated:
/// `mail::notify::statement_approved(&txn, &state.config, provider_id, municipality_id, month,
/// statement_id).await?`.
pub async fn statement_approved(
    conn: &impl ConnectionTrait,
    config: &Config,
    provider_id: Uuid,
    municipality_id: Uuid,
    month: NaiveDate,
    statement_id: Uuid,
) -> Result<(), DbErr> {
    if !config.mail.enabled() {
        return Ok(());
    }
    let municipality = organization::Entity::find_by_id(municipality_id)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("municipality {municipality_id}")))?;
    let provider = organization::Entity::find_by_id(provider_id)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("provider {provider_id}")))?;
    let mut recipients = active_addresses(
        conn,
        Condition::all()
            .add(user::Column::OrganizationId.eq(provider_id))
            .add(user::Column::Role.is_in([
                Role::ProviderCoordinator.as_str(),
                Role::Administrative.as_str(),
            ])),
    )
    .await?;
    if let Some(email) = provider.email.filter(|e| !e.trim().is_empty()) {
        recipients.insert(email.trim().to_lowercase());
    }
    let content =
        templates::statement_approved(&config.public_url, statement_id, &municipality.name, month);
    send_to_all(conn, MailKind::StatementApproved, recipients, content).await
}

/// The lowercased, de-duplicated addresses of the active users matching `filter`.
async fn active_addresses(
    conn: &impl ConnectionTrait,
    filter: Condition,
) -> Result<BTreeSet<String>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(filter)
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.email.trim().to_lowercase())
        .collect())
}

async fn send_to_all(
    conn: &impl ConnectionTrait,
    kind: MailKind,
    recipients: BTreeSet<String>,
    content: Content,
) -> Result<(), DbErr> {
    for recipient in recipients {
        outbox::enqueue(
            conn,
            &OutgoingMessage {
                kind,
                recipient,
                content: content.clone(),
                dedupe_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use sea_orm::{
        ActiveModelTrait, ActiveValue::Set, ConnectOptions, Database, DatabaseConnection,
        IntoActiveModel, QueryOrder,
    };
    use taccuino_migrations::{Migrator, MigratorTrait};

    use super::*;
    use crate::db::entities::mail_outbox;

    /// An in-memory database with the demo data.
    pub(in crate::mail) async fn demo_db() -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.expect("in-memory SQLite");
        Migrator::up(&db, None).await.expect("migrations");
        crate::demo::load_if_empty(&db).await.expect("demo data");
        db
    }

    pub(in crate::mail) fn config(transport: &str) -> Config {
        Config::from_lookup(true, |name| match name {
            "TACCUINO_MAIL_TRANSPORT" => Some(transport.to_owned()),
            "TACCUINO_PUBLIC_URL" => Some("https://taccuino.example".to_owned()),
            _ => None,
        })
        .expect("config")
    }

    pub(in crate::mail) async fn outbox(db: &DatabaseConnection) -> Vec<mail_outbox::Model> {
        mail_outbox::Entity::find()
            .order_by_asc(mail_outbox::Column::Recipient)
            .all(db)
            .await
            .expect("outbox")
    }

    async fn organization_named(db: &DatabaseConnection, name: &str) -> organization::Model {
        organization::Entity::find()
            .filter(organization::Column::Name.eq(name))
            .one(db)
            .await
            .expect("query")
            .expect("demo organization")
    }

    #[tokio::test]
    async fn an_approved_statement_reaches_the_provider_office_and_its_coordinators() {
        let db = demo_db().await;
        let girasole = organization_named(&db, "Cooperativa Sociale Il Girasole").await;
        let comune = organization_named(&db, "Comune di Melegnano").await;
        let statement = Uuid::new_v4();
        let month = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
        statement_approved(
            &db,
            &config("folder"),
            girasole.id,
            comune.id,
            month,
            statement,
        )
        .await
        .expect("enqueued");
        let rows = outbox(&db).await;
        let recipients: Vec<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(
            recipients,
            [
                "amministrativo.girasole@example.org",
                "amministrazione@ilgirasole.example",
                "coordinatore@example.org",
            ]
        );
        for row in &rows {
            assert_eq!(row.kind, "statement_approved");
            assert_eq!(
                row.subject,
                "Taccuino: Rendicontazione di ottobre 2026 approvata"
            );
            assert!(row.body_text.contains("Comune di Melegnano"));
            assert!(row.body_text.contains(&format!(
                "https://taccuino.example/app/statements/{statement}"
            )));
            assert!(row.sent_at.is_none() && row.attempts == 0);
        }

        // With mail off, the step writes nothing.
        let before = rows.len();
        statement_approved(
            &db,
            &config("off"),
            girasole.id,
            comune.id,
            month,
            statement,
        )
        .await
        .expect("nothing to do");
        assert_eq!(outbox(&db).await.len(), before);
    }

    #[tokio::test]
    async fn only_rejections_and_clarification_requests_notify_the_provider() {
        let db = demo_db().await;
        let girasole = organization_named(&db, "Cooperativa Sociale Il Girasole").await;
        let plan = care_plan::Entity::find()
            .filter(care_plan::Column::ProviderId.eq(girasole.id))
            .one(&db)
            .await
            .expect("query")
            .expect("a Girasole plan");
        let record = service_record::Entity::find()
            .filter(service_record::Column::CarePlanId.eq(plan.id))
            .one(&db)
            .await
            .expect("query")
            .expect("a record");
        let config = config("folder");
        for action in [ReviewAction::Validate, ReviewAction::Reopen] {
            record_reviewed(&db, &config, record.id, action)
                .await
                .expect("nothing to do");
        }
        assert!(outbox(&db).await.is_empty());

        let mut reviewed = record.clone().into_active_model();
        reviewed.review_reason_code = Set(Some("duplicate".to_owned()));
        reviewed.review_note = Set(Some("Nota riservata del riesame".to_owned()));
        reviewed.update(&db).await.expect("reviewed");
        record_reviewed(&db, &config, record.id, ReviewAction::Reject)
            .await
            .expect("enqueued");
        let rows = outbox(&db).await;
        let operator = user::Entity::find_by_id(record.operator_id)
            .one(&db)
            .await
            .expect("query")
            .expect("operator");
        let recipients: BTreeSet<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
        assert!(
            recipients.contains(operator.email.as_str()),
            "{recipients:?}"
        );
        assert!(
            recipients.contains("coordinatore@example.org"),
            "{recipients:?}"
        );
        assert!(!recipients.contains("coordinatore.arcobaleno@example.org"));
        for row in &rows {
            assert_eq!(row.subject, "Taccuino: Prestazione respinta");
            assert!(row.body_text.contains("prestazione duplicata"));
            assert!(!row.body_text.contains("Nota riservata"));
            assert!(!row.body_html.contains("Nota riservata"));
        }
    }
}
