//! Lists of days shown as ranges of consecutive days (`2017-01-01..2017-01-03, 2017-01-05`), in
//! JSON and for people.

use chrono::NaiveDate;
use stages::core::freshness::consecutive_runs;

/// Days (ascending) as `A..B` ranges of consecutive days, for JSON.
pub fn ranges_json(days: &[NaiveDate]) -> Vec<String> {
    consecutive_runs(days)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Days (ascending) as ranges of consecutive days, for people: at most ten ranges, then how many
/// more; `none` without days.
pub fn ranges_text(days: &[NaiveDate]) -> String {
    if days.is_empty() {
        return "none".to_owned();
    }
    let ranges = consecutive_runs(days);
    let shown: Vec<String> = ranges
        .iter()
        .take(10)
        .map(std::string::ToString::to_string)
        .collect();
    if ranges.len() > 10 {
        format!("{} (+{} more ranges)", shown.join(", "), ranges.len() - 10)
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_collapse_into_ranges() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let ranges = consecutive_runs(&[
            d("2017-01-01"),
            d("2017-01-02"),
            d("2017-01-03"),
            d("2017-01-05"),
        ]);
        let text: Vec<String> = ranges
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(text, ["2017-01-01..2017-01-03", "2017-01-05"]);
    }
}
