//! Valid Italian tax codes (codice fiscale) for new test beneficiaries, computed independently of
//! the server's own implementation.

use chrono::{Datelike, NaiveDate};

/// The tax code of a person born in Milan (F205).
pub fn tax_code(family_name: &str, given_name: &str, birth: NaiveDate, female: bool) -> String {
    let mut code = String::new();
    code.push_str(&name_part(family_name, false));
    code.push_str(&name_part(given_name, true));
    code.push_str(&format!("{:02}", birth.year() % 100));
    code.push(b"ABCDEHLMPRST"[birth.month0() as usize] as char);
    let day = birth.day() + if female { 40 } else { 0 };
    code.push_str(&format!("{day:02}"));
    code.push_str("F205");
    code.push(check_character(&code));
    code
}

fn name_part(name: &str, given: bool) -> String {
    let letters: Vec<char> = name
        .to_uppercase()
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect();
    let (consonants, vowels): (Vec<char>, Vec<char>) =
        letters.iter().partition(|c| !"AEIOU".contains(**c));
    if given && consonants.len() >= 4 {
        return [consonants[0], consonants[2], consonants[3]]
            .iter()
            .collect();
    }
    consonants
        .into_iter()
        .chain(vowels)
        .chain("XXX".chars())
        .take(3)
        .collect()
}

/// The check character of the first 15 characters.
pub fn check_character(first15: &str) -> char {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let sum: u32 = first15
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let index = if c.is_ascii_digit() {
                c as u32 - '0' as u32
            } else {
                c as u32 - 'A' as u32
            };
            if i % 2 == 0 {
                ODD[index as usize]
            } else {
                index
            }
        })
        .sum();
    char::from(b'A' + (sum % 26) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_the_textbook_example() {
        let birth = NaiveDate::from_ymd_opt(1980, 1, 1).expect("date");
        assert_eq!(tax_code("Rossi", "Mario", birth, false), "RSSMRA80A01F205X");
    }
}
