//! Rules about beneficiaries: identity consistency and pseudonyms.

use chrono::NaiveDate;

use super::{
    FieldError,
    tax_code::{Sex, TaxCode},
};

wire_enum!(
    /// Whether a beneficiary is followed or only kept in the archive (nothing is ever deleted).
    BeneficiaryStatus {
        /// Taken in charge.
        Active => "active",
        /// No longer followed; kept for the public archive.
        Archived => "archived",
    }
);

/// Sex as stored (`M`/`F`, as in the tax code and ISTAT tables).
pub fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

/// Parses a stored sex code.
pub fn parse_sex(code: &str) -> Option<Sex> {
    match code {
        "M" => Some(Sex::Male),
        "F" => Some(Sex::Female),
        _ => None,
    }
}

/// The birth date and sex typed by the social worker must agree with the tax code, which
/// encodes both: a mismatch is a typing error in one of them, caught before it spreads.
pub fn check_identity(
    tax_code: &TaxCode,
    birth_date: NaiveDate,
    sex: Sex,
    today: NaiveDate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if birth_date > today {
        errors.push(FieldError::new("birth_date", "birth date is in the future"));
    } else if tax_code.birth_date(today) != Some(birth_date) {
        errors.push(FieldError::new(
            "birth_date",
            "birth date does not match the tax code",
        ));
    }
    if tax_code.sex() != sex {
        errors.push(FieldError::new("sex", "sex does not match the tax code"));
    }
    errors
}

/// Whether `code` looks like an ISO 3166-1 alpha-2 country code.
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// A pseudonym for statistics and accounting: random, so it cannot be computed back from the
/// tax code (a hash of a 16-character code with known structure is easy to brute-force).
pub fn pseudonym(random: [u8; 5]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bits = random
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let code: String = (0..8)
        .map(|i| ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char)
        .collect();
    format!("B-{code}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tax_code::compose;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn identity_must_agree_with_the_tax_code() {
        let birth = d(1941, 5, 3);
        let code = compose("Bianchi", "Anna", birth, Sex::Female, "F205").expect("code");
        let today = d(2026, 11, 23);
        assert!(check_identity(&code, birth, Sex::Female, today).is_empty());
        let wrong = check_identity(&code, d(1941, 5, 4), Sex::Male, today);
        let fields: Vec<_> = wrong.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["birth_date", "sex"]);
    }

    #[test]
    fn pseudonyms_are_short_and_unambiguous() {
        let p = pseudonym([0xff, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(p.len(), 10);
        assert!(p.starts_with("B-"));
        assert!(!p.contains('0') && !p.contains('O') && !p.contains('1') && !p.contains('I'));
        assert_ne!(p, pseudonym([0xff, 0x00, 0x12, 0x34, 0x57]));
    }

    #[test]
    fn country_codes_are_two_capital_letters() {
        assert!(is_country_code("IT"));
        assert!(!is_country_code("it"));
        assert!(!is_country_code("ITA"));
    }
}
