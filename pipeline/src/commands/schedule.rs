//! `pipeline schedule`: the scheduler of [`crate::scheduler`] driving the real pipeline, each tick one
//! run that brings everything up to date, with one line on stdout per run.

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::NaiveDate;
use stages::{Role, Stage};

use crate::db::{self, Db};
use crate::plan::Plan;
use crate::runner::{self, Days, RunOptions};
use crate::scheduler::{self, DailyJob, JobError, RunOutcome, SystemClock};

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

    /// The last purchase day of the loaded data, as the aggregates see it (the latest of theirs).
    async fn data_last_day(&self, db: &Db) -> Result<Option<NaiveDate>> {
        let context = self.plan.context();
        let mut last = None;
        for stage in self.plan.with_role(Role::Aggregate) {
            let Stage::Aggregate(aggregate) = stage.build(&context)? else {
                continue;
            };
            let mut conn = db.pool.acquire().await?;
            let days = aggregate
                .data_days(&mut conn)
                .await
                .context("cannot read the first and last purchase day")?;
            last = last.max(days.map(|d| d.end));
        }
        Ok(last)
    }
}

#[async_trait]
impl DailyJob for PipelineJob {
    async fn run_due(&self) -> Result<RunOutcome, JobError> {
        let db = self.db().await?;
        let options = RunOptions {
            days: Days::Due,
            stale: true,
            force_load: false,
            allow_deletes: false,
        };
        let report = runner::run(&db, &self.plan, &[], options).await;
        // A run that could not even open its ledger row did nothing to report.
        if report.run_id != 0 {
            println!("{}", crate::output::run_summary_line(&report));
        }
        match report.error {
            None => {
                // Only for the warning that the export lags: a failure here fails no run.
                let data_last_day = self.data_last_day(&db).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the data's last day");
                    None
                });
                Ok(RunOutcome { data_last_day })
            }
            Some(error) if report.connection_lost => {
                self.forget_connection().await;
                Err(JobError::Unreachable(error))
            }
            Some(error) => Err(JobError::Failed(error)),
        }
    }
}

/// Runs the schedule until SIGTERM or Ctrl-C (or once, with `once`, failing unless its run
/// succeeded).
pub async fn run(plan: Plan, once: bool) -> Result<()> {
    let config = plan.schedule.clone();
    for deprecation in config.deprecations() {
        tracing::warn!("{deprecation}");
    }
    let job = PipelineJob {
        plan,
        db: tokio::sync::Mutex::new(None),
    };
    scheduler::run_schedule(&config, &job, &SystemClock, once, shutdown_signal()).await?;
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
