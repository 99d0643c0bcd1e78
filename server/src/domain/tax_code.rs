//! Italian *codice fiscale* (tax code) of natural persons.
//!
//! Field workers type these codes by hand, often from paper documents, so the
//! module validates them fully (structure, date, check character) to catch
//! typos at entry, and exposes the data encoded in them (birth date, sex,
//! birth place) so that records can be cross-checked against it.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

const LEN: usize = 16;
/// Letters that stand for the digits 0-9 in omocodic codes.
const OMOCODE: &[u8; 10] = b"LMNPQRSTUV";
/// Month letters, January first.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
/// Zero-based indices of the seven positions holding digits or their omocodic letters.
const DIGIT_POS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];
/// Check-character weights of 0-9 / A-Z at odd (1-based) positions.
const ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Sex as encoded in the tax code (the day of birth is increased by 40 for women).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Day of birth stored as is (1-31).
    Male,
    /// Day of birth stored plus 40 (41-71).
    Female,
}

/// Why a string is not a valid tax code; messages are meant to be shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxCodeError {
    /// The trimmed input does not have exactly 16 characters (the count is attached).
    #[error("tax code must be 16 characters long, got {0}")]
    WrongLength(usize),
    /// A character is not allowed at this 1-based position.
    #[error("invalid character at position {0}")]
    InvalidCharacter(usize),
    /// Position 9 is a letter that does not stand for any month.
    #[error("invalid month letter '{0}'")]
    InvalidMonth(char),
    /// The encoded day is outside 1-31 and 41-71.
    #[error("invalid day of birth {0}")]
    InvalidDay(u32),
    /// The day does not exist in the encoded month (e.g. 30 February).
    #[error("invalid date of birth: day {day} does not exist in month {month}")]
    InvalidDate {
        /// Day of the month, already stripped of the +40 for women.
        day: u32,
        /// Month number, 1-12.
        month: u32,
    },
    /// The last character does not match the one computed from the first 15.
    #[error("invalid check character (expected {expected})")]
    InvalidCheckCharacter {
        /// The check character the first 15 characters call for.
        expected: char,
    },
    /// A birth place (Belfiore) code given to [`compose`] is not a letter and three digits.
    #[error("invalid birth place code: expected a letter followed by three digits")]
    InvalidBirthPlace,
    /// A name given to [`compose`] has no letters or has characters that cannot be transliterated.
    #[error("invalid name: only Latin letters, spaces, apostrophes and hyphens are allowed")]
    InvalidName,
}

/// A validated tax code, uppercase and trimmed, kept as typed (omocodic letters included).
///
/// Both fields are always ASCII, which makes the byte indexing below safe.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode {
    /// The 16-character code.
    code: String,
    /// The birth place code with omocodia decoded, kept so that
    /// [`TaxCode::birth_place_code`] can lend a `&str` even when the code holds letters there.
    birth_place: String,
}

impl TaxCode {
    /// Validates `input` (surrounding whitespace and case are ignored), so that
    /// only well-formed codes with an existing birth date and matching check
    /// character can enter the system.
    pub fn parse(input: &str) -> Result<Self, TaxCodeError> {
        let trimmed = input.trim();
        let count = trimmed.chars().count();
        if count != LEN {
            return Err(TaxCodeError::WrongLength(count));
        }
        let mut code = [0u8; LEN];
        for (i, c) in trimmed.chars().enumerate() {
            let c = c.to_ascii_uppercase();
            let ok = if DIGIT_POS.contains(&i) {
                c.is_ascii_digit() || (c.is_ascii() && OMOCODE.contains(&(c as u8)))
            } else {
                c.is_ascii_uppercase()
            };
            if !ok {
                return Err(TaxCodeError::InvalidCharacter(i + 1));
            }
            // Checked ASCII just above, so the cast cannot truncate.
            code[i] = c as u8;
        }
        let month = MONTHS
            .iter()
            .zip(1u32..)
            .find_map(|(&m, n)| (m == code[8]).then_some(n))
            .ok_or(TaxCodeError::InvalidMonth(char::from(code[8])))?;
        let digits = decode_digits(&code);
        let raw_day = two_digits(&digits, 9);
        if !(1..=31).contains(&raw_day) && !(41..=71).contains(&raw_day) {
            return Err(TaxCodeError::InvalidDay(raw_day));
        }
        let day = raw_day % 40;
        // Without a reference date the century is unknown; "00" is the only
        // year whose leapness differs between 1900 and 2000, and it is accepted
        // here because 2000 was leap (birth_date() rejects 1900-02-29 later).
        let leap = two_digits(&digits, 6).is_multiple_of(4);
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day > days_in_month {
            return Err(TaxCodeError::InvalidDate { day, month });
        }
        let expected = check_char(&code[..LEN - 1]);
        if code[LEN - 1] != expected {
            return Err(TaxCodeError::InvalidCheckCharacter {
                expected: char::from(expected),
            });
        }
        Ok(Self::from_valid(&code))
    }

