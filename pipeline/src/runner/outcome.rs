//! What a run did, returned to the command and stored in the ledger: the run record of
//! `run --format json`, per dataset and per aggregate.

use chrono::NaiveDate;
use stages::entities::pipeline_run::RunStatus;
use stages::{DatasetAccount, DayRange};

use crate::day_ranges::ranges_json;

/// What one `run` did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The ledger id of the invocation (`pipeline_runs.id`, `kind = 'run'`).
    pub run_id: i64,
    /// `succeeded` or `failed`.
    pub status: RunStatus,
    /// Per-dataset accounting of the ingest, if it ran.
    pub datasets: Vec<DatasetAccount>,
    /// Whether the ingest wrote (false for a validate-only run or no ingest).
    pub loaded: bool,
    /// Per aggregate stage run.
    pub aggregates: Vec<AggregateReport>,
    /// Seconds taken.
    pub seconds: f64,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Whether it failed because the connection to the database was lost (worth retrying).
    pub connection_lost: bool,
}

/// What one aggregate stage run did.
#[derive(Debug, Clone, Default)]
pub struct AggregateReport {
    /// The stage.
    pub stage: String,
    /// The stage run's ledger id.
    pub run_id: i64,
    /// The days asked for (`None` when no orders are loaded and none were asked, and for a plain
    /// `run`, which computes what is due).
    pub days_requested: Option<DayRange>,
    /// With a plain `run`: the days of the data's range that were never computed, or that the last
    /// run failed to compute, computed now, ascending.
    pub days_due: Vec<NaiveDate>,
    /// With a plain `run`: the first and last day of the data, all of them now computed unless
    /// some failed.
    pub data_days: Option<DayRange>,
    /// Stale days recomputed beyond those asked, ascending.
    pub days_stale: Vec<NaiveDate>,
    /// Of those, the days recomputed whole (computed with other options, or under a bulk change).
    pub days_stale_whole: usize,
    /// People whose rows were recomputed on stale days.
    pub people_refreshed: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Days that could not be computed, with why.
    pub days_failed: Vec<FailedDay>,
    /// Stale days left as they are (with `--skip-stale`), ascending.
    pub days_stale_left: Vec<NaiveDate>,
    /// Seconds taken.
    pub seconds: f64,
}

/// A day an aggregate could not compute.
#[derive(Debug, Clone)]
pub struct FailedDay {
    /// The day.
    pub day: NaiveDate,
    /// Why.
    pub error: String,
}

impl RunReport {
    /// The machine-readable run record (`run --format json`); its keys are an interface.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "status": self.status,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "loaded": self.loaded,
            "datasets": self.datasets.iter().map(|a| serde_json::json!({
                "unchanged_since_run": a.unchanged_since,
                "dataset": a.dataset,
                "file": a.file,
                "read": a.read,
                "loaded": a.loaded,
                "inserted": a.inserted,
                "updated": a.updated,
                "duplicate": a.duplicate,
                "rejected": a.rejected,
                "erased": a.erased,
                "deleted": a.deleted,
                "blank_lines": a.blank_lines,
            })).collect::<Vec<_>>(),
            "aggregates": self.aggregates.iter().map(AggregateReport::to_json).collect::<Vec<_>>(),
            "error": self.error,
        })
    }
}

impl AggregateReport {
    /// Days computed in all: those asked plus the stale ones.
    pub fn days_computed(&self) -> u64 {
        self.days_requested.map_or(0, |r| r.len())
            + self.days_due.len() as u64
            + self.days_stale.len() as u64
            - self.days_failed.len() as u64
    }

    /// Whether the run found nothing to compute.
    pub fn nothing_to_do(&self) -> bool {
        self.days_requested.is_none()
            && self.days_due.is_empty()
            && self.days_stale.is_empty()
            && self.days_failed.is_empty()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "stage": self.stage,
            "run_id": self.run_id,
            "days_requested": self.days_requested.map(|r| r.to_string()),
            "days_requested_count": self.days_requested.map_or(0, |r| r.len()),
            "days_due": ranges_json(&self.days_due),
            "days_due_count": self.days_due.len(),
            "data_days": self.data_days.map(|r| r.to_string()),
            "days_stale": ranges_json(&self.days_stale),
            "days_stale_count": self.days_stale.len(),
            "days_stale_whole": self.days_stale_whole,
            "people_refreshed": self.people_refreshed,
            "days_computed": self.days_computed(),
            "rows_written": self.rows_written,
            "days_failed": self.days_failed.iter().map(|f| serde_json::json!({"day": f.day, "error": f.error})).collect::<Vec<_>>(),
            "days_stale_left": ranges_json(&self.days_stale_left),
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
        })
    }
}
