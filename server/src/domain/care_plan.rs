//! Rules about care plans (PAI): their lifecycle and the shape of their planned services.

use chrono::NaiveDate;

use super::{FieldError, period::DatePeriod};

wire_enum!(
    /// Where a plan is in its life. A plan is closed, never deleted.
    PlanStatus {
        /// Being written; not yet agreed.
        Draft => "draft",
        /// Agreed and in force: services are delivered against it.
        Active => "active",
        /// Temporarily on hold (hospital stay, holiday...).
        Suspended => "suspended",
        /// Ended; read-only.
        Closed => "closed",
    }
);

/// A lifecycle step a social worker can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanTransition {
    /// draft -> active
    Activate,
    /// active -> suspended (reason required)
    Suspend,
    /// suspended -> active
    Resume,
    /// draft | active | suspended -> closed
    Close,
}

impl PlanTransition {
    /// The status the plan moves to, or `None` when the step is not allowed from `from`.
    pub fn apply(self, from: PlanStatus) -> Option<PlanStatus> {
        use PlanStatus::*;
        match (self, from) {
            (Self::Activate, Draft) => Some(Active),
            (Self::Suspend, Active) => Some(Suspended),
            (Self::Resume, Suspended) => Some(Active),
            (Self::Close, Draft | Active | Suspended) => Some(Closed),
            _ => None,
        }
    }

    /// Whether the step needs a written reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Suspend | Self::Close)
    }
}

/// A planned service as submitted, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedServiceDraft {
    /// Allowance in thousandths of the service's unit.
    pub allowance_milli: i64,
    /// Optional narrower window inside the plan's validity.
    pub valid_from: Option<NaiveDate>,
    /// Optional narrower window inside the plan's validity.
    pub valid_to: Option<NaiveDate>,
}

/// Checks a plan's period and its planned services; fields are named as in the request body.
pub fn check_plan(
    valid_from: NaiveDate,
    valid_to: NaiveDate,
    services: &[PlannedServiceDraft],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(plan_period) = DatePeriod::new(valid_from, valid_to) else {
        errors.push(FieldError::new(
            "valid_to",
            "the plan ends before it starts",
        ));
        return errors;
    };
    for (i, service) in services.iter().enumerate() {
        let field = |name: &str| format!("planned_services[{i}].{name}");
        if service.allowance_milli <= 0 {
            errors.push(FieldError::new(
                field("allowance"),
                "must be greater than zero",
            ));
        }
        let start = service.valid_from.unwrap_or(plan_period.start());
        let end = service.valid_to.unwrap_or(plan_period.end());
        match DatePeriod::new(start, end) {
            None => errors.push(FieldError::new(field("valid_to"), "ends before it starts")),
            Some(window) if !plan_period.covers(&window) => errors.push(FieldError::new(
                field(if plan_period.contains(start) {
                    "valid_to"
                } else {
                    "valid_from"
                }),
                "outside the plan's validity period",
            )),
            Some(_) => {}
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn service(from: Option<NaiveDate>, to: Option<NaiveDate>) -> PlannedServiceDraft {
        PlannedServiceDraft {
            allowance_milli: 6000,
            valid_from: from,
            valid_to: to,
        }
    }

    #[test]
    fn lifecycle_allows_only_the_agreed_steps() {
        use PlanStatus::*;
        assert_eq!(PlanTransition::Activate.apply(Draft), Some(Active));
        assert_eq!(PlanTransition::Suspend.apply(Active), Some(Suspended));
        assert_eq!(PlanTransition::Resume.apply(Suspended), Some(Active));
        assert_eq!(PlanTransition::Close.apply(Suspended), Some(Closed));
        assert_eq!(PlanTransition::Activate.apply(Closed), None);
        assert_eq!(PlanTransition::Resume.apply(Active), None);
        assert_eq!(PlanTransition::Close.apply(Closed), None);
    }

    #[test]
    fn planned_services_must_fit_the_plan_period() {
        let errors = check_plan(
            d(2026, 1, 1),
            d(2026, 6, 30),
            &[
                service(None, None),
                service(Some(d(2026, 2, 1)), Some(d(2026, 7, 31))),
                service(Some(d(2025, 12, 1)), None),
            ],
        );
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "planned_services[1].valid_to",
                "planned_services[2].valid_from"
            ]
        );
    }

    #[test]
    fn a_plan_cannot_end_before_it_starts() {
        let errors = check_plan(d(2026, 6, 1), d(2026, 5, 1), &[]);
        assert_eq!(errors[0].field, "valid_to");
    }

    #[test]
    fn allowances_must_be_positive() {
        let mut zero = service(None, None);
        zero.allowance_milli = 0;
        let errors = check_plan(d(2026, 1, 1), d(2026, 12, 31), &[zero]);
        assert_eq!(errors[0].field, "planned_services[0].allowance");
    }
}
