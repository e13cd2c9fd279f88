//! Running a plan: the ingest chain (extract → validate → load, joined by bounded channels) in one
//! transaction ([`ingest`]), then each aggregate over the selected days, phase by phase
//! ([`aggregate`]: choose the days, compute them, refresh the stale people, record the outcome).

mod aggregate;
mod ingest;
mod outcome;

use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use stages::entities::pipeline_run::{RunKind, RunStatus};
use stages::{DayRange, Role};

use crate::db::Db;
use crate::ledger::{self, RunCounts, RunSubject};
use crate::plan::{Plan, PlannedStage};

pub use ingest::check_data_dir;
pub use outcome::{AggregateReport, FailedDay, RunReport};

/// Which days an aggregate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Days {
    /// What is not up to date: the days of the data's range never computed, and those the last run
    /// failed to compute (plain `run`; with the stale days, unless `--skip-stale`).
    Due,
    /// Every day from the first to the last purchase day in the data (`run --full-refresh`).
    All,
    /// These days.
    Range(DayRange),
}

/// What `run` is asked to do beyond the stages.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// The days asked for.
    pub days: Days,
    /// Whether to recompute the stale days too (the default; `--skip-stale` turns it off).
    pub stale: bool,
    /// Whether to read every file even when its content was loaded before (`--force-load`).
    pub force_load: bool,
    /// Whether a load may delete more than its `max_delete_ratio` (`--allow-deletes`).
    pub allow_deletes: bool,
}

/// Whether `error` comes from losing (or not getting) a connection to the database.
pub fn is_connection_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        })
    })
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// The fingerprint of a whole plan (every stage's), for the invocation's ledger row.
fn plan_fingerprint(plan: &Plan) -> String {
    combined_fingerprint(
        plan.stages
            .iter()
            .map(|s| (s.name.as_str(), s.fingerprint.as_str())),
    )
}

/// SHA-256 over `(label, fingerprint)` pairs, as 16 hex digits like a stage's own fingerprint.
fn combined_fingerprint<'a>(parts: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (label, fingerprint) in parts {
        hash.update(label.as_bytes());
        hash.update([0]);
        hash.update(fingerprint.as_bytes());
        hash.update([0]);
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the selected stages of `plan` (all when `selected` is empty) under one invocation row of
/// the ledger. The report is returned even when the run failed, with the error in it.
pub async fn run(db: &Db, plan: &Plan, selected: &[String], options: RunOptions) -> RunReport {
    let started = Instant::now();
    let fingerprint = plan_fingerprint(plan);
    let asked = match options.days {
        Days::Range(range) => Some(range),
        Days::All | Days::Due => None,
    };
    let mut report = RunReport::default();
    let invocation = match ledger::open(
        db,
        &RunSubject {
            kind: RunKind::Run,
            name: "pipeline",
            type_name: "run",
            fingerprint: &fingerprint,
            parent: None,
            days: asked,
        },
    )
    .await
    {
        Ok(run) => run,
        Err(e) => {
            report.connection_lost = is_connection_error(&e);
            report.error = Some(format!("{e:#}"));
            return report;
        }
    };
    report.run_id = invocation.id;
    let result = run_stages(db, plan, selected, options, invocation.id, &mut report).await;
    report.seconds = started.elapsed().as_secs_f64();
    let counts = ingest::line_counts(&report.datasets);
    match result {
        Ok(()) => {
            report.status = RunStatus::Succeeded;
            let details = Some(report.to_json());
            if let Err(e) = invocation.succeed(&RunCounts { details, ..counts }).await {
                report.status = RunStatus::Failed;
                report.error = Some(format!("{e:#}"));
            }
        }
        Err(e) => {
            report.connection_lost = is_connection_error(&e);
            report.error = Some(format!("{e:#}"));
            let details = Some(report.to_json());
            invocation
                .fail(&format!("{e:#}"), &RunCounts { details, ..counts })
                .await;
        }
    }
    report
}

async fn run_stages(
    db: &Db,
    plan: &Plan,
    selected: &[String],
    options: RunOptions,
    invocation: i64,
    report: &mut RunReport,
) -> Result<()> {
    let chosen = |stage: &PlannedStage| selected.is_empty() || selected.contains(&stage.name);
    let ingest: Vec<&PlannedStage> = plan
        .stages
        .iter()
        .filter(|s| s.role != Role::Aggregate)
        .collect();
    if ingest.iter().any(|s| chosen(s)) {
        let write = plan.with_role(Role::Load).any(chosen);
        let (accounts, loaded) = ingest::run(
            db,
            plan,
            write,
            (options.force_load, options.allow_deletes),
            invocation,
        )
        .await?;
        report.datasets = accounts;
        report.loaded = loaded;
    }
    let mut computed_any = false;
    for stage in plan.with_role(Role::Aggregate).filter(|s| chosen(s)) {
        let (aggregate, error) =
            aggregate::run(db, &plan.context(), stage, options, invocation).await;
        report.aggregates.push(aggregate);
        if let Some(error) = error {
            return Err(error);
        }
        computed_any = true;
    }
    if computed_any {
        // The changes every computed day reflects go, so that `order_changes` stays as small as
        // what is still stale.
        let mut conn = db.pool.acquire().await?;
        let pruned = stages::core::freshness::prune_changes(&mut conn).await?;
        tracing::info!(pruned, "order_changes pruned");
    }
    Ok(())
}
