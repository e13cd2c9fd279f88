//! The last phase of an aggregate's run: its outcome recorded in its ledger row (the days asked, the
//! stale days, the people refreshed, the failed days), closed as succeeded or failed.

use anyhow::Result;

use crate::day_ranges::ranges_json;
use crate::ledger::{OpenRun, RunCounts};
use crate::runner::AggregateReport;

/// Closes the stage's ledger row `run` with what `report` says was done. The run failed when
/// `computed` is an error or when some days could not be computed: that error is returned.
pub(super) async fn record_outcome(
    run: OpenRun,
    report: &AggregateReport,
    computed: Result<()>,
) -> Result<()> {
    let result = computed.and_then(|()| failed_days_error(report));
    let counts = RunCounts {
        loaded: report.rows_written as i64,
        details: Some(serde_json::json!({
            "days_requested": report.days_requested.map(|r| r.to_string()),
            "days_stale": ranges_json(&report.days_stale),
            "people_refreshed": report.people_refreshed,
            "failed_days": report.days_failed.iter().map(|f| f.day).collect::<Vec<_>>(),
        })),
        ..RunCounts::default()
    };
    match result {
        Ok(()) => {
            tracing::info!(
                stage = %report.stage,
                days = %report.days_requested.map_or_else(|| "-".into(), |r| r.to_string()),
                stale_days = report.days_stale.len(),
                people_refreshed = report.people_refreshed,
                rows = report.rows_written,
                seconds = report.seconds,
                "computed"
            );
            run.succeed(&counts).await
        }
        Err(e) => {
            run.fail(&format!("{e:#}"), &counts).await;
            Err(e)
        }
    }
}

/// The error of a run some of whose days could not be computed (the others were), naming each.
fn failed_days_error(report: &AggregateReport) -> Result<()> {
    if report.days_failed.is_empty() {
        return Ok(());
    }
    let days: Vec<String> = report
        .days_failed
        .iter()
        .map(|f| format!("{}: {}", f.day, f.error))
        .collect();
    Err(anyhow::anyhow!(
        "{} day(s) could not be computed; the other days were:\n  {}",
        report.days_failed.len(),
        days.join("\n  ")
    ))
}
