//! Value types shared by several resources: money and decimal quantities.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money as the Italian guidelines want it: a decimal string and a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "23.50", "currency": "EUR"}))]
pub struct Money {
    /// Decimal amount with two decimals, dot separated.
    #[schema(
        pattern = r"^-?[0-9]{1,9}\.[0-9]{2}$",
        max_length = 13,
        example = "23.50"
    )]
    pub amount: String,
    /// ISO 4217 currency code; only EUR is accepted.
    #[schema(pattern = "^EUR$", max_length = 3, example = "EUR")]
    pub currency: String,
}

impl Money {
    /// Euros from cents.
    pub fn from_cents(cents: i64) -> Self {
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        Self {
            amount: format!("{sign}{}.{:02}", abs / 100, abs % 100),
            currency: "EUR".to_owned(),
        }
    }

    /// Cents, or a reason why the value is not an acceptable amount.
    pub fn to_cents(&self) -> Result<i64, &'static str> {
        if self.currency != "EUR" {
            return Err("only EUR is accepted");
        }
        let (negative, digits) = match self.amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.amount.as_str()),
        };
        let (units, cents) = digits
            .split_once('.')
            .ok_or("amount must have two decimals, e.g. 23.50")?;
        let well_formed = !units.is_empty()
            && units.len() <= 9
            && cents.len() == 2
            && units
                .bytes()
                .chain(cents.bytes())
                .all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err("amount must have two decimals, e.g. 23.50");
        }
        let value = units
            .parse::<i64>()
            .ok()
            .zip(cents.parse::<i64>().ok())
            .map(|(u, c)| u * 100 + c)
            .ok_or("amount is not a number")?;
        Ok(if negative { -value } else { value })
    }
}

/// Quantities (hours, trips, km, accesses) are kept in thousandths so sums never drift.
pub const MILLI: i64 = 1000;

/// Thousandths to the wire's decimal number.
pub fn from_milli(milli: i64) -> f64 {
    milli as f64 / MILLI as f64
}

/// A wire decimal to thousandths; `None` for values that are not finite or too large.
pub fn to_milli(value: f64) -> Option<i64> {
    let scaled = (value * MILLI as f64).round();
    (value.is_finite() && scaled.abs() < 1e15).then_some(scaled as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_through_cents() {
        for cents in [0, 5, 2350, 123_456_789, -1999] {
            assert_eq!(Money::from_cents(cents).to_cents(), Ok(cents));
        }
        assert_eq!(Money::from_cents(2350).amount, "23.50");
    }

    #[test]
    fn money_rejects_sloppy_amounts() {
        for amount in ["23.5", "23", "23,50", "abc", ".50", "1.234", "1e3.00"] {
            let money = Money {
                amount: amount.to_owned(),
                currency: "EUR".to_owned(),
            };
            assert!(money.to_cents().is_err(), "{amount} should be rejected");
        }
        let dollars = Money {
            amount: "1.00".into(),
            currency: "USD".into(),
        };
        assert!(dollars.to_cents().is_err());
    }

    #[test]
    fn quantities_keep_three_decimals() {
        assert_eq!(to_milli(1.5), Some(1500));
        assert_eq!(to_milli(0.3333), Some(333));
        assert_eq!(to_milli(f64::NAN), None);
        assert!((from_milli(1500) - 1.5).abs() < f64::EPSILON);
    }
}
