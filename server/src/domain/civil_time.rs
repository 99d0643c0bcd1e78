//! Italian civil time. Plans, weeks and months are days in Rome, while instants are stored in
//! UTC: a visit at 00:30 on a Monday in Rome is 23:30 UTC on Sunday, and it counts in Monday's
//! week. chrono-tz carries the DST rules, so a 23- or 25-hour day needs no special case here.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::{Europe::Rome, Tz};

/// The time zone of every municipality we serve.
pub const ZONE: Tz = Rome;

/// The day in Rome at `instant`.
pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&ZONE).date_naive()
}

/// The first instant of `day` in Rome. Midnight always exists in Rome (DST switches at 02:00),
/// but the earliest of an ambiguous or the next valid instant is taken rather than assume so.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match ZONE.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // A gap at midnight: the day starts when the clocks resume, one hour later.
        chrono::LocalResult::None => (midnight + chrono::Duration::hours(1)).and_utc(),
    }
}

/// The ISO week (year, week) `day` belongs to.
pub fn iso_week(day: NaiveDate) -> (i32, u32) {
    let week = day.iso_week();
    (week.year(), week.week())
}

/// The first and last day of the ISO week containing `day`.
pub fn week_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()));
    (monday, monday + chrono::Duration::days(6))
}

/// The first and last day of the month containing `day`.
pub fn month_bounds(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    (first, next.map_or(first, |n| n - chrono::Duration::days(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn days_follow_rome_in_winter_and_summer() {
        // 23:30 UTC is already tomorrow in Rome: +1 in winter, +2 in summer.
        assert_eq!(local_date(at("2026-01-04T23:30:00Z")), d(2026, 1, 5));
        assert_eq!(local_date(at("2026-07-05T22:30:00Z")), d(2026, 7, 6));
        assert_eq!(local_date(at("2026-07-05T21:59:00Z")), d(2026, 7, 5));
    }

    #[test]
    fn days_start_at_local_midnight_across_dst() {
        assert_eq!(start_of_day(d(2026, 1, 5)), at("2026-01-04T23:00:00Z"));
        assert_eq!(start_of_day(d(2026, 7, 6)), at("2026-07-05T22:00:00Z"));
        // 29 March 2026 lasts 23 hours, 25 October 2026 lasts 25.
        assert_eq!(
            (start_of_day(d(2026, 3, 30)) - start_of_day(d(2026, 3, 29))).num_hours(),
            23
        );
        assert_eq!(
            (start_of_day(d(2026, 10, 26)) - start_of_day(d(2026, 10, 25))).num_hours(),
            25
        );
    }

    #[test]
    fn weeks_and_months_have_their_calendar_bounds() {
        assert_eq!(iso_week(d(2027, 1, 1)), (2026, 53));
        assert_eq!(
            week_bounds(d(2026, 11, 25)),
            (d(2026, 11, 23), d(2026, 11, 29))
        );
        assert_eq!(
            month_bounds(d(2028, 2, 10)),
            (d(2028, 2, 1), d(2028, 2, 29))
        );
        assert_eq!(
            month_bounds(d(2026, 12, 31)),
            (d(2026, 12, 1), d(2026, 12, 31))
        );
    }
}
