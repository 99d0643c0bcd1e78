//! Sync: devices and their connection tickets, the registry of automerge documents, and the
//! documents' storage as chunks (docs/sync.md).

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, t};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in TABLE_NAMES.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(*name)).to_owned())
                .await?;
        }
        Ok(())
    }
}

const TABLE_NAMES: [&str; 5] = [
    "sync_server",
    "devices",
    "sync_tickets",
    "sync_documents",
    "sync_chunks",
];

fn tables() -> Vec<TableCreateStatement> {
    vec![
        // One row: the storage id the server announces to peers. Peers keep their sync state
        // per storage id, so it must survive restarts, and it lives with the data it names.
        Table::create()
            .table(t("sync_server"))
            .col(uuid(t("storage_id")).primary_key())
            .col(timestamp_with_time_zone(t("created_at")))
            .to_owned(),
        // A phone or browser of one user. Revocation keeps the row: the audit log names it.
        Table::create()
            .table(t("devices"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("user_id")))
            .col(uuid(t("organization_id")))
            .col(string_len(t("peer_id"), 64))
            .col(string_len_null(t("name"), 100))
            .col(timestamp_with_time_zone(t("created_at")))
            .col(timestamp_with_time_zone_null(t("last_seen_at")))
            .col(timestamp_with_time_zone_null(t("revoked_at")))
            .foreign_key(&mut fk("devices", "user_id", "users"))
            .foreign_key(&mut fk("devices", "organization_id", "organizations"))
            .to_owned(),
        // Only the SHA-256 of a ticket is kept, like refresh tokens.
        Table::create()
            .table(t("sync_tickets"))
            .col(string_len(t("hash"), 64).primary_key())
            .col(uuid(t("device_id")))
            .col(timestamp_with_time_zone(t("expires_at")))
            .col(timestamp_with_time_zone_null(t("used_at")))
            .foreign_key(&mut fk("sync_tickets", "device_id", "devices"))
            .to_owned(),
        // Which document is which: the authority facts live here, never in the document.
        Table::create()
            .table(t("sync_documents"))
            .col(uuid(t("id")).primary_key())
            .col(string_len(t("kind"), 16))
            .col(uuid(t("care_plan_id")))
            .col(uuid_null(t("operator_id")))
            .col(timestamp_with_time_zone(t("created_at")))
            // The last chunk the SQL projection has seen: a diary with a newer chunk (the
            // server died between storing and projecting) is projected again at start-up.
            .col(big_integer_null(t("projected_through")))
            .foreign_key(&mut fk("sync_documents", "care_plan_id", "care_plans"))
            .foreign_key(&mut fk("sync_documents", "operator_id", "users"))
            .to_owned(),
        // A document is the concatenation of its chunks in id order (automerge's
        // `load_incremental`): a snapshot, then incremental changes appended after it.
        Table::create()
            .table(t("sync_chunks"))
            .col(big_integer(t("id")).primary_key().auto_increment())
            .col(uuid(t("document_id")))
            .col(string_len(t("kind"), 16))
            .col(blob(t("data")))
            .col(timestamp_with_time_zone(t("stored_at")))
            .foreign_key(&mut fk("sync_chunks", "document_id", "sync_documents"))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("devices", &["user_id"]),
        index("devices", &["peer_id"]).unique().to_owned(),
        index("devices", &["organization_id"]),
        index("sync_tickets", &["device_id"]),
        index("sync_documents", &["care_plan_id", "kind", "operator_id"])
            .unique()
            .to_owned(),
        index("sync_documents", &["operator_id"]),
        index("sync_chunks", &["document_id", "id"]),
    ]
}
