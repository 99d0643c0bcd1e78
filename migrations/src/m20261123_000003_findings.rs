//! Findings of the automatic checks and the reviewers' acknowledgements of them, each
//! municipality's rule settings, and the history the rules need about plans: when a plan was
//! suspended or closed, and when an operator was removed from it (docs/rules.md).

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
        // Where the beneficiary lives, when the social worker recorded it: the rules compare
        // a visit's position with it. One column per statement: SQLite alters one at a time.
        for column in ADDRESS_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(t("beneficiaries"))
                        .add_column(double_null(t(column)))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ADDRESS_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(t("beneficiaries"))
                        .drop_column(t(column))
                        .to_owned(),
                )
                .await?;
        }
        for name in TABLE_NAMES.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(*name)).to_owned())
                .await?;
        }
        Ok(())
    }
}

const ADDRESS_COLUMNS: [&str; 2] = ["address_latitude", "address_longitude"];

const TABLE_NAMES: [&str; 6] = [
    "care_plan_status_changes",
    "care_plan_operator_removals",
    "rule_settings",
    "findings",
    "finding_acknowledgements",
    "service_record_events",
];

/// Findings and acknowledgements belong to their record: a record removed by its operator
/// (a tombstone in the diary) takes them along.
fn owned_by_record(table: &str) -> ForeignKeyCreateStatement {
    fk(table, "service_record_id", "service_records")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        // Every lifecycle step of a plan, so a visit is judged by the plan's status at the
        // time it took place, not by today's.
        Table::create()
            .table(t("care_plan_status_changes"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("care_plan_id")))
            .col(string_len(t("status"), 16))
            .col(timestamp_with_time_zone(t("changed_at")))
            .foreign_key(&mut fk(
                "care_plan_status_changes",
                "care_plan_id",
                "care_plans",
            ))
            .to_owned(),
        // `care_plan_operators` holds who is authorized now; this, who was until when.
        Table::create()
            .table(t("care_plan_operator_removals"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("care_plan_id")))
            .col(uuid(t("operator_id")))
            .col(timestamp_with_time_zone(t("removed_at")))
            .foreign_key(&mut fk(
                "care_plan_operator_removals",
                "care_plan_id",
                "care_plans",
            ))
            .foreign_key(&mut fk(
                "care_plan_operator_removals",
                "operator_id",
                "users",
            ))
            .to_owned(),
        // Absent row: the defaults. The document is the API's JSON (rules and thresholds).
        Table::create()
            .table(t("rule_settings"))
            .col(uuid(t("municipality_id")).primary_key())
            .col(text(t("document")))
            .col(integer(t("version")))
            .col(timestamp_with_time_zone(t("updated_at")))
            .foreign_key(&mut fk("rule_settings", "municipality_id", "organizations"))
            .to_owned(),
        Table::create()
            .table(t("findings"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("service_record_id")))
            .col(string_len(t("code"), 40))
            .col(string_len(t("severity"), 16))
            .col(string_len(t("message_it"), 500))
            .col(string_len(t("message_en"), 500))
            .col(double_null(t("measured_value")))
            .col(double_null(t("measured_limit")))
            .col(string_len_null(t("measured_unit"), 16))
            // No foreign key: the other record may go away; the next recheck drops the finding.
            .col(uuid_null(t("related_record_id")))
            .col(uuid_null(t("planned_service_id")))
            .col(string_len_null(t("period"), 16))
            .col(timestamp_with_time_zone(t("computed_at")))
            .foreign_key(&mut owned_by_record("findings"))
            .to_owned(),
        // A reviewer's word on a finding: a warning acknowledged, or a blocking finding
        // overridden at validation. Kept when findings are recomputed; dropped when the
        // operator amends the record, which then needs a fresh look.
        Table::create()
            .table(t("finding_acknowledgements"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("service_record_id")))
            .col(string_len(t("code"), 40))
            .col(string_len(t("kind"), 16))
            .col(string_len(t("reason"), 2000))
            .col(uuid(t("acknowledged_by")))
            .col(timestamp_with_time_zone(t("acknowledged_at")))
            .foreign_key(&mut owned_by_record("finding_acknowledgements"))
            .foreign_key(&mut fk(
                "finding_acknowledgements",
                "acknowledged_by",
                "users",
            ))
            .to_owned(),
        // A record's history as its reviewers and operators see it: every correction and
        // review step, with the reason given. (The audit log says who did what for the
        // administrator, without the reasons.)
        Table::create()
            .table(t("service_record_events"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("service_record_id")))
            .col(timestamp_with_time_zone(t("occurred_at")))
            .col(string_len(t("action"), 40))
            .col(uuid_null(t("actor_user_id")))
            .col(uuid_null(t("actor_client_id")))
            .col(string_len(t("status"), 32))
            .col(string_len_null(t("reason_code"), 40))
            .col(string_len_null(t("note"), 2000))
            .foreign_key(&mut owned_by_record("service_record_events"))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("care_plan_status_changes", &["care_plan_id", "changed_at"]),
        index("care_plan_operator_removals", &["care_plan_id"]),
        index(
            "service_record_events",
            &["service_record_id", "occurred_at"],
        ),
        index("findings", &["service_record_id"]),
        index("findings", &["code", "severity"]),
        index("finding_acknowledgements", &["service_record_id", "code"])
            .unique()
            .to_owned(),
        // Overlaps of one beneficiary's service are looked up through the plan and type.
        index(
            "service_records",
            &["care_plan_id", "service_type_id", "started_at"],
        ),
    ]
}
