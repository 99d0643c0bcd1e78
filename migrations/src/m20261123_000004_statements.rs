//! Monthly statements (rendicontazione): one per provider, municipality and month; the lines
//! frozen when the provider submits it; and the history of its status changes with reasons.

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

const TABLE_NAMES: [&str; 3] = ["statements", "statement_lines", "statement_events"];

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(t("statements"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("municipality_id")))
            .col(uuid(t("provider_id")))
            // `YYYY-MM`: a calendar month in Rome, so it sorts and compares as text.
            .col(string_len(t("month"), 7))
            .col(string_len(t("status"), 16))
            // The reason of the last reopening, shown until the statement is submitted again.
            .col(string_len_null(t("status_reason"), 500))
            .col(timestamp_with_time_zone_null(t("submitted_at")))
            .col(timestamp_with_time_zone_null(t("approved_at")))
            .col(integer(t("version")).default(1))
            .col(timestamp_with_time_zone(t("created_at")))
            .col(timestamp_with_time_zone(t("updated_at")))
            .foreign_key(&mut fk("statements", "municipality_id", "organizations"))
            .foreign_key(&mut fk("statements", "provider_id", "organizations"))
            .to_owned(),
        // The figures as submitted: labels and tariff are copied, so a later change of a plan's
        // title or of the catalogue's tariff cannot alter what was submitted or approved.
        Table::create()
            .table(t("statement_lines"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("statement_id")))
            .col(integer(t("position")))
            .col(uuid(t("care_plan_id")))
            .col(string_len(t("plan_title"), 200))
            .col(string_len(t("beneficiary_pseudonym"), 16))
            .col(uuid(t("service_type_id")))
            .col(string_len(t("service_type_code"), 32))
            .col(string_len(t("service_type_name"), 200))
            .col(string_len(t("unit"), 16))
            .col(big_integer(t("records")))
            .col(big_integer(t("quantity_milli")))
            .col(big_integer(t("tariff_cents")))
            .col(big_integer(t("amount_cents")))
            .foreign_key(&mut fk("statement_lines", "statement_id", "statements"))
            .foreign_key(&mut fk("statement_lines", "care_plan_id", "care_plans"))
            .foreign_key(&mut fk(
                "statement_lines",
                "service_type_id",
                "service_types",
            ))
            .to_owned(),
        // Append-only: who moved the statement, when, and why (a reopening needs a reason).
        Table::create()
            .table(t("statement_events"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("statement_id")))
            .col(string_len(t("action"), 16))
            .col(string_len(t("status"), 16))
            .col(string_len_null(t("reason"), 500))
            .col(uuid_null(t("actor_user_id")))
            .col(uuid_null(t("actor_client_id")))
            .col(timestamp_with_time_zone(t("occurred_at")))
            .foreign_key(&mut fk("statement_events", "statement_id", "statements"))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("statements", &["municipality_id", "provider_id", "month"])
            .unique()
            .to_owned(),
        index("statements", &["provider_id", "month"]),
        index("statement_lines", &["statement_id", "position"]),
        index("statement_events", &["statement_id", "occurred_at"]),
    ]
}
