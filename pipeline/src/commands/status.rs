//! `pipeline status`: each stage's last run, a failed last load, and the state of each aggregate's
//! days.

use anyhow::Result;

use super::connect_to_read;
use crate::error::CheckFailed;
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries;

/// Prints the status; with `check`, fails unless everything is up to date.
pub async fn run(plan: &Plan, format: Format, check: bool) -> Result<()> {
    let db = connect_to_read(plan).await?;
    let result = queries::status(&db, plan).await;
    db.close().await;
    let status = result?;
    output::status(&status, format).await?;
    if check && !status.healthy() {
        return Err(CheckFailed.into());
    }
    Ok(())
}
