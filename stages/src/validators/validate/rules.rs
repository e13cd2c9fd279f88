//! The row rules: everything decidable from one line. Each rule returns the reason a person reads in
//! `rejected_rows.reason`; the first broken rule, in column order, is the one reported.

use chrono::{NaiveDate, NaiveDateTime};
use olist::{Column, Kind, ORDER_STATUSES};

use crate::core::Source;
use crate::core::record::{Record, Rejection, ValidRow};
use crate::core::text::visible;

/// The accepted time window of one run.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Earliest accepted timestamp.
    pub earliest: NaiveDateTime,
    /// Latest accepted event timestamp.
    pub latest_event: NaiveDateTime,
    /// Latest accepted planned timestamp.
    pub latest_planned: NaiveDateTime,
    /// Whether `latest_event` is the run time (for the wording of the reason).
    pub latest_is_run_time: bool,
    /// How many days after `latest_event` a planned timestamp may lie.
    pub planned_days_ahead: u32,
}

/// Applies every row rule to one record.
pub fn check_record(
    source: &Source,
    window: &Window,
    record: Record,
) -> Result<ValidRow, Rejection> {
    let Record { line, raw, fields } = record;
    let columns = source.dataset.columns();
    let key_of = |fields: &[String]| {
        let value = fields.get(source.column_index[0])?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    let fields = match fields {
        Ok(fields) => fields,
        Err(reason) => {
            return Err(Rejection {
                line,
                raw,
                reason,
                key: None,
            });
        }
    };
    if fields.len() != source.header_len {
        let key = key_of(&fields);
        return Err(Rejection {
            line,
            raw,
            reason: format!(
                "has {} fields, the header has {}",
                fields.len(),
                source.header_len
            ),
            key,
        });
    }
    let mut values = Vec::with_capacity(columns.len());
    for (column, &index) in columns.iter().zip(&source.column_index) {
        match check_value(column, &fields[index], window) {
            Ok(value) => values.push(value),
            Err(reason) => {
                let key = key_of(&fields);
                return Err(Rejection {
                    line,
                    raw,
                    reason,
                    key,
                });
            }
        }
    }
    Ok(ValidRow { line, raw, values })
}

/// Checks one value against its column's rules; returns the normalised value (`None` when empty and
/// optional).
pub fn check_value(
    column: &Column,
    value: &str,
    window: &Window,
) -> Result<Option<String>, String> {
    let name = column.csv;
    let trimmed = trim(value);
    if trimmed.is_empty() {
        return if column.required {
            Err(format!("{name} is empty (a value is required)"))
        } else {
            Ok(None)
        };
    }
    let normalised = match column.kind {
        Kind::Id => check_id(name, value, trimmed)?,
        Kind::Text => value.to_owned(),
        Kind::ZipPrefix => check_zip_prefix(name, value, trimmed)?,
        Kind::State => check_state(name, value, trimmed)?,
        Kind::EventTimestamp | Kind::PlannedTimestamp => {
            check_timestamp(name, column.kind, value, trimmed, window)?
        }
        Kind::Status => check_status(name, value, trimmed)?,
        Kind::Money => check_money(name, trimmed)?,
        Kind::Count | Kind::Sequence => check_count(name, column.kind, value, trimmed)?,
    };
    Ok(Some(normalised))
}

// The rules of each kind below take the column's header `name`, the `value` as read (shown in a
// reason) and the value `trimmed` (what is checked), and return the normalised value.

/// [`Kind::Id`]: letters, digits, `-` and `_`, at most 64 characters.
fn check_id(name: &str, value: &str, trimmed: &str) -> Result<String, String> {
    if trimmed.len() > 64
        || !trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{name} \"{}\" is not an identifier (letters, digits, '-' and '_', at most 64)",
            shown(value)
        ));
    }
    Ok(trimmed.to_owned())
}

/// [`Kind::ZipPrefix`]: digits only, at most 8.
fn check_zip_prefix(name: &str, value: &str, trimmed: &str) -> Result<String, String> {
    if trimmed.len() > 8 || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name} \"{}\" is not a postal code prefix (digits only)",
            shown(value)
        ));
    }
    Ok(trimmed.to_owned())
}

