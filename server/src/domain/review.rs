//! The reviewer's decisions about findings (DESIGN.md §4): a warning may be acknowledged with a
//! reason; a blocking finding stops a validation unless the reviewer overrides it, with a
//! reason; a bulk validation takes only the records nothing stops.

use uuid::Uuid;

use super::{
    rules::{RuleCode, Severity},
    service_record::{RecordStatus, ReviewAction},
};

wire_enum!(
    /// How a reviewer dealt with a finding.
    AcknowledgementKind {
        /// A warning seen and accepted.
        Acknowledged => "acknowledged",
        /// A blocking finding set aside to validate the record anyway.
        Overridden => "overridden",
    }
);

/// A stored finding as the review sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingState {
    pub code: RuleCode,
    pub severity: Severity,
    /// What a reviewer already did about it.
    pub dealt_with: Option<AcknowledgementKind>,
}

/// Why a record cannot be validated as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The record's status does not allow a validation.
    Status(RecordStatus),
    /// Blocking findings nobody overrode.
    Blocking(Vec<RuleCode>),
    /// The month is in an approved statement.
    Locked,
}

/// Whether the record may be validated; `Ok` carries the blocking findings an override now
/// sets aside (empty without one).
pub fn validation(
    status: RecordStatus,
    findings: &[FindingState],
    overriding: bool,
) -> Result<Vec<RuleCode>, Refusal> {
    if ReviewAction::Validate.apply(status).is_none() {
        return Err(Refusal::Status(status));
    }
    let mut open: Vec<RuleCode> = findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Blocking
                && f.dealt_with != Some(AcknowledgementKind::Overridden)
        })
        .map(|f| f.code)
        .collect();
    open.dedup();
    match (open.is_empty(), overriding) {
        (true, _) => Ok(Vec::new()),
        (false, true) => Ok(open),
        (false, false) => Err(Refusal::Blocking(open)),
    }
}

/// Whether a finding with `code` can be acknowledged: only warnings can; a blocking finding is
/// overridden when validating.
pub fn may_acknowledge(findings: &[FindingState], code: RuleCode) -> Result<(), Option<Severity>> {
    let mut matching = findings.iter().filter(|f| f.code == code).peekable();
    if matching.peek().is_none() {
        return Err(None);
    }
    if matching.any(|f| f.severity == Severity::Blocking) {
        return Err(Some(Severity::Blocking));
    }
    Ok(())
}

/// The most records one bulk validation takes: a month of a large provider, while keeping the
/// transaction short enough not to hold up the devices' sync.
pub const BULK_LIMIT: usize = 20_000;

/// A candidate of a bulk validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub status: RecordStatus,
    pub locked: bool,
    pub findings: Vec<FindingState>,
}

/// Splits the candidates of a bulk validation into the validated and the skipped, with why.
pub fn bulk(candidates: Vec<Candidate>) -> (Vec<Uuid>, Vec<(Uuid, Refusal)>) {
    let mut validated = Vec::new();
    let mut skipped = Vec::new();
    for c in candidates {
        if c.locked {
            skipped.push((c.id, Refusal::Locked));
            continue;
        }
        match validation(c.status, &c.findings, false) {
            Ok(_) => validated.push(c.id),
            Err(refusal) => skipped.push((c.id, refusal)),
        }
    }
    (validated, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        code: RuleCode,
        severity: Severity,
        dealt_with: Option<AcknowledgementKind>,
    ) -> FindingState {
        FindingState {
            code,
            severity,
            dealt_with,
        }
    }

    #[test]
    fn blocking_findings_stop_a_validation_unless_overridden() {
        let late = f(RuleCode::RecordedLate, Severity::Warning, None);
        let overlap = f(RuleCode::OperatorOverlap, Severity::Blocking, None);
        assert_eq!(
            validation(RecordStatus::Recorded, &[late], false),
            Ok(vec![])
        );
        assert_eq!(
            validation(RecordStatus::Recorded, &[late, overlap], false),
            Err(Refusal::Blocking(vec![RuleCode::OperatorOverlap]))
        );
        assert_eq!(
            validation(RecordStatus::Recorded, &[late, overlap], true),
            Ok(vec![RuleCode::OperatorOverlap])
        );
        let overridden = f(
            RuleCode::OperatorOverlap,
            Severity::Blocking,
            Some(AcknowledgementKind::Overridden),
        );
        assert_eq!(
            validation(RecordStatus::Amended, &[overridden], false),
            Ok(vec![])
        );
        assert_eq!(
            validation(RecordStatus::Validated, &[], true),
            Err(Refusal::Status(RecordStatus::Validated))
        );
    }

    #[test]
    fn only_warnings_are_acknowledged() {
        let findings = [
            f(RuleCode::RecordedLate, Severity::Warning, None),
            f(RuleCode::LikelyDuplicate, Severity::Blocking, None),
        ];
        assert_eq!(may_acknowledge(&findings, RuleCode::RecordedLate), Ok(()));
        assert_eq!(
            may_acknowledge(&findings, RuleCode::LikelyDuplicate),
            Err(Some(Severity::Blocking))
        );
        assert_eq!(
            may_acknowledge(&findings, RuleCode::FarFromAddress),
            Err(None)
        );
    }

    #[test]
    fn a_bulk_validation_takes_what_nothing_stops() {
        let id = |n| Uuid::from_u128(n);
        let candidate = |n, status, locked, findings| Candidate {
            id: id(n),
            status,
            locked,
            findings,
        };
        let (validated, skipped) = bulk(vec![
            candidate(1, RecordStatus::Recorded, false, vec![]),
            candidate(
                2,
                RecordStatus::Recorded,
                false,
                vec![f(RuleCode::LikelyDuplicate, Severity::Blocking, None)],
            ),
            candidate(3, RecordStatus::Rejected, false, vec![]),
            candidate(4, RecordStatus::Amended, true, vec![]),
            candidate(
                5,
                RecordStatus::Amended,
                false,
                vec![f(RuleCode::RecordedLate, Severity::Warning, None)],
            ),
        ]);
        assert_eq!(validated, vec![id(1), id(5)]);
        assert_eq!(
            skipped,
            vec![
                (id(2), Refusal::Blocking(vec![RuleCode::LikelyDuplicate])),
                (id(3), Refusal::Status(RecordStatus::Rejected)),
                (id(4), Refusal::Locked),
            ]
        );
    }
}
