//! `pipeline rejects`: the rejected lines of the loads that read the files the tables hold now (or
//! of one load run), grouped by the rule they broke.

use anyhow::Result;

use super::connect_to_read;
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries;

/// Reads the rejected lines of load run `run` (by default, of the current files), at most `limit`,
/// and prints them.
pub async fn run(plan: &Plan, run: Option<i64>, limit: Option<u64>, format: Format) -> Result<()> {
    let db = connect_to_read(plan).await?;
    let result = queries::rejects(&db, plan, run, limit).await;
    db.close().await;
    output::rejects(&result?, format).await
}
