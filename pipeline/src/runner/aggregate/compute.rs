//! The second phase of an aggregate's run: the days computed whole, chunk by chunk, each chunk in
//! one transaction. A chunk that fails on its data is retried day by day, so one bad day fails
//! alone and names itself.

use anyhow::Result;
use chrono::NaiveDate;
use indicatif::ProgressBar;
use stages::{Aggregate, AggregateRun, ChunkReport, DayRange};

use crate::db::Db;
use crate::runner::{AggregateReport, FailedDay};

/// Computes `days` (ascending) whole: the rows written and the days that failed go into `report`.
/// Fails on an error that is not the data's (the connection's, the server's).
pub(super) async fn compute_whole_days(
    db: &Db,
    aggregate: &dyn Aggregate,
    days: &[NaiveDate],
    run: &AggregateRun<'_>,
    bar: &ProgressBar,
    report: &mut AggregateReport,
) -> Result<()> {
    for range in stages::core::freshness::consecutive_runs(days) {
        for chunk in chunks(range, aggregate.chunk_days()) {
            match compute_days(db, aggregate, chunk, run).await {
                Ok(done) => {
                    report.rows_written += done.rows;
                    bar.inc(done.days);
                    tracing::debug!(stage = %run.stage_name, days = %chunk, rows = done.rows, "computed");
                }
                // One bad day must not sink its chunk: try the days one by one.
                Err(e) if is_data_error(&e) => {
                    compute_day_by_day(db, aggregate, chunk, run, bar, report).await?;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("cannot compute {chunk}")));
                }
            }
        }
    }
    Ok(())
}

/// Computes each day of `chunk` on its own; a day that fails on its data is recorded as failed in
/// `report`, and the others are computed.
async fn compute_day_by_day(
    db: &Db,
    aggregate: &dyn Aggregate,
    chunk: DayRange,
    run: &AggregateRun<'_>,
    bar: &ProgressBar,
    report: &mut AggregateReport,
) -> Result<()> {
    for day in chunk.start.iter_days().take(chunk.len() as usize) {
        let one = DayRange::new(day, day);
        match compute_days(db, aggregate, one, run).await {
            Ok(done) => report.rows_written += done.rows,
            Err(e) if is_data_error(&e) => {
                tracing::error!(stage = %run.stage_name, %day, error = %e, "cannot compute the day");
                report.days_failed.push(FailedDay {
                    day,
                    error: e.to_string(),
                });
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot compute {day}")));
            }
        }
        bar.inc(1);
    }
    Ok(())
}

/// Whether a failed computation is the data's fault (a value out of range, a division by zero, a
/// limit exceeded), so that its days are tried one by one, rather than the connection's or the server's.
fn is_data_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
        _ => false,
    }
}

/// Computes `days` whole in one transaction.
async fn compute_days(
    db: &Db,
    aggregate: &dyn Aggregate,
    days: DayRange,
    run: &AggregateRun<'_>,
) -> Result<ChunkReport, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let report = aggregate.compute(&mut tx, days, run).await?;
    tx.commit().await?;
    Ok(report)
}

/// Splits `range` into consecutive chunks of at most `size` days.
pub fn chunks(range: DayRange, size: u32) -> Vec<DayRange> {
    let size = i64::from(size.max(1));
    let mut out = Vec::new();
    let mut start = range.start;
    while start <= range.end {
        let end = (start + chrono::Duration::days(size - 1)).min(range.end);
        out.push(DayRange::new(start, end));
        start = end + chrono::Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn chunks_cover_the_range_exactly() {
        let c = chunks(DayRange::new(d("2017-01-01"), d("2017-01-10")), 4);
        assert_eq!(
            c,
            vec![
                DayRange::new(d("2017-01-01"), d("2017-01-04")),
                DayRange::new(d("2017-01-05"), d("2017-01-08")),
                DayRange::new(d("2017-01-09"), d("2017-01-10")),
            ]
        );
        assert_eq!(
            chunks(DayRange::new(d("2017-01-01"), d("2017-01-01")), 31).len(),
            1
        );
    }
}
