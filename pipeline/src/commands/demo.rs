//! `pipeline demo`: the whole pipeline, then a short summary (top customers, repeaters) and,
//! when asked, the HTML report.

use std::path::Path;

use anyhow::Result;

use super::{connect, customer_aggregate};
use crate::output::{self, Format};
use crate::plan::Plan;
use crate::queries::{self, RankBy};
use crate::report::{self, ReportFormat};
use crate::runner::{self, Days, RunOptions};

/// Brings everything up to date, prints the run and the figures of the declared customer
/// aggregate, and writes the report to `page`. Without a customer aggregate, it refuses before it
/// runs anything.
pub async fn run(plan: &Plan, page: Option<&Path>) -> Result<()> {
    let customer = customer_aggregate(plan, "demo")?;
    let db = connect(plan).await?;
    let options = RunOptions {
        days: Days::Due,
        stale: true,
        force_load: false,
        allow_deletes: false,
    };
    let report = runner::run(&db, plan, &[], options).await;
    output::run_report(&report);
    if let Some(error) = report.error {
        db.close().await;
        return Err(anyhow::anyhow!(error));
    }
    output::gap();
    let tops = queries::top_customers(&db, &customer, None, RankBy::Spent, 5).await?;
    output::top_customers(&tops, RankBy::Spent, None, Format::Table).await?;
    output::gap();
    let figures = queries::repeaters(&db, &customer, None).await?;
    output::repeaters(&figures, None, Format::Table).await?;
    if let Some(path) = page {
        output::gap();
        // The demo's figures are printed already: a report that cannot be written is a
        // warning with its cause, not a failed demo.
        match report::report(&db, plan, &customer, None, Some(path), ReportFormat::Html).await {
            Ok(written) => output::report(&written),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "could not write the report (is the folder writable for this user?)");
            }
        }
    }
    db.close().await;
    Ok(())
}
