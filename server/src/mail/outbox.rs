//! The `mail_outbox` table: writing messages (inside the caller's transaction) and the
//! worker's queries (claim, mark sent, schedule a retry).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::{delivery, templates::Content};
use crate::db::entities::mail_outbox::{self, Column, Entity};

/// What a message is about; stored in `mail_outbox.kind` and logged instead of the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A record was rejected or sent back for clarification.
    RecordReviewed,
    /// A provider's monthly statement was approved.
    StatementApproved,
    /// A social worker's daily digest.
    DailyDigest,
}

impl MailKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecordReviewed => "record_reviewed",
            Self::StatementApproved => "statement_approved",
            Self::DailyDigest => "daily_digest",
        }
    }
}

/// A message to write into the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// What it is about.
    pub kind: MailKind,
    /// One address.
    pub recipient: String,
    /// Subject and bodies.
    pub content: Content,
    /// Messages with the same key exist once (the first write wins); `None` for ordinary ones.
    pub dedupe_key: Option<String>,
}

/// Writes `message` through `conn`, normally the transaction of the workflow step it reports,
/// so it is stored if and only if the step commits. Returns false when a message with the same
/// dedupe key already exists (nothing is written then, and the transaction stays usable).
///
/// It also wakes the delivery worker, which waits a moment for the caller's commit; a message
/// committed later than that goes at the worker's next poll.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    message: &OutgoingMessage,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let row = mail_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(message.kind.as_str().to_owned()),
        recipient: Set(message.recipient.clone()),
        subject: Set(message.content.subject.clone()),
        body_text: Set(message.content.text.clone()),
        body_html: Set(message.content.html.clone()),
        dedupe_key: Set(message.dedupe_key.clone()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        leased_until: Set(None),
        sent_at: Set(None),
        last_error: Set(None),
    };
    // ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a failed
    // statement would abort the caller's whole transaction.
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if inserted > 0 {
        delivery::wake();
    }
    Ok(inserted > 0)
}

/// Unsent messages that are due and not leased by a sender, oldest first.
pub(super) async fn due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .filter(Column::NextAttemptAt.lte(now))
        .filter(not_leased(now))
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Takes a row for sending until `until`: a conditional UPDATE, so of two senders (two
/// server instances on one PostgreSQL) exactly one gets it.
pub(super) async fn claim(
    conn: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = Entity::update_many()
        .col_expr(Column::LeasedUntil, Expr::value(until))
        .filter(Column::Id.eq(id))
        .filter(Column::SentAt.is_null())
        .filter(not_leased(now))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records a delivery.
pub(super) async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(
            Column::LeasedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub(super) async fn mark_failed(
    conn: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(
            Column::LeasedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(Some(error.to_owned())))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

fn not_leased(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::LeasedUntil.is_null())
        .add(Column::LeasedUntil.lt(now))
}
