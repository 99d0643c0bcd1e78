//! Date periods: a plan's validity and the windows of its planned services. Both ends included,
//! as in the plans social workers sign ("dal 1 marzo al 31 agosto").

use chrono::NaiveDate;

/// An inclusive range of calendar days; `start <= end` by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatePeriod {
    start: NaiveDate,
    end: NaiveDate,
}

impl DatePeriod {
    /// A period, or `None` when it would end before it starts.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    /// First day.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Last day.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Whether `day` falls in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }

    /// Whether `other` lies entirely inside this period.
    pub fn covers(&self, other: &DatePeriod) -> bool {
        self.contains(other.start) && self.contains(other.end)
    }

    /// Number of days, both ends counted.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }
}

wire_enum!(
    /// The window an allowance is counted over.
    AllowancePeriod {
        /// ISO week, Monday to Sunday.
        Week => "week",
        /// Calendar month.
        Month => "month",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn a_period_cannot_end_before_it_starts() {
        assert!(DatePeriod::new(d(2026, 3, 2), d(2026, 3, 1)).is_none());
        assert!(DatePeriod::new(d(2026, 3, 1), d(2026, 3, 1)).is_some());
    }

    #[test]
    fn both_ends_are_included() {
        let p = DatePeriod::new(d(2026, 3, 1), d(2026, 8, 31)).expect("period");
        assert!(p.contains(d(2026, 3, 1)));
        assert!(p.contains(d(2026, 8, 31)));
        assert!(!p.contains(d(2026, 9, 1)));
        assert_eq!(p.days(), 184);
    }

    #[test]
    fn covers_needs_both_ends_inside() {
        let plan = DatePeriod::new(d(2026, 1, 1), d(2026, 12, 31)).expect("plan");
        let inside = DatePeriod::new(d(2026, 2, 1), d(2026, 2, 28)).expect("inside");
        let across = DatePeriod::new(d(2026, 12, 1), d(2027, 1, 31)).expect("across");
        assert!(plan.covers(&inside));
        assert!(!plan.covers(&across));
    }

    #[test]
    fn leap_years_count_their_extra_day() {
        let feb = DatePeriod::new(d(2028, 2, 1), d(2028, 2, 29)).expect("leap february");
        assert_eq!(feb.days(), 29);
    }
}
