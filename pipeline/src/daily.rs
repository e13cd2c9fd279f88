//! `pipeline schedule`: the scheduler of [`crate::schedule`] driving the real pipeline, one day at a time.

use anyhow::{Result, bail};
use async_trait::async_trait;
use chrono::NaiveDate;
use stages::{DayRange, Role};

use crate::cli::UsageError;
use crate::db::{self, Db};
use crate::plan::Plan;
use crate::runner::{self, Days};
use crate::schedule::{self, DailyJob, JobError, RawScheduleConfig, ScheduleConfig, SystemClock};

/// Applies `--at` and `--timezone` over the configured schedule.
pub fn override_schedule(plan: &mut Plan, at: Option<&str>, timezone: Option<&str>) -> Result<()> {
    if at.is_none() && timezone.is_none() {
        return Ok(());
    }
    let current = &plan.schedule;
    let raw = RawScheduleConfig {
        at: at
            .map(str::to_owned)
            .unwrap_or_else(|| current.at.format("%H:%M").to_string()),
        timezone: timezone
            .map(str::to_owned)
            .unwrap_or_else(|| current.timezone.name().to_owned()),
        max_catch_up_days: current.max_catch_up_days,
        retry_initial_secs: current.retry_initial.as_secs(),
        retry_max_secs: current.retry_max.as_secs(),
    };
    plan.schedule = ScheduleConfig::try_from(raw).map_err(|e| UsageError(vec![e.to_string()]))?;
    Ok(())
}

/// The pipeline as a [`DailyJob`]: connects on demand, so a database that is down at start or
/// between runs is retried rather than fatal.
struct PipelineJob {
    plan: Plan,
    db: tokio::sync::Mutex<Option<Db>>,
}

impl PipelineJob {
    async fn db(&self) -> Result<Db, JobError> {
        let mut slot = self.db.lock().await;
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let db = db::connect(&self.plan.database)
            .await
            .map_err(|e| JobError::Unreachable(format!("{e:#}")))?;
        db::migrate(&db)
            .await
            .map_err(|e| JobError::Failed(format!("{e:#}")))?;
        crate::ledger::close_interrupted(&db)
            .await
            .map_err(|e| JobError::Unreachable(format!("{e:#}")))?;
        *slot = Some(db.clone());
        Ok(db)
    }

    async fn forget_connection(&self) {
        *self.db.lock().await = None;
    }
}

fn is_connection_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        })
    })
}

#[async_trait]
impl DailyJob for PipelineJob {
    async fn last_completed_day(&self) -> Result<Option<NaiveDate>, JobError> {
        let db = self.db().await?;
        let stages: Vec<String> = self
            .plan
            .with_role(Role::Aggregate)
            .map(|s| s.name.clone())
            .collect();
        sqlx::query_scalar(
            "SELECT max(run_date) FROM pipeline_runs
              WHERE parent_run_id IS NOT NULL AND status = 'succeeded' AND stage_name = ANY($1)",
        )
        .bind(&stages)
        .fetch_one(&db.pool)
        .await
        .map_err(|e| JobError::Unreachable(e.to_string()))
    }

    async fn run_day(&self, day: NaiveDate) -> Result<(), JobError> {
        let db = self.db().await?;
        match runner::run(&db, &self.plan, &[], Days::Range(DayRange::new(day, day))).await {
            Ok(_) => Ok(()),
            Err(e) if is_connection_error(&e) => {
                self.forget_connection().await;
                Err(JobError::Unreachable(format!("{e:#}")))
            }
            Err(e) => Err(JobError::Failed(format!("{e:#}"))),
        }
    }
}

/// Runs the schedule until SIGTERM or Ctrl-C (or once, with `once`).
pub async fn schedule(plan: Plan, once: bool) -> Result<()> {
    let config = plan.schedule.clone();
    let job = PipelineJob {
        plan,
        db: tokio::sync::Mutex::new(None),
    };
    let report =
        schedule::run_schedule(&config, &job, &SystemClock, once, shutdown_signal()).await?;
    if report.has_failures() {
        tracing::warn!(
            failed = report.failed.len(),
            skipped = report.skipped.len(),
            "the schedule ended with failed or skipped days"
        );
    }
    if once && !report.failed.is_empty() {
        bail!(
            "{} scheduled day(s) failed: {:?}",
            report.failed.len(),
            report.failed
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