    /// Builds the inner representation from an already validated code.
    fn from_valid(code: &[u8; LEN]) -> Self {
        let digits = decode_digits(code);
        Self {
            code: code.iter().map(|&b| char::from(b)).collect(),
            birth_place: digits[11..15].iter().map(|&b| char::from(b)).collect(),
        }
    }

    /// The normalized 16-character code, as it should be stored and displayed.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Birth date, choosing the century that keeps it not after `today`, since
    /// the code only carries two year digits. `None` only for 29 February of a
    /// "00" year that resolves to 1900, which was not a leap year.
    pub fn birth_date(&self, today: NaiveDate) -> Option<NaiveDate> {
        let digits = decode_digits(self.code.as_bytes());
        let yy = i32::try_from(two_digits(&digits, 6)).ok()?;
        let month = MONTHS.iter().position(|&m| m == digits[8])?;
        let month = u32::try_from(month).ok()? + 1;
        let day = two_digits(&digits, 9) % 40;
        match NaiveDate::from_ymd_opt(2000 + yy, month, day) {
            Some(date) if date <= today => Some(date),
            _ => NaiveDate::from_ymd_opt(1900 + yy, month, day),
        }
    }

    /// Sex encoded in the day of birth.
    pub fn sex(&self) -> Sex {
        if two_digits(&decode_digits(self.code.as_bytes()), 9) > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    /// Belfiore code of the birth place (municipality, or "Z" + country), with
    /// omocodia decoded so it can be looked up directly, e.g. "H501" for Rome.
    pub fn birth_place_code(&self) -> &str {
        &self.birth_place
    }

    /// Whether any digit was replaced by a letter, which the Agenzia delle
    /// Entrate does when two people would otherwise share the same code.
    pub fn is_omocode(&self) -> bool {
        let bytes = self.code.as_bytes();
        DIGIT_POS.iter().any(|&i| bytes[i].is_ascii_uppercase())
    }

    /// The omocodic variant with the last `level` digit positions (right to
    /// left, as the Agenzia assigns them) replaced by letters and the check
    /// character recomputed; `level` above 7 is treated as 7, and 0 gives the
    /// plain code. Useful to generate demo data and test omocode handling.
    pub fn with_omocodia(&self, level: usize) -> TaxCode {
        let mut code = decode_digits(self.code.as_bytes());
        for &i in DIGIT_POS.iter().rev().take(level) {
            code[i] = OMOCODE[usize::from(code[i] - b'0')];
        }
        code[LEN - 1] = check_char(&code[..LEN - 1]);
        Self::from_valid(&code)
    }
}

/// Copies the first 16 bytes of a code, turning omocodic letters back into digits.
fn decode_digits(code: &[u8]) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    for (o, &b) in out.iter_mut().zip(code) {
        *o = b;
    }
    for i in DIGIT_POS {
        if let Some(d) = OMOCODE.iter().position(|&l| l == out[i]) {
            out[i] = b"0123456789"[d];
        }
    }
    out
}

/// The number made by the two (decoded) digits at `start` and `start + 1`.
fn two_digits(digits: &[u8; LEN], start: usize) -> u32 {
    u32::from(digits[start].wrapping_sub(b'0')) * 10
        + u32::from(digits[start + 1].wrapping_sub(b'0'))
}

/// Check character of the first 15 characters, per the official odd/even tables.
fn check_char(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let v = match b {
                b'0'..=b'9' => b - b'0',
                b'A'..=b'Z' => b - b'A',
                _ => 0,
            };
            // Index 0 is position 1, an odd position.
            if i % 2 == 0 {
                ODD[usize::from(v)]
            } else {
                u32::from(v)
            }
        })
        .sum();
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(sum % 26) as usize]
}

impl FromStr for TaxCode {
    type Err = TaxCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TaxCode {
    type Error = TaxCodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TaxCode> for String {
    fn from(code: TaxCode) -> Self {
        code.as_str().to_owned()
    }
}

impl AsRef<str> for TaxCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Hand-written to show the code alone, as it is written on documents.
impl fmt::Debug for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaxCode").field(&self.as_str()).finish()
    }
}

