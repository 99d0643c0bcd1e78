//! The foundation schema: organizations, people, plans, service records and the audit log.

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

const TABLE_NAMES: [&str; 12] = [
    "organizations",
    "users",
    "api_clients",
    "refresh_tokens",
    "beneficiaries",
    "sensitive_notes",
    "service_types",
    "care_plans",
    "planned_services",
    "care_plan_operators",
    "service_records",
    "audit_events",
];

/// Columns every mutable resource carries: optimistic-concurrency version and timestamps.
fn lifecycle(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(integer(t("version")).default(1))
        .col(timestamp_with_time_zone(t("created_at")))
        .col(timestamp_with_time_zone(t("updated_at")))
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        lifecycle(
            Table::create()
                .table(t("organizations"))
                .col(uuid(t("id")).primary_key())
                .col(string_len(t("kind"), 16))
                .col(string_len(t("name"), 200))
                .col(string_len_null(t("tax_code"), 16))
                .col(string_len_null(t("email"), 254))
                .col(boolean(t("active")).default(true)),
        )
        .to_owned(),
        lifecycle(
            Table::create()
                .table(t("users"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("organization_id")))
                .col(string_len_uniq(t("email"), 254))
                .col(string_len(t("given_name"), 100))
                .col(string_len(t("family_name"), 100))
                .col(string_len(t("role"), 32))
                .col(string_len(t("password_hash"), 200))
                .col(boolean(t("active")).default(true))
                .foreign_key(&mut fk("users", "organization_id", "organizations")),
        )
        .to_owned(),
        lifecycle(
            Table::create()
                .table(t("api_clients"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("organization_id")))
                .col(string_len(t("name"), 200))
                .col(string_len_uniq(t("client_id"), 64))
                .col(string_len(t("secret_hash"), 200))
                .col(boolean(t("active")).default(true))
                .col(timestamp_with_time_zone_null(t("last_used_at")))
                .foreign_key(&mut fk("api_clients", "organization_id", "organizations")),
        )
        .to_owned(),
        Table::create()
            .table(t("refresh_tokens"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("user_id")))
            .col(uuid(t("family_id")))
            .col(string_len_uniq(t("token_hash"), 64))
            .col(timestamp_with_time_zone(t("created_at")))
            .col(timestamp_with_time_zone(t("expires_at")))
            .col(timestamp_with_time_zone_null(t("rotated_at")))
            .col(timestamp_with_time_zone_null(t("revoked_at")))
            .foreign_key(&mut fk("refresh_tokens", "user_id", "users"))
            .to_owned(),
        lifecycle(
            Table::create()
                .table(t("beneficiaries"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("municipality_id")))
                .col(string_len_uniq(t("pseudonym"), 16))
                .col(string_len(t("tax_code"), 16))
                .col(string_len(t("given_name"), 100))
                .col(string_len(t("family_name"), 100))
                .col(date(t("birth_date")))
                .col(string_len(t("sex"), 1))
                .col(string_len(t("residence_municipality"), 100))
                .col(string_len(t("citizenship"), 2))
                .col(string_len_null(t("address"), 300))
                .col(string_len_null(t("phone"), 32))
                .col(string_len_null(t("access_notes"), 500))
                .col(string_len(t("status"), 16))
                .foreign_key(&mut fk("beneficiaries", "municipality_id", "organizations")),
        )
        .to_owned(),
        Table::create()
            .table(t("sensitive_notes"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("beneficiary_id")))
            .col(uuid(t("author_id")))
            .col(string_len(t("category"), 32))
            .col(text(t("body")))
            .col(timestamp_with_time_zone(t("created_at")))
            .foreign_key(&mut fk(
                "sensitive_notes",
                "beneficiary_id",
                "beneficiaries",
            ))
            .foreign_key(&mut fk("sensitive_notes", "author_id", "users"))
            .to_owned(),
        lifecycle(
            Table::create()
                .table(t("service_types"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("municipality_id")))
                .col(string_len(t("code"), 32))
                .col(string_len(t("name"), 200))
                .col(string_len(t("unit"), 16))
                .col(big_integer(t("tariff_cents")))
                .col(boolean(t("active")).default(true))
                .foreign_key(&mut fk("service_types", "municipality_id", "organizations")),
        )
        .to_owned(),
        lifecycle(
            Table::create()
                .table(t("care_plans"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("municipality_id")))
                .col(uuid(t("beneficiary_id")))
                .col(uuid(t("provider_id")))
                .col(uuid(t("social_worker_id")))
                .col(string_len(t("title"), 200))
                .col(string_len(t("status"), 16))
                .col(string_len_null(t("status_reason"), 500))
                .col(date(t("valid_from")))
                .col(date(t("valid_to")))
                .foreign_key(&mut fk("care_plans", "municipality_id", "organizations"))
                .foreign_key(&mut fk("care_plans", "beneficiary_id", "beneficiaries"))
                .foreign_key(&mut fk("care_plans", "provider_id", "organizations"))
                .foreign_key(&mut fk("care_plans", "social_worker_id", "users")),
        )
        .to_owned(),
        Table::create()
            .table(t("planned_services"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("care_plan_id")))
            .col(uuid(t("service_type_id")))
            .col(big_integer(t("allowance_milli")))
            .col(string_len(t("allowance_period"), 8))
            .col(date_null(t("valid_from")))
            .col(date_null(t("valid_to")))
            .col(string_len_null(t("notes"), 500))
            .foreign_key(&mut fk("planned_services", "care_plan_id", "care_plans"))
            .foreign_key(&mut fk(
                "planned_services",
                "service_type_id",
                "service_types",
            ))
            .to_owned(),
        Table::create()
            .table(t("care_plan_operators"))
            .col(uuid(t("care_plan_id")))
            .col(uuid(t("operator_id")))
            .col(timestamp_with_time_zone(t("added_at")))
            .primary_key(Index::create().col(t("care_plan_id")).col(t("operator_id")))
            .foreign_key(&mut fk("care_plan_operators", "care_plan_id", "care_plans"))
            .foreign_key(&mut fk("care_plan_operators", "operator_id", "users"))
            .to_owned(),
        lifecycle(
            Table::create()
                .table(t("service_records"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("care_plan_id")))
                .col(uuid(t("service_type_id")))
                .col(uuid(t("operator_id")))
                .col(timestamp_with_time_zone(t("started_at")))
                .col(timestamp_with_time_zone_null(t("ended_at")))
                .col(big_integer(t("quantity_milli")))
                .col(big_integer_null(t("km_milli")))
                .col(string_len_null(t("origin"), 300))
                .col(string_len_null(t("destination"), 300))
                .col(double_null(t("latitude")))
                .col(double_null(t("longitude")))
                .col(string_len_null(t("notes"), 2000))
                .col(boolean(t("missed")).default(false))
                .col(string_len_null(t("missed_reason"), 32))
                .col(string_len(t("status"), 32))
                .col(string_len_null(t("review_reason_code"), 32))
                .col(string_len_null(t("review_note"), 2000))
                .col(uuid_null(t("reviewed_by")))
                .col(timestamp_with_time_zone_null(t("reviewed_at")))
                .col(string_len(t("source"), 16))
                .col(timestamp_with_time_zone(t("received_at")))
                .foreign_key(&mut fk("service_records", "care_plan_id", "care_plans"))
                .foreign_key(&mut fk(
                    "service_records",
                    "service_type_id",
                    "service_types",
                ))
                .foreign_key(&mut fk("service_records", "operator_id", "users")),
        )
        .to_owned(),
        Table::create()
            .table(t("audit_events"))
            .col(uuid(t("id")).primary_key())
            .col(timestamp_with_time_zone(t("occurred_at")))
            .col(uuid_null(t("organization_id")))
            .col(uuid_null(t("actor_user_id")))
            .col(uuid_null(t("actor_client_id")))
            .col(string_len(t("actor_role"), 32))
            .col(string_len(t("action"), 64))
            .col(string_len(t("resource_type"), 32))
            .col(uuid_null(t("resource_id")))
            .col(string_len_null(t("request_id"), 64))
            .col(string_len_null(t("client_ip"), 64))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("users", &["organization_id"]),
        index("api_clients", &["organization_id"]),
        index("refresh_tokens", &["family_id"]),
        index("beneficiaries", &["municipality_id", "family_name"]),
        index("beneficiaries", &["municipality_id", "tax_code"])
            .unique()
            .to_owned(),
        index("sensitive_notes", &["beneficiary_id", "created_at"]),
        index("service_types", &["municipality_id", "code"])
            .unique()
            .to_owned(),
        index("care_plans", &["municipality_id", "status"]),
        index("care_plans", &["provider_id"]),
        index("care_plans", &["beneficiary_id"]),
        index("planned_services", &["care_plan_id"]),
        index("care_plan_operators", &["operator_id"]),
        index("service_records", &["care_plan_id", "started_at"]),
        index("service_records", &["operator_id", "started_at"]),
        index("service_records", &["status"]),
        index("audit_events", &["organization_id", "occurred_at"]),
        index("audit_events", &["resource_id"]),
    ]
}
