//! `pipeline stats`: a day's per-customer rows, largest `total_spent` first.

use anyhow::Result;
use chrono::NaiveDate;

use super::connect_to_read;
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries;

/// Reads the rows of `date` (only `customer`'s, at most `limit`) and prints them (every column
/// with `wide`).
pub async fn run(
    plan: &Plan,
    date: NaiveDate,
    customer: Option<&str>,
    limit: Option<u64>,
    wide: bool,
    format: Format,
) -> Result<()> {
    let db = connect_to_read(plan).await?;
    let result = queries::stats(&db, plan, date, customer, limit).await;
    db.close().await;
    output::stats(&result?, format, wide).await
}