/// Computes the tax code the Agenzia delle Entrate would assign (barring
/// omocodia), to generate realistic demo and test data. Accents, apostrophes,
/// spaces and hyphens in names are ignored; `birth_place_code` is a Belfiore
/// code such as "H501" (Rome) or "Z404" (USA).
pub fn compose(
    family_name: &str,
    given_name: &str,
    birth_date: NaiveDate,
    sex: Sex,
    birth_place_code: &str,
) -> Result<TaxCode, TaxCodeError> {
    let mut body = Vec::with_capacity(LEN);
    body.extend(name_part(&name_letters(family_name)?, false));
    body.extend(name_part(&name_letters(given_name)?, true));
    body.extend(format!("{:02}", birth_date.year().rem_euclid(100)).bytes());
    body.push(MONTHS[birth_date.month0() as usize]);
    let day = birth_date.day() + if sex == Sex::Female { 40 } else { 0 };
    body.extend(format!("{day:02}").bytes());
    let place = birth_place_code.trim().to_ascii_uppercase();
    let place = place.as_bytes();
    let place_ok = place.len() == 4
        && place[0].is_ascii_uppercase()
        && place[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || OMOCODE.contains(b));
    if !place_ok {
        return Err(TaxCodeError::InvalidBirthPlace);
    }
    body.extend(place);
    let mut code = decode_digits(&body);
    code[LEN - 1] = check_char(&code[..LEN - 1]);
    // Parsing again keeps a single source of truth for what is valid.
    TaxCode::parse(&code.iter().map(|&b| char::from(b)).collect::<String>())
}

/// Uppercase ASCII letters of a name, transliterating common accented letters.
fn name_letters(name: &str) -> Result<Vec<u8>, TaxCodeError> {
    let mut out = Vec::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_uppercase() as u8);
        } else if let Some(b) = fold_accent(c) {
            out.push(b);
        } else if !matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '.') {
            return Err(TaxCodeError::InvalidName);
        }
    }
    if out.is_empty() {
        Err(TaxCodeError::InvalidName)
    } else {
        Ok(out)
    }
}

/// Base letter of a common accented Latin letter (the Agenzia drops diacritics).
fn fold_accent(c: char) -> Option<u8> {
    Some(match c.to_lowercase().next()? {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => b'A',
        'è' | 'é' | 'ê' | 'ë' => b'E',
        'ì' | 'í' | 'î' | 'ï' => b'I',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => b'O',
        'ù' | 'ú' | 'û' | 'ü' => b'U',
        'ç' | 'č' | 'ć' => b'C',
        'ñ' | 'ń' => b'N',
        'š' | 'ś' => b'S',
        'ž' | 'ź' | 'ż' => b'Z',
        'ł' => b'L',
        'ý' | 'ÿ' => b'Y',
        _ => return None,
    })
}

