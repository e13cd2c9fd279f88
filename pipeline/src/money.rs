//! Amounts of money as people and JSON readers see them: two decimals, never a float.

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

#[cfg(test)]
mod tests {
    use super::*;

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
