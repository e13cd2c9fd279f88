//! `pipeline report`: the HTML page of charts (or the data behind it as JSON) over a range of days.

use std::path::Path;

use anyhow::Result;
use stages::DayRange;

use super::{connect_to_read, customer_aggregate};
use crate::output;
use crate::plan::Plan;
use crate::report::{self, ReportFormat};

/// Writes the report of `range` (the whole history when `None`) to `out`, or prints its JSON; its
/// charts of the customers read the declared customer aggregate's rows.
pub async fn run(
    plan: &Plan,
    range: Option<DayRange>,
    out: Option<&Path>,
    format: ReportFormat,
) -> Result<()> {
    let customer = customer_aggregate(plan, "report")?;
    let db = connect_to_read(plan).await?;
    let result = report::report(&db, plan, &customer, range, out, format).await;
    db.close().await;
    output::report(&result?);
    Ok(())
}
