//! Amounts of money as people and JSON readers see them: two decimals, never a float; and counts
//! with thousands separators.

/// Money with two decimals.
pub fn money(value: rust_decimal::Decimal) -> String {
    format!("{:.2}", value.round_dp(2))
}

/// An amount of money. In JSON it is a string with two decimals (`"12.50"`), so that no float
/// rounding ever shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(pub rust_decimal::Decimal);

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&money(self.0))
    }
}

/// A count with thousands separators: 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(2), "2");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3045), "3,045");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1_234), "-1,234");
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money("12.5".parse().unwrap()), "12.50");
        assert_eq!(money("0".parse().unwrap()), "0.00");
    }

    #[test]
    fn money_is_a_string_in_json() {
        let amount = Money("1234.5".parse().unwrap());
        assert_eq!(serde_json::to_string(&amount).unwrap(), r#""1234.50""#);
    }
}
