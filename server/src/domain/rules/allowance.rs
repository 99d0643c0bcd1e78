//! Cumulative quantity against a planned service's allowance per ISO week or calendar month.
//!
//! Periods are Rome's calendar (a visit at 00:30 on Monday counts in Monday's week). Records are
//! counted in the order they were delivered, validated and pending alike (rejected ones and
//! records outside the planned window are left out by the caller's selection and by
//! [`check`]): the records whose running total passes the allowance are flagged, so the
//! reviewer sees which visit went over, not only that the week did. The allowance is the same
//! for every period, also the first and last partial ones of a plan (plans state "6 ore
//! settimanali", not a pro-rated amount).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

use super::{Finding, Measure, RuleCode, RuleSettings};
use crate::domain::{
    civil_time, period::AllowancePeriod, service_record::ServiceUnit, values::MILLI,
};

/// A planned service's allowance and where it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub planned_service_id: Uuid,
    pub unit: ServiceUnit,
    pub period: AllowancePeriod,
    /// Thousandths of the unit per period.
    pub allowance_milli: i64,
    /// The days the planned service is in force (its own window within the plan's period).
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A record that counts against an allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub quantity_milli: i64,
}

/// The period a day falls in, as a label (`2026-W47`, `2026-11`) and its bounds.
pub fn period_of(period: AllowancePeriod, day: NaiveDate) -> (String, NaiveDate, NaiveDate) {
    match period {
        AllowancePeriod::Week => {
            let (year, week) = civil_time::iso_week(day);
            let (from, to) = civil_time::week_bounds(day);
            (format!("{year}-W{week:02}"), from, to)
        }
        AllowancePeriod::Month => {
            let (from, to) = civil_time::month_bounds(day);
            (format!("{}-{:02}", day.year(), day.month()), from, to)
        }
    }
}

/// The records that take their period's running total over the allowance, with the finding.
pub fn check(
    allowance: &Allowance,
    records: &[Counted],
    settings: &RuleSettings,
) -> Vec<(Uuid, Finding)> {
    let Some(setting) = settings.setting(RuleCode::OverAllowance) else {
        return Vec::new();
    };
    let mut counted: Vec<(NaiveDate, &Counted)> = records
        .iter()
        .map(|r| (civil_time::local_date(r.started_at), r))
        .filter(|(day, _)| (allowance.from..=allowance.to).contains(day))
        .collect();
    counted.sort_by_key(|(_, r)| (r.started_at, r.id));
    let mut found = Vec::new();
    let mut current: Option<(String, i64)> = None;
    for (day, record) in counted {
        let (label, ..) = period_of(allowance.period, day);
        let total = match &mut current {
            Some((open, total)) if *open == label => {
                *total += record.quantity_milli;
                *total
            }
            _ => {
                current = Some((label.clone(), record.quantity_milli));
                record.quantity_milli
            }
        };
        if total > allowance.allowance_milli {
            found.push((
                record.id,
                finding(allowance, &label, total, setting.severity),
            ));
        }
    }
    found
}

