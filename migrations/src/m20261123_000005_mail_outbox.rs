//! The email outbox (docs/mail.md): a workflow step writes its messages here in its own
//! transaction, and a background worker delivers them, so an SMTP outage never blocks or loses
//! a step.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{index, t};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(t("mail_outbox"))
                    .col(uuid(t("id")).primary_key())
                    // What the message is about (`record_reviewed`, `statement_approved`,
                    // `daily_digest`): enough to count and diagnose without reading bodies.
                    .col(string_len(t("kind"), 32))
                    .col(string_len(t("recipient"), 320))
                    .col(string_len(t("subject"), 300))
                    .col(text(t("body_text")))
                    .col(text(t("body_html")))
                    // Set for messages that must exist once only (one digest per social worker
                    // per day): a second insert with the same key is ignored, whichever server
                    // instance or restart attempts it. NULLs never collide.
                    .col(string_len_null(t("dedupe_key"), 200))
                    .col(timestamp_with_time_zone(t("created_at")))
                    .col(integer(t("attempts")).default(0))
                    .col(timestamp_with_time_zone(t("next_attempt_at")))
                    // A worker claims a row by a conditional UPDATE of this column; another
                    // instance skips the row until the lease expires (a crashed sender's rows
                    // come back after it).
                    .col(timestamp_with_time_zone_null(t("leased_until")))
                    .col(timestamp_with_time_zone_null(t("sent_at")))
                    // A short category of the last failure (never a server reply, which may
                    // quote an address).
                    .col(string_len_null(t("last_error"), 200))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("mail_outbox", &["dedupe_key"]).unique().to_owned())
            .await?;
        // The worker's query: unsent rows that are due, oldest first.
        manager
            .create_index(index("mail_outbox", &["sent_at", "next_attempt_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(t("mail_outbox")).to_owned())
            .await
    }
}