/// Three letters for a name: consonants, then vowels, then X padding; given
/// names with four or more consonants use the 1st, 3rd and 4th consonant.
fn name_part(letters: &[u8], given: bool) -> [u8; 3] {
    let (vowels, consonants): (Vec<u8>, Vec<u8>) =
        letters.iter().partition(|b| b"AEIOU".contains(b));
    if given && consonants.len() >= 4 {
        return [consonants[0], consonants[2], consonants[3]];
    }
    let mut out = [b'X'; 3];
    for (slot, &b) in out.iter_mut().zip(consonants.iter().chain(&vowels)) {
        *slot = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSSI: &str = "RSSMRA85T10A562S";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn today() -> NaiveDate {
        date(2024, 6, 1)
    }

    fn tc(s: &str) -> TaxCode {
        TaxCode::parse(s).expect(s)
    }

    /// Appends the correct check character, to build codes that fail only where intended.
    fn with_check(body: &str) -> String {
        format!("{body}{}", char::from(check_char(body.as_bytes())))
    }

    #[test]
    fn classic_example_is_valid() {
        // By hand: odd positions R S R 8 T 0 5 2 weigh 8+12+8+19+14+1+13+5 = 80,
        // even positions S M A 5 1 A 6 weigh 18+12+0+5+1+0+6 = 42; 122 % 26 = 18 = 'S'.
        assert_eq!(check_char(b"RSSMRA85T10A562"), b'S');
        let code = tc(ROSSI);
        assert_eq!(code.as_str(), ROSSI);
        assert_eq!(code.to_string(), ROSSI);
        assert_eq!(code.birth_date(today()), Some(date(1985, 12, 10)));
        assert_eq!(code.sex(), Sex::Male);
        assert_eq!(code.birth_place_code(), "A562");
        assert!(!code.is_omocode());
        assert_eq!(format!("{code:?}"), "TaxCode(\"RSSMRA85T10A562S\")");
    }

    #[test]
    fn lowercase_and_whitespace_are_normalized() {
        let code: TaxCode = " rssmra85t10a562s\n".parse().expect("valid");
        assert_eq!(code, tc(ROSSI));
        assert_eq!(code.as_str(), ROSSI);
    }

    #[test]
    fn wrong_check_character_is_rejected() {
        let err = TaxCode::parse("RSSMRA85T10A562T").expect_err("wrong check");
        assert_eq!(err, TaxCodeError::InvalidCheckCharacter { expected: 'S' });
        assert_eq!(err.to_string(), "invalid check character (expected S)");
        // A transposition of digits is caught by the check character too.
        assert!(TaxCode::parse("RSSMRA58T10A562S").is_err());
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert_eq!(TaxCode::parse(""), Err(TaxCodeError::WrongLength(0)));
        assert_eq!(TaxCode::parse("   "), Err(TaxCodeError::WrongLength(0)));
        assert_eq!(
            TaxCode::parse(&ROSSI[..15]),
            Err(TaxCodeError::WrongLength(15))
        );
        assert_eq!(
            TaxCode::parse(&format!("{ROSSI}X")),
            Err(TaxCodeError::WrongLength(17))
        );
    }

    #[test]
    fn invalid_characters_report_their_position() {
        let cases = [
            ("1SSMRA85T10A562S", 1),
            ("RSSMR_85T10A562S", 6),
            ("RSSMRA8AT10A562S", 8), // 'A' is not an omocodic letter
            ("RSSMRA85810A562S", 9),
            ("RSSMRA85T101562S", 12),
            ("RSSMRA85T10A56!S", 15),
            ("RSSMRA85T10A5625", 16),
            ("RSSMRA85T10A5 2S", 14),
        ];
        for (input, pos) in cases {
            assert_eq!(
                TaxCode::parse(input),
                Err(TaxCodeError::InvalidCharacter(pos)),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_month_letter_is_rejected() {
        for letter in ['F', 'G', 'I', 'Z'] {
            let input = with_check(&format!("RSSMRA85{letter}10A562"));
            assert_eq!(
                TaxCode::parse(&input),
                Err(TaxCodeError::InvalidMonth(letter))
            );
        }
    }

    #[test]
    fn out_of_range_days_are_rejected() {
        for day in ["00", "32", "39", "40", "72", "99"] {
            let input = with_check(&format!("RSSMRA85T{day}A562"));
            let expected: u32 = day.parse().expect("number");
            assert_eq!(
                TaxCode::parse(&input),
                Err(TaxCodeError::InvalidDay(expected)),
                "{day}"
            );
        }
    }

    #[test]
    fn nonexistent_dates_are_rejected() {
        let cases = [
            ("85B30", 30, 2),
            ("85D31", 31, 4),
            ("85B70", 30, 2),
            ("01B29", 29, 2),
            ("85B69", 29, 2),
        ];
        for (ymd, day, month) in cases {
            let input = with_check(&format!("RSSMRA{ymd}A562"));
            assert_eq!(
                TaxCode::parse(&input),
                Err(TaxCodeError::InvalidDate { day, month }),
                "{ymd}"
            );
        }
        assert!(TaxCode::parse(&with_check("RSSMRA84B29A562")).is_ok());
        assert!(TaxCode::parse(&with_check("RSSMRA85A31A562")).is_ok());
    }

    #[test]
    fn female_days_decode_sex_and_day() {
        // By hand from the classic example: position 10 goes from 1 to 5 (+4), 126 % 26 = 'W'.
        let maria = tc("RSSMRA85T50A562W");
        assert_eq!(maria.sex(), Sex::Female);
        assert_eq!(maria.birth_date(today()), Some(date(1985, 12, 10)));
        let first = tc(&with_check("RSSMRA85A41A562"));
        assert_eq!(
            (first.sex(), first.birth_date(today())),
            (Sex::Female, Some(date(1985, 1, 1)))
        );
        let last = tc(&with_check("RSSMRA85T71A562"));
        assert_eq!(
            (last.sex(), last.birth_date(today())),
            (Sex::Female, Some(date(1985, 12, 31)))
        );
        let male_last = tc(&with_check("RSSMRA85T31A562"));
        assert_eq!(male_last.sex(), Sex::Male);
    }

    #[test]
    fn century_is_chosen_relative_to_today() {
        let young = tc(&with_check("RSSMRA05T10A562"));
        assert_eq!(young.birth_date(today()), Some(date(2005, 12, 10)));
        let code = tc(&with_check("RSSMRA24T10A562"));
        assert_eq!(code.birth_date(today()), Some(date(1924, 12, 10)));
        assert_eq!(
            code.birth_date(date(2024, 12, 10)),
            Some(date(2024, 12, 10))
        );
        assert_eq!(code.birth_date(date(2030, 1, 1)), Some(date(2024, 12, 10)));
    }

    #[test]
    fn leap_day_of_year_00_depends_on_century() {
        let code = tc(&with_check("RSSMRA00B29A562"));
        assert_eq!(code.birth_date(today()), Some(date(2000, 2, 29)));
        // Before 2000 the code can only mean 1900, which was not a leap year.
        assert_eq!(code.birth_date(date(1999, 6, 1)), None);
    }

    #[test]
    fn omocodic_variants_decode_to_the_same_data() {
        let base = tc(ROSSI);
        // By hand: '2' -> 'N' at odd position 15 weighs 20 instead of 5, 137 % 26 = 'H';
        // then '6' -> 'S' at even position 14 weighs 18 instead of 6, 149 % 26 = 'T'.
        assert_eq!(base.with_omocodia(1).as_str(), "RSSMRA85T10A56NH");
        assert_eq!(base.with_omocodia(2).as_str(), "RSSMRA85T10A5SNT");
        for level in 0..=7 {
            let variant = base.with_omocodia(level);
            let reparsed = tc(&variant.as_str().to_lowercase());
            assert_eq!(reparsed, variant);
            assert_eq!(variant.is_omocode(), level > 0);
            assert_eq!(variant.birth_date(today()), Some(date(1985, 12, 10)));
            assert_eq!(variant.sex(), Sex::Male);
            assert_eq!(variant.birth_place_code(), "A562");
            assert_eq!(variant.with_omocodia(0), base);
        }
        assert_eq!(&base.with_omocodia(7).as_str()[6..15], "URTMLARSN");
        assert_eq!(base.with_omocodia(99), base.with_omocodia(7));
    }

    #[test]
    fn any_subset_of_omocodic_positions_is_accepted() {
        // Only the year's first digit replaced: not what the Agenzia issues first, but valid.
        let code = tc(&with_check("RSSMRAU5T10A562"));
        assert!(code.is_omocode());
        assert_eq!(code.birth_date(today()), Some(date(1985, 12, 10)));
        let female = tc(&with_check("RSSMRA85TR0A562"));
        assert_eq!(
            (female.sex(), female.birth_date(today())),
            (Sex::Female, Some(date(1985, 12, 10)))
        );
        // An omocodic day must still be a valid day.
        assert_eq!(
            TaxCode::parse(&with_check("RSSMRA85TP2A562")),
            Err(TaxCodeError::InvalidDay(32))
        );
    }

    #[test]
    fn non_ascii_input_never_panics() {
        assert_eq!(
            TaxCode::parse(&"é".repeat(8)),
            Err(TaxCodeError::WrongLength(8))
        );
        assert_eq!(
            TaxCode::parse("RSSMRA85T10A562é"),
            Err(TaxCodeError::InvalidCharacter(16))
        );
        assert_eq!(
            TaxCode::parse("ÀSSMRA85T10A562S"),
            Err(TaxCodeError::InvalidCharacter(1))
        );
        assert_eq!(
            TaxCode::parse(&"😀".repeat(16)),
            Err(TaxCodeError::InvalidCharacter(1))
        );
        assert_eq!(
            TaxCode::parse("ＲＳＳＭＲＡ８５Ｔ１０Ａ５６２Ｓ"),
            Err(TaxCodeError::InvalidCharacter(1))
        );
        let odd = [
            'é', 'ß', 'ı', 'İ', '😀', '\0', '\u{301}', '0', 'Z', 'a', '!', ' ',
        ];
        for pos in 0..LEN {
            for c in odd {
                let input: String = ROSSI
                    .chars()
                    .enumerate()
                    .map(|(i, o)| if i == pos { c } else { o })
                    .collect();
                let _ = TaxCode::parse(&input);
            }
        }
    }

    #[test]
    fn compose_reproduces_known_codes() {
        let mario =
            compose("Rossi", "Mario", date(1985, 12, 10), Sex::Male, "A562").expect("valid");
        assert_eq!(mario.as_str(), ROSSI);
        let maria =
            compose("ROSSI", "maria", date(1985, 12, 10), Sex::Female, "a562").expect("valid");
        assert_eq!(maria.as_str(), "RSSMRA85T50A562W");
        let john = compose("Smith", "John", date(1970, 7, 4), Sex::Male, "Z404").expect("valid");
        assert_eq!(&john.as_str()[..15], "SMTJHN70L04Z404");
        assert_eq!(john.birth_place_code(), "Z404");
    }

    #[test]
    fn compose_name_encoding_rules() {
        let prefix = |family: &str, given: &str| {
            let code = compose(family, given, date(1990, 3, 15), Sex::Male, "H501").expect("valid");
            code.as_str()[..6].to_owned()
        };
        assert_eq!(prefix("Bianchi", "Gianfranco"), "BNCGFR"); // G N F R N C -> 1st, 3rd, 4th
        assert_eq!(prefix("Fo", "Ugo"), "FOXGUO");
        assert_eq!(prefix("Re", "Ai"), "REXAIX");
        assert_eq!(prefix("D'Angelo", "Nicolò"), "DNGNCL");
        assert_eq!(
            prefix("De Luca", "Maria Grazia"),
            prefix("DELUCA", "MARIAGRAZIA")
        );
        assert_eq!(prefix("Dell’Àcqua", "Niccolò"), "DLLNCL");
    }

    #[test]
    fn compose_round_trips_through_accessors() {
        let cases = [
            ("D'Angelo", "Nicolò", date(1990, 3, 15), Sex::Male, "F205"),
            ("Esposito", "Anna", date(2001, 2, 28), Sex::Female, "F839"),
            ("Verdi", "Giuseppe", date(1948, 9, 30), Sex::Male, "H501"),
            ("Russo", "Lucia", date(2000, 2, 29), Sex::Female, "L219"),
        ];
        for (family, given, born, sex, place) in cases {
            let code = compose(family, given, born, sex, place).expect("valid");
            assert_eq!(code.birth_date(today()), Some(born), "{code}");
            assert_eq!(code.sex(), sex);
            assert_eq!(code.birth_place_code(), place);
            assert_eq!(tc(code.as_str()), code);
            let omocode = code.with_omocodia(3);
            assert_eq!(omocode.birth_date(today()), Some(born));
            assert_eq!(omocode.birth_place_code(), place);
        }
    }

    #[test]
    fn compose_rejects_bad_input() {
        let born = date(1990, 1, 1);
        for place in ["H50", "H5011", "1501", "HX01", "Hé01", ""] {
            assert_eq!(
                compose("Rossi", "Mario", born, Sex::Male, place),
                Err(TaxCodeError::InvalidBirthPlace)
            );
        }
        for name in ["", " ' ", "R2D2", "李"] {
            assert_eq!(
                compose(name, "Mario", born, Sex::Male, "H501"),
                Err(TaxCodeError::InvalidName)
            );
            assert_eq!(
                compose("Rossi", name, born, Sex::Male, "H501"),
                Err(TaxCodeError::InvalidName)
            );
        }
        // An omocodic place code is accepted and stored decoded.
        let code = compose("Rossi", "Mario", born, Sex::Male, "HRLM").expect("valid");
        assert_eq!(
            (code.birth_place_code(), code.is_omocode()),
            ("H501", false)
        );
    }

    #[test]
    fn serde_uses_the_plain_string_and_validates() {
        let code = tc(ROSSI).with_omocodia(1);
        let json = serde_json::to_string(&code).expect("serialize");
        assert_eq!(json, "\"RSSMRA85T10A56NH\"");
        assert_eq!(
            serde_json::from_str::<TaxCode>(&json).expect("deserialize"),
            code
        );
        let lower: TaxCode = serde_json::from_str("\"rssmra85t10a562s\"").expect("deserialize");
        assert_eq!(lower.as_str(), ROSSI);
        assert!(serde_json::from_str::<TaxCode>("\"RSSMRA85T10A562T\"").is_err());
        assert!(serde_json::from_str::<TaxCode>("42").is_err());
        assert_eq!(String::from(code), "RSSMRA85T10A56NH");
        assert_eq!(
            serde_json::to_string(&Sex::Female).expect("serialize"),
            "\"female\""
        );
    }
}
