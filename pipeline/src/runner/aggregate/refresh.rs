//! The third phase of an aggregate's run, unless `--skip-stale`: the rows of the people a load
//! changed are recomputed on every computed day, in one transaction.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use stages::{Aggregate, AggregateRun};

use super::choose::Chosen;
use crate::db::Db;
use crate::runner::AggregateReport;

/// Refreshes the changed people's rows; the rows, the people and the stale days recomputed beyond
/// those asked (`whole_stale`, computed whole before, and the days refreshed) go into `report`.
pub(super) async fn refresh_people(
    db: &Db,
    aggregate: &dyn Aggregate,
    run: &AggregateRun<'_>,
    chosen: &Chosen,
    whole_stale: &[NaiveDate],
    report: &mut AggregateReport,
) -> Result<()> {
    let mut tx = db.pool.begin().await?;
    let refreshed = aggregate
        .refresh(&mut tx, run)
        .await
        .context("cannot recompute the stale days")?;
    tx.commit().await.context("cannot commit the stale days")?;
    report.rows_written += refreshed.rows;
    report.people_refreshed = refreshed.people;
    let mut stale_days = whole_stale.to_vec();
    stale_days.extend(refreshed.days.iter().filter(|d| !chosen.asks_for(**d)));
    stale_days.sort_unstable();
    stale_days.dedup();
    report.days_stale = stale_days;
    report.days_stale_whole = whole_stale.len();
    Ok(())
}