/// [`Kind::State`]: two letters.
fn check_state(name: &str, value: &str, trimmed: &str) -> Result<String, String> {
    if trimmed.len() != 2 || !trimmed.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "{name} \"{}\" is not a two-letter state code",
            shown(value)
        ));
    }
    Ok(trimmed.to_owned())
}

/// [`Kind::EventTimestamp`] and [`Kind::PlannedTimestamp`]: `YYYY-MM-DD HH:MM:SS`, no leap second,
/// inside the run's `window` (whose end depends on the `kind`).
fn check_timestamp(
    name: &str,
    kind: Kind,
    value: &str,
    trimmed: &str,
    window: &Window,
) -> Result<String, String> {
    if is_leap_second(trimmed) {
        return Err(format!(
            "{name} \"{trimmed}\" is a leap second (second 60), which would be stored as the \
             next minute, possibly of the next day"
        ));
    }
    let at = parse_timestamp(trimmed).ok_or_else(|| {
        format!(
            "{name} \"{}\" is not a valid timestamp (expected YYYY-MM-DD HH:MM:SS)",
            shown(value)
        )
    })?;
    if at < window.earliest {
        return Err(format!(
            "{name} \"{trimmed}\" is earlier than {}",
            window.earliest
        ));
    }
    if kind == Kind::EventTimestamp && at > window.latest_event {
        return Err(if window.latest_is_run_time {
            format!("{name} \"{trimmed}\" is later than the run time")
        } else {
            format!("{name} \"{trimmed}\" is later than {}", window.latest_event)
        });
    }
    if kind == Kind::PlannedTimestamp && at > window.latest_planned {
        return Err(if window.latest_is_run_time {
            format!(
                "{name} \"{trimmed}\" is more than {} days after the run time",
                window.planned_days_ahead
            )
        } else {
            format!(
                "{name} \"{trimmed}\" is later than {}",
                window.latest_planned
            )
        });
    }
    Ok(trimmed.to_owned())
}

/// [`Kind::Status`]: one of [`ORDER_STATUSES`].
fn check_status(name: &str, value: &str, trimmed: &str) -> Result<String, String> {
    if !ORDER_STATUSES.contains(&trimmed) {
        return Err(format!(
            "{name} \"{}\" is not one of {}",
            shown(value),
            ORDER_STATUSES.join(", ")
        ));
    }
    Ok(trimmed.to_owned())
}

/// [`Kind::Count`] (not negative) and [`Kind::Sequence`] (at least 1): an integer that fits 32 bits.
fn check_count(name: &str, kind: Kind, value: &str, trimmed: &str) -> Result<String, String> {
    let number: i64 = parse_integer(trimmed)
        .ok_or_else(|| format!("{name} \"{}\" is not an integer", shown(value)))?;
    let minimum = i64::from(kind == Kind::Sequence);
    if number < minimum {
        return Err(if minimum == 0 {
            format!("{name} \"{trimmed}\" is negative")
        } else {
            format!("{name} \"{trimmed}\" is less than 1")
        });
    }
    if number > i64::from(i32::MAX) {
        return Err(format!(
            "{name} \"{trimmed}\" is too large (at most {})",
            i32::MAX
        ));
    }
    Ok(number.to_string())
}

/// `value` without surrounding whitespace. A value whose first and last bytes are visible ASCII (no
/// whitespace is) is returned as it is, without the general Unicode scan.
fn trim(value: &str) -> &str {
    let visible = |b: u8| b > b' ' && b < 0x80;
    match value.as_bytes() {
        [] => value,
        [first, .., last] if visible(*first) && visible(*last) => value,
        [only] if visible(*only) => value,
        _ => value.trim(),
    }
}

