//! `pipeline run`: runs the declared stages (or those named) under one invocation of the ledger, and
//! prints the run record.

use anyhow::Result;

use super::connect;
use crate::error::UsageError;
use crate::output::{self, RecordFormat};
use crate::plan::Plan;
use crate::runner::{self, RunOptions};

/// Runs the stages named in `stages` (every stage when empty), fails when the run did.
pub async fn run(
    plan: &Plan,
    stages: &[String],
    options: RunOptions,
    format: RecordFormat,
) -> Result<()> {
    check_stage_names(plan, stages)?;
    let db = connect(plan).await?;
    let report = runner::run(&db, plan, stages, options).await;
    db.close().await;
    output::run_record(&report, format)?;
    match report.error {
        Some(error) => Err(anyhow::anyhow!(error)),
        None => Ok(()),
    }
}

/// Every `--stage` must name a declared stage.
fn check_stage_names(plan: &Plan, names: &[String]) -> Result<()> {
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| plan.stage(n).is_none())
        .map(|n| {
            let declared: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
            format!(
                "--stage {n}: no stage of that name in {} (declared: {})",
                plan.config_path.display(),
                declared.join(", ")
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(UsageError(unknown).into())
    }
}
