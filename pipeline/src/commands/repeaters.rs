//! `pipeline repeaters`: the repeat-customer figures of a range of days.

use anyhow::Result;
use stages::DayRange;

use super::{connect_to_read, customer_aggregate};
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries;

/// Counts the repeat customers of `range` (the whole history when `None`) in the declared customer
/// aggregate's rows, and prints the figures.
pub async fn run(plan: &Plan, range: Option<DayRange>, format: Format) -> Result<()> {
    let customer = customer_aggregate(plan, "repeaters")?;
    let db = connect_to_read(plan).await?;
    let result = queries::repeaters(&db, &customer, range).await;
    db.close().await;
    output::repeaters(&result?, range, format).await
}
