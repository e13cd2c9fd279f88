//! `pipeline top-customers`: customers ranked over a range of days.

use anyhow::Result;
use stages::DayRange;

use super::{connect_to_read, customer_aggregate};
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries::{self, RankBy};

/// Ranks the first `limit` customers of `range` (the whole history when `None`) by `by`, from the
/// declared customer aggregate's rows, and prints them.
pub async fn run(
    plan: &Plan,
    range: Option<DayRange>,
    by: RankBy,
    limit: u64,
    format: Format,
) -> Result<()> {
    let customer = customer_aggregate(plan, "top-customers")?;
    let db = connect_to_read(plan).await?;
    let result = queries::top_customers(&db, &customer, range, by, limit).await;
    db.close().await;
    output::top_customers(&result?, by, range, format).await
}