/// A value as shown in a reason, between the reason's double quotes: at most 60 characters, with
/// `\` and `"` written as `\\` and `\"` and control characters as escapes. A quote inside a value
/// must not end it: the report groups reasons by their text with each quoted value masked, and an
/// unescaped quote left the rest of the value in the text.
fn shown(value: &str) -> String {
    let cut = if value.chars().count() <= 60 {
        value.to_owned()
    } else {
        format!("{}...", value.chars().take(57).collect::<String>())
    };
    visible(&cut.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether `s` has the shape `YYYY-MM-DD HH:MM:SS`.
fn timestamp_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Whether `s` is a timestamp of the right shape whose second is 60.
fn is_leap_second(s: &str) -> bool {
    timestamp_shaped(s) && s.ends_with(":60")
}

/// Parses `YYYY-MM-DD HH:MM:SS` exactly (two-digit fields, four-digit year). A leap second
/// (second 60) is not a timestamp here: `PostgreSQL` would store it as the next minute.
#[must_use]
pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    if !timestamp_shaped(s) || is_leap_second(s) {
        return None;
    }
    // Every position holds a digit or its separator: read the fields directly (chrono's
    // format-string parser costs more than the rest of a line's checks).
    let b = s.as_bytes();
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    NaiveDate::from_ymd_opt(number(0, 4) as i32, number(5, 7), number(8, 10))?.and_hms_opt(
        number(11, 13),
        number(14, 16),
        number(17, 19),
    )
}

fn parse_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Money: digits, an optional point and at most two decimals, not negative, fitting `numeric(12,2)`.
fn check_money(name: &str, s: &str) -> Result<String, String> {
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let well_formed = !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(unsigned.ends_with('.'));
    if !well_formed {
        return Err(format!("{name} \"{}\" is not a number", shown(s)));
    }
    let is_zero = whole.bytes().chain(fraction.bytes()).all(|b| b == b'0');
    if negative && !is_zero {
        return Err(format!("{name} \"{s}\" is negative"));
    }
    if fraction.len() > 2 {
        return Err(format!("{name} \"{s}\" has more than two decimals"));
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 10 {
        return Err(format!(
            "{name} \"{s}\" is too large (at most 9999999999.99)"
        ));
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    Ok(if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use olist::Dataset;
    use std::path::PathBuf;

    fn window() -> Window {
        let t = |s| parse_timestamp(s).unwrap();
        Window {
            earliest: t("2000-01-01 00:00:00"),
            latest_event: t("2026-11-29 12:00:00"),
            latest_planned: t("2027-11-30 12:00:00"),
            latest_is_run_time: true,
            planned_days_ahead: 366,
        }
    }

    fn column(dataset: Dataset, name: &str) -> Column {
        *dataset.columns().iter().find(|c| c.csv == name).unwrap()
    }

    fn check(dataset: Dataset, name: &str, value: &str) -> Result<Option<String>, String> {
        check_value(&column(dataset, name), value, &window())
    }

    #[test]
    fn required_fields_must_be_present() {
        assert_eq!(
            check(Dataset::Orders, "order_id", "").unwrap_err(),
            "order_id is empty (a value is required)"
        );
        assert_eq!(
            check(Dataset::Orders, "order_approved_at", "").unwrap(),
            None
        );
    }

    #[test]
    fn identifiers_are_plain() {
        assert!(
            check(
                Dataset::Orders,
                "order_id",
                "e481f51cbdc54678b7cc49136f2d6af7"
            )
            .is_ok()
        );
        assert_eq!(
            check(Dataset::Orders, "customer_id", "sao paulo").unwrap_err(),
            "customer_id \"sao paulo\" is not an identifier (letters, digits, '-' and '_', at most 64)"
        );
    }

    #[test]
    fn timestamps_have_one_format() {
        for bad in [
            "2017-10-02",
            "2017-10-02T10:56:33",
            "2017-13-45 25:61:00",
            "yesterday",
            "2017-1-02 10:56:33",
            "2017-02-30 10:00:00",
        ] {
            assert_eq!(
                check(Dataset::Orders, "order_purchase_timestamp", bad).unwrap_err(),
                format!(
                    "order_purchase_timestamp \"{bad}\" is not a valid timestamp (expected YYYY-MM-DD HH:MM:SS)"
                )
            );
        }
        assert_eq!(
            check(
                Dataset::Orders,
                "order_purchase_timestamp",
                "2017-10-02 10:56:33"
            )
            .unwrap()
            .as_deref(),
            Some("2017-10-02 10:56:33")
        );
    }

    #[test]
    fn leap_seconds_are_rejected_with_a_reason() {
        for leap in ["2016-12-31 23:59:60", "2017-06-30 10:15:60"] {
            assert_eq!(
                check(Dataset::Orders, "order_purchase_timestamp", leap).unwrap_err(),
                format!(
                    "order_purchase_timestamp \"{leap}\" is a leap second (second 60), which would be \
                     stored as the next minute, possibly of the next day"
                )
            );
            assert_eq!(parse_timestamp(leap), None);
        }
        assert!(
            check(
                Dataset::Orders,
                "order_purchase_timestamp",
                "2016-12-31 23:59:59"
            )
            .is_ok()
        );
    }

    #[test]
    fn control_characters_in_a_reason_are_escaped() {
        assert_eq!(
            check(Dataset::Customers, "customer_state", "\u{1b}]0;x\u{7}").unwrap_err(),
            "customer_state \"\\x1b]0;x\\x07\" is not a two-letter state code"
        );
    }

    #[test]
    fn quotes_and_backslashes_in_a_shown_value_are_escaped() {
        assert_eq!(
            check(Dataset::Customers, "customer_state", "S\"P").unwrap_err(),
            "customer_state \"S\\\"P\" is not a two-letter state code"
        );
        assert_eq!(
            check(Dataset::Orders, "order_status", "a\\\"b\\").unwrap_err(),
            format!(
                "order_status \"a\\\\\\\"b\\\\\" is not one of {}",
                ORDER_STATUSES.join(", ")
            )
        );
        // A long value is cut before it is escaped, so no escape is cut in two.
        let long = format!("{}\"", "x".repeat(56));
        assert!(
            check(Dataset::Orders, "order_status", &format!("{long}yyyyyy"))
                .unwrap_err()
                .starts_with(&format!(
                    "order_status \"{}\\\"...\" is not",
                    "x".repeat(56)
                )),
        );
    }

    #[test]
    fn timestamps_stay_inside_the_window() {
        assert_eq!(
            check(
                Dataset::Orders,
                "order_purchase_timestamp",
                "2077-08-15 07:55:36"
            )
            .unwrap_err(),
            "order_purchase_timestamp \"2077-08-15 07:55:36\" is later than the run time"
        );
        assert_eq!(
            check(
                Dataset::Orders,
                "order_purchase_timestamp",
                "0000-01-01 00:00:00"
            )
            .unwrap_err(),
            "order_purchase_timestamp \"0000-01-01 00:00:00\" is earlier than 2000-01-01 00:00:00"
        );
        // A planned moment may lie ahead of the run time, within the allowance.
        assert!(
            check(
                Dataset::Orders,
                "order_estimated_delivery_date",
                "2027-01-10 00:00:00"
            )
            .is_ok()
        );
        assert_eq!(
            check(
                Dataset::OrderItems,
                "shipping_limit_date",
                "2077-01-10 00:00:00"
            )
            .unwrap_err(),
            "shipping_limit_date \"2077-01-10 00:00:00\" is more than 366 days after the run time"
        );
    }

    #[test]
    fn status_is_in_olists_set() {
        for status in ORDER_STATUSES {
            assert!(check(Dataset::Orders, "order_status", status).is_ok());
        }
        assert_eq!(
            check(Dataset::Orders, "order_status", "Delivered").unwrap_err(),
            "order_status \"Delivered\" is not one of created, approved, invoiced, processing, shipped, delivered, canceled, unavailable"
        );
    }

    #[test]
    fn money_is_a_non_negative_amount_in_cents() {
        assert_eq!(
            check(Dataset::OrderItems, "price", "58.90")
                .unwrap()
                .as_deref(),
            Some("58.90")
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "007.5")
                .unwrap()
                .as_deref(),
            Some("7.5")
        );
        assert_eq!(
            check(Dataset::OrderItems, "freight_value", "0")
                .unwrap()
                .as_deref(),
            Some("0")
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "-3.00").unwrap_err(),
            "price \"-3.00\" is negative"
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "12,5x").unwrap_err(),
            "price \"12,5x\" is not a number"
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "1e3").unwrap_err(),
            "price \"1e3\" is not a number"
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "1.").unwrap_err(),
            "price \"1.\" is not a number"
        );
        assert_eq!(
            check(Dataset::OrderItems, "price", "1.234").unwrap_err(),
            "price \"1.234\" has more than two decimals"
        );
        assert_eq!(
            check(Dataset::OrderItems, "freight_value", "12345678901.00").unwrap_err(),
            "freight_value \"12345678901.00\" is too large (at most 9999999999.99)"
        );
    }

    #[test]
    fn integers_are_integers() {
        assert_eq!(
            check(Dataset::OrderItems, "order_item_id", "02")
                .unwrap()
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            check(Dataset::OrderItems, "order_item_id", "1.5").unwrap_err(),
            "order_item_id \"1.5\" is not an integer"
        );
        assert_eq!(
            check(Dataset::OrderItems, "order_item_id", "0").unwrap_err(),
            "order_item_id \"0\" is less than 1"
        );
        assert_eq!(
            check(Dataset::Products, "product_photos_qty", "two").unwrap_err(),
            "product_photos_qty \"two\" is not an integer"
        );
        assert_eq!(
            check(Dataset::Products, "product_weight_g", "-5").unwrap_err(),
            "product_weight_g \"-5\" is negative"
        );
        assert_eq!(
            check(Dataset::Products, "product_weight_g", "3000000000").unwrap_err(),
            "product_weight_g \"3000000000\" is too large (at most 2147483647)"
        );
    }

    #[test]
    fn customers_zip_and_state_catch_shifted_columns() {
        assert!(check(Dataset::Customers, "customer_zip_code_prefix", "01151").is_ok());
        assert_eq!(
            check(Dataset::Customers, "customer_zip_code_prefix", "sao paulo").unwrap_err(),
            "customer_zip_code_prefix \"sao paulo\" is not a postal code prefix (digits only)"
        );
        assert_eq!(
            check(Dataset::Customers, "customer_state", "sao paulo").unwrap_err(),
            "customer_state \"sao paulo\" is not a two-letter state code"
        );
    }

    fn source() -> Source {
        Source {
            dataset: Dataset::Customers,
            path: PathBuf::from("c.csv"),
            file_name: "c.csv".into(),
            column_index: vec![0, 1, 2, 3, 4],
            header_len: 5,
        }
    }

    fn record(fields: Result<Vec<&str>, &str>) -> Record {
        Record {
            line: 9,
            raw: "raw".into(),
            fields: fields
                .map(|f| f.into_iter().map(String::from).collect())
                .map_err(String::from),
        }
    }

    #[test]
    fn field_count_must_match_the_header() {
        let err =
            check_record(&source(), &window(), record(Ok(vec!["a", "b", "01", "x"]))).unwrap_err();
        assert_eq!(err.reason, "has 4 fields, the header has 5");
        assert_eq!(err.key.as_deref(), Some("a"));
        assert_eq!(err.line, 9);
    }

    #[test]
    fn malformed_records_are_rejected_not_fatal() {
        let err = check_record(
            &source(),
            &window(),
            record(Err(
                "malformed CSV record: unterminated quoted field starting at character 3 of the line",
            )),
        )
        .unwrap_err();
        assert_eq!(
            err.reason,
            "malformed CSV record: unterminated quoted field starting at character 3 of the line"
        );
    }

    #[test]
    fn a_valid_record_is_normalised_in_column_order() {
        let row = check_record(
            &source(),
            &window(),
            record(Ok(vec!["a", "b", "01", "", "SP"])),
        )
        .unwrap();
        assert_eq!(
            row.values,
            vec![
                Some("a".into()),
                Some("b".into()),
                Some("01".into()),
                None,
                Some("SP".into())
            ]
        );
    }

    #[test]
    fn timestamps_parse_as_chrono_parses_them() {
        // The direct reading must accept and give exactly what chrono's format parser does, on
        // every field's edges.
        let mut cases = Vec::new();
        for date in [
            "2016-02-29",
            "2017-02-29",
            "2000-02-29",
            "1900-02-29",
            "2018-12-31",
            "2018-13-01",
            "2018-00-10",
            "2018-01-00",
            "2018-04-31",
            "0000-01-01",
            "9999-12-31",
        ] {
            for time in [
                "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:61", "07:05:09",
            ] {
                cases.push(format!("{date} {time}"));
            }
        }
        for case in &cases {
            assert_eq!(
                parse_timestamp(case),
                NaiveDateTime::parse_from_str(case, "%Y-%m-%d %H:%M:%S").ok(),
                "{case}"
            );
        }
    }

    #[test]
    fn trimming_matches_str_trim() {
        for value in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r",
            "\u{a0}x\u{a0}",
            "x\u{3000}",
            "ação",
            "\u{1c}a",
        ] {
            assert_eq!(trim(value), value.trim(), "{value:?}");
        }
    }
}
