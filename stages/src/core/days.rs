//! Days: ranges of them, the days the loaded data covers, and the per-day counts aggregates report.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::{PgConnection, Row};

use crate::core::sql_file;

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/days.sql" {
        purchase_days,
    }
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day, included.
    pub end: NaiveDate,
}

impl DayRange {
    /// The range from `start` to `end`, both included.
    #[must_use]
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        Self { start, end }
    }
    /// How many days the range holds.
    #[must_use]
    pub fn len(&self) -> u64 {
        (self.end - self.start).num_days().max(-1) as u64 + 1
    }
    /// Whether the range holds no day.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}..{}", self.start, self.end)
        }
    }
}

/// The largest accepted `chunk_days` of an aggregate (a century).
pub const MAX_CHUNK_DAYS: u32 = 36_500;

/// The first and last purchase day of the loaded orders, if any.
pub async fn purchase_days(conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error> {
    let row = sqlx::query(SQL.purchase_days).fetch_one(conn).await?;
    Ok(match (row.get(0), row.get(1)) {
        (Some(start), Some(end)) => Some(DayRange::new(start, end)),
        _ => None,
    })
}

/// Adds `sign` times the (day, rows) counts of `rows` into `into`; returns the rows counted.
pub(crate) fn count_days(
    rows: &[(NaiveDate, i64)],
    sign: i64,
    into: &mut BTreeMap<NaiveDate, i64>,
) -> u64 {
    let mut total = 0;
    for &(day, n) in rows {
        *into.entry(day).or_default() += sign * n;
        total += n as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_range_counts_days_inclusively() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(DayRange::new(d("2017-01-01"), d("2017-01-01")).len(), 1);
        assert_eq!(DayRange::new(d("2017-01-01"), d("2017-01-31")).len(), 31);
        assert_eq!(
            DayRange::new(d("2017-01-01"), d("2017-01-31")).to_string(),
            "2017-01-01..2017-01-31"
        );
    }
}