fn finding(allowance: &Allowance, label: &str, total: i64, severity: super::Severity) -> Finding {
    let as_units = |milli: i64| milli as f64 / MILLI as f64;
    let (unit_it, unit_en) = match allowance.unit {
        ServiceUnit::Hour => ("ore", "hours"),
        ServiceUnit::Trip => ("trasporti", "trips"),
        ServiceUnit::Km => ("km", "km"),
        ServiceUnit::Access => ("accessi", "accesses"),
    };
    let (period_it, period_en) = match allowance.period {
        AllowancePeriod::Week => ("settimana", "week"),
        AllowancePeriod::Month => ("mese", "month"),
    };
    let (total, limit) = (as_units(total), as_units(allowance.allowance_milli));
    Finding {
        code: RuleCode::OverAllowance,
        severity,
        message_it: format!(
            "Con questa prestazione la {period_it} {label} arriva a {total:.2} {unit_it}, oltre le {limit:.2} previste dal progetto."
        ),
        message_en: format!(
            "With this service the {period_en} {label} reaches {total:.2} {unit_en}, over the {limit:.2} planned."
        ),
        measured: Some(Measure {
            value: total,
            limit,
            unit: unit_en,
        }),
        related_record: None,
        planned_service: Some(allowance.planned_service_id),
        period: Some(label.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PLANNED: Uuid = Uuid::from_u128(7);

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn weekly(hours: i64) -> Allowance {
        Allowance {
            planned_service_id: PLANNED,
            unit: ServiceUnit::Hour,
            period: AllowancePeriod::Week,
            allowance_milli: hours * MILLI,
            from: d(2026, 1, 1),
            to: d(2026, 12, 31),
        }
    }

    fn visit(n: u128, at: &str, hours: i64) -> Counted {
        Counted {
            id: Uuid::from_u128(n),
            started_at: at.parse().expect("instant"),
            quantity_milli: hours * MILLI,
        }
    }

    fn flagged(allowance: &Allowance, records: &[Counted]) -> Vec<(u128, String)> {
        check(allowance, records, &RuleSettings::default())
            .into_iter()
            .map(|(id, f)| (id.as_u128(), f.period.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn the_visit_that_passes_the_weekly_allowance_is_flagged_and_the_next_ones_too() {
        let records = [
            visit(1, "2026-11-23T08:00:00Z", 2),
            visit(2, "2026-11-24T08:00:00Z", 2),
            visit(3, "2026-11-25T08:00:00Z", 2),
            visit(4, "2026-11-26T08:00:00Z", 1),
            visit(5, "2026-11-27T08:00:00Z", 1),
        ];
        assert_eq!(
            flagged(&weekly(6), &records),
            [(4, "2026-W48".to_owned()), (5, "2026-W48".to_owned())]
        );
        let finding = &check(&weekly(6), &records, &RuleSettings::default())[0].1;
        let measured = finding.measured.expect("measured");
        assert_eq!((measured.value, measured.limit), (7.0, 6.0));
    }

    #[test]
    fn an_exactly_full_week_is_fine() {
        let records = [
            visit(1, "2026-11-23T08:00:00Z", 3),
            visit(2, "2026-11-29T08:00:00Z", 3),
        ];
        assert!(flagged(&weekly(6), &records).is_empty());
    }

    #[test]
    fn sunday_night_utc_is_monday_in_rome() {
        // 23:30 UTC on Sunday 29 November is 00:30 on Monday 30 November in Rome: week 49.
        let records = [
            visit(1, "2026-11-23T08:00:00Z", 6),
            visit(2, "2026-11-29T23:30:00Z", 1),
        ];
        assert!(flagged(&weekly(6), &records).is_empty());
    }

    #[test]
    fn months_of_different_lengths_and_the_year_end() {
        let monthly = Allowance {
            period: AllowancePeriod::Month,
            allowance_milli: 2 * MILLI,
            ..weekly(0)
        };
        let records = [
            visit(1, "2028-02-28T08:00:00Z", 1),
            visit(2, "2028-02-29T08:00:00Z", 1),
            // 1 March in Rome, though still 29 February in UTC.
            visit(3, "2028-02-29T23:30:00Z", 1),
            visit(4, "2026-12-31T08:00:00Z", 2),
            visit(5, "2026-12-31T23:30:00Z", 1),
        ];
        let monthly = Allowance {
            to: d(2028, 12, 31),
            ..monthly
        };
        assert!(flagged(&monthly, &records).is_empty());
    }

    #[test]
    fn records_outside_the_planned_window_do_not_count() {
        let allowance = Allowance {
            from: d(2026, 11, 25),
            ..weekly(2)
        };
        let records = [
            visit(1, "2026-11-23T08:00:00Z", 5),
            visit(2, "2026-11-25T08:00:00Z", 2),
        ];
        assert!(flagged(&allowance, &records).is_empty());
    }

    #[test]
    fn a_disabled_rule_finds_nothing() {
        let mut settings = RuleSettings::default();
        settings.set(RuleCode::OverAllowance, false, None);
        let records = [visit(1, "2026-11-23T08:00:00Z", 9)];
        assert!(check(&weekly(6), &records, &settings).is_empty());
    }

    fn instants() -> impl Strategy<Value = DateTime<Utc>> {
        // Two years around both DST switches of 2026 and 2027, at minute resolution.
        (0i64..(2 * 366 * 24 * 60)).prop_map(|minutes| {
            "2026-01-01T00:00:00Z"
                .parse::<DateTime<Utc>>()
                .expect("instant")
                + chrono::Duration::minutes(minutes)
        })
    }

    fn records() -> impl Strategy<Value = Vec<Counted>> {
        prop::collection::vec((instants(), 0i64..5_000), 0..60).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (started_at, quantity_milli))| Counted {
                    id: Uuid::from_u128(i as u128 + 1),
                    started_at,
                    quantity_milli,
                })
                .collect()
        })
    }

    fn allowances() -> impl Strategy<Value = Allowance> {
        (
            prop_oneof![Just(AllowancePeriod::Week), Just(AllowancePeriod::Month)],
            1i64..12_000,
            0i64..400,
            0i64..400,
        )
            .prop_map(|(period, allowance_milli, start, len)| {
                let from = d(2026, 1, 1) + chrono::Duration::days(start);
                Allowance {
                    planned_service_id: PLANNED,
                    unit: ServiceUnit::Hour,
                    period,
                    allowance_milli,
                    from,
                    to: from + chrono::Duration::days(len),
                }
            })
    }

    proptest! {
        /// A record is flagged exactly when the quantity delivered in its Rome-calendar period
        /// up to and including it passes the allowance, whatever the order of the input.
        #[test]
        fn flagged_exactly_when_the_running_total_passes(
            allowance in allowances(),
            records in records(),
            rotation in 0usize..60,
        ) {
            let mut shuffled = records.clone();
            if !shuffled.is_empty() {
                let by = rotation % shuffled.len();
                shuffled.rotate_left(by);
            }
            let found: std::collections::HashSet<Uuid> =
                check(&allowance, &shuffled, &RuleSettings::default())
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
            for r in &records {
                let day = civil_time::local_date(r.started_at);
                let inside = allowance.from <= day && day <= allowance.to;
                let (_, from, to) = period_of(allowance.period, day);
                let before: i64 = records
                    .iter()
                    .filter(|o| {
                        let od = civil_time::local_date(o.started_at);
                        od >= from && od <= to
                            && od >= allowance.from && od <= allowance.to
                            && (o.started_at, o.id) <= (r.started_at, r.id)
                    })
                    .map(|o| o.quantity_milli)
                    .sum();
                prop_assert_eq!(
                    found.contains(&r.id),
                    inside && before > allowance.allowance_milli,
                    "record {:?} on {} total {}", r, day, before
                );
            }
        }

        /// Every day belongs to exactly one period, which contains it and is a week or month.
        #[test]
        fn periods_partition_the_calendar(instant in instants(), weekly in any::<bool>()) {
            let period = if weekly { AllowancePeriod::Week } else { AllowancePeriod::Month };
            let day = civil_time::local_date(instant);
            let (label, from, to) = period_of(period, day);
            prop_assert!(from <= day && day <= to);
            let length = (to - from).num_days() + 1;
            if weekly {
                prop_assert_eq!(length, 7);
                prop_assert_eq!(from.weekday(), chrono::Weekday::Mon);
            } else {
                prop_assert!((28..=31).contains(&length));
                prop_assert_eq!(from.day(), 1);
            }
            // The neighbouring days of the bounds are in other periods.
            prop_assert_ne!(period_of(period, from - chrono::Duration::days(1)).0, label.clone());
            prop_assert_ne!(period_of(period, to + chrono::Duration::days(1)).0, label);
        }
    }
}
