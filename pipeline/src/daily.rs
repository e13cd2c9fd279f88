//! `pipeline schedule`: the scheduler of [`crate::schedule`] driving the real pipeline, one day at a time.

use anyhow::{Result, bail};
use async_trait::async_trait;
use chrono::NaiveDate;
use stages::{DayRange, Role};

use crate::db::{self, Db};
use crate::plan::Plan;
use crate::runner::{self, Days, RunOptions, is_connection_error};
use crate::schedule::{self, DailyJob, JobError, SystemClock};

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

#[async_trait]
impl DailyJob for PipelineJob {
    async fn last_completed_day(&self) -> Result<Option<NaiveDate>, JobError> {
        let db = self.db().await?;
        let stages: Vec<String> = self
            .plan
            .with_role(Role::Aggregate)
            .map(|s| s.name.clone())
            .collect();
        sqlx::query_scalar("SELECT max(day) FROM aggregate_days WHERE stage_name = ANY($1)")
            .bind(&stages)
            .fetch_one(&db.pool)
            .await
            .map_err(|e| JobError::Unreachable(e.to_string()))
    }

    async fn days_due(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, JobError> {
        let db = self.db().await?;
        let fail = |e: anyhow::Error| {
            if is_connection_error(&e) {
                JobError::Unreachable(format!("{e:#}"))
            } else {
                JobError::Failed(format!("{e:#}"))
            }
        };
        let mut due = Vec::new();
        for stage in self.plan.with_role(Role::Aggregate) {
            let health = crate::reports::stage_health(&db, &self.plan, stage)
                .await
                .map_err(fail)?;
            due.extend(
                from.iter_days()
                    .take_while(|d| *d <= to)
                    .filter(|d| !health.computed.contains(d)),
            );
            due.extend(health.due().into_iter().filter(|d| (from..=to).contains(d)));
        }
        due.sort_unstable();
        due.dedup();
        Ok(due)
    }

    async fn run_day(&self, day: NaiveDate) -> Result<(), JobError> {
        let db = self.db().await?;
        let options = RunOptions {
            days: Days::Range(DayRange::new(day, day)),
            stale: true,
            force_load: false,
        };
        let report = runner::run(&db, &self.plan, &[], options).await;
        match report.error {
            None => {
                for aggregate in &report.aggregates {
                    if !aggregate.days_stale.is_empty() {
                        tracing::info!(
                            stage = %aggregate.stage,
                            %day,
                            stale_days = aggregate.days_stale.len(),
                            days = %crate::reports::ranges_text(&aggregate.days_stale),
                            "also recomputed days made stale by changes since they were computed"
                        );
                    }
                }
                Ok(())
            }
            Some(error) if report.connection_lost => {
                self.forget_connection().await;
                Err(JobError::Unreachable(error))
            }
            Some(error) => Err(JobError::Failed(error)),
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
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
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
