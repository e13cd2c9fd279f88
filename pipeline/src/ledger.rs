//! The run ledger, `pipeline_runs`: the one module that reads and writes it. Each `pipeline run` (and
//! each scheduled day) opens an invocation row (`kind = 'run'`), and each stage it runs a row of its
//! own (`kind = 'stage'`) under it. A row is opened as running and closed as succeeded or failed. A
//! live run holds an advisory lock on its row's id, so a running row whose lock is free belongs to a
//! process that died; it is closed as failed on the next start, saying what of it was kept.

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use stages::DayRange;
use stages::core::locks::RUN_CLASS;
use stages::entities::pipeline_run::{self, RunKind, RunStatus};

use crate::db::Db;

stages::statements! {
    /// This module's statements, in `pipeline/sql/ledger.sql`.
    static SQL: Statements = "ledger.sql" {
        lock_run,
        succeed,
        fail,
        unlock_run,
        kept_days,
        running,
        try_lock_run,
        close_interrupted,
    }
}

/// What a ledger row is about: the stage (or, for an invocation, the pipeline) and the days asked.
#[derive(Clone, Debug)]
pub struct RunSubject<'a> {
    /// Invocation or stage.
    pub kind: RunKind,
    /// The stage's name (`pipeline` for an invocation).
    pub name: &'a str,
    /// The stage's type (`run` for an invocation).
    pub type_name: &'a str,
    /// The fingerprint of the stage's options (of every stage's, for an invocation).
    pub fingerprint: &'a str,
    /// The invocation a stage run belongs to.
    pub parent: Option<i64>,
    /// The days asked for, if any.
    pub days: Option<DayRange>,
}

/// An open ledger row, kept alive by its lock until closed.
pub struct OpenRun {
    /// The row's id (the run id).
    pub id: i64,
    alive: PoolConnection<Postgres>,
}

/// Counts stored on a closed run.
#[derive(Clone, Debug, Default)]
pub struct RunCounts {
    /// Data lines read.
    pub read: i64,
    /// Lines loaded or rows written.
    pub loaded: i64,
    /// Duplicates.
    pub duplicate: i64,
    /// Rejected lines.
    pub rejected: i64,
    /// Details (per-dataset accounting, days computed).
    pub details: Option<serde_json::Value>,
}

/// Opens a running row for `subject`.
pub async fn open(db: &Db, subject: &RunSubject<'_>) -> Result<OpenRun> {
    let (run_date, range) = match subject.days {
        Some(days) if days.start == days.end => (Some(days.start), None),
        Some(days) => (None, Some((days.start, days.end))),
        None => (None, None),
    };
    let row = pipeline_run::ActiveModel {
        parent_run_id: Set(subject.parent),
        kind: Set(subject.kind),
        stage_name: Set(subject.name.to_owned()),
        stage_type: Set(subject.type_name.to_owned()),
        config_fingerprint: Set(subject.fingerprint.to_owned()),
        run_date: Set(run_date),
        range_start: Set(range.map(|r: (NaiveDate, NaiveDate)| r.0)),
        range_end: Set(range.map(|r| r.1)),
        status: Set(RunStatus::Running),
        started_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    }
    .insert(&db.orm)
    .await
    .context("cannot record the run in pipeline_runs")?;
    let mut alive = db
        .pool
        .acquire()
        .await
        .context("cannot take a connection for the run")?;
    sqlx::query(SQL.lock_run)
        .bind(RUN_CLASS)
        .bind(lock_key(row.id))
        .execute(&mut *alive)
        .await
        .context("cannot lock the run's ledger row")?;
    Ok(OpenRun { id: row.id, alive })
}

/// The advisory lock key of a run id (ids wrap into the 32-bit key space).
fn lock_key(id: i64) -> i32 {
    id as i32
}

/// Closes run `id` as succeeded; run it inside the work's transaction so both commit together.
pub async fn succeed_in(
    conn: &mut sqlx::PgConnection,
    id: i64,
    counts: &RunCounts,
) -> Result<(), sqlx::Error> {
    sqlx::query(SQL.succeed)
        .bind(id)
        .bind(counts.read)
        .bind(counts.loaded)
        .bind(counts.duplicate)
        .bind(counts.rejected)
        .bind(counts.details.clone())
        .bind(RunStatus::Succeeded)
        .execute(conn)
        .await?;
    Ok(())
}

impl OpenRun {
    /// Closes the run as succeeded (for work that committed on its own).
    pub async fn succeed(mut self, counts: &RunCounts) -> Result<()> {
        succeed_in(&mut self.alive, self.id, counts)
            .await
            .context("cannot close the run in pipeline_runs")?;
        self.release().await;
        Ok(())
    }

    /// Releases a run whose row was closed inside the work's own committed transaction.
    pub async fn release_committed(mut self) {
        self.release().await;
    }

    /// Closes the run as failed with `error`, and `counts` of what it kept.
    pub async fn fail(mut self, error: &str, counts: &RunCounts) {
        let result = sqlx::query(SQL.fail)
            .bind(self.id)
            .bind(error)
            .bind(RunStatus::Failed)
            .bind(counts.loaded)
            .bind(counts.details.clone())
            .bind(RunStatus::Running)
            .execute(&mut *self.alive)
            .await;
        if let Err(e) = result {
            tracing::warn!(run_id = self.id, error = %e, "could not mark the run failed; the next start will");
        }
        self.release().await;
    }

    async fn release(&mut self) {
        sqlx::query(SQL.unlock_run)
            .bind(RUN_CLASS)
            .bind(lock_key(self.id))
            .execute(&mut *self.alive)
            .await
            .ok();
    }
}

/// What an interrupted run kept: the days it committed (aggregates commit chunk by chunk), if any.
async fn kept_by(conn: &mut sqlx::PgConnection, id: i64) -> Result<String, sqlx::Error> {
    let days: Vec<NaiveDate> = sqlx::query_scalar(SQL.kept_days)
        .bind(id)
        .fetch_all(conn)
        .await?;
    Ok(if days.is_empty() {
        "nothing of it was kept".to_owned()
    } else {
        let ranges = stages::core::freshness::consecutive_runs(&days);
        let shown: Vec<String> = ranges.iter().take(5).map(ToString::to_string).collect();
        format!(
            "the {} days it had committed were kept ({}{}); the rest was rolled back",
            days.len(),
            shown.join(", "),
            if ranges.len() > 5 { ", ..." } else { "" }
        )
    })
}

/// Closes the running rows of processes that died (their lock is free); returns their ids.
pub async fn close_interrupted(db: &Db) -> Result<Vec<i64>> {
    let mut conn = db.pool.acquire().await?;
    let running: Vec<i64> = sqlx::query_scalar(SQL.running)
        .bind(RunStatus::Running)
        .fetch_all(&mut *conn)
        .await?;
    let mut closed = Vec::new();
    for id in running {
        let free: bool = sqlx::query_scalar(SQL.try_lock_run)
            .bind(RUN_CLASS)
            .bind(lock_key(id))
            .fetch_one(&mut *conn)
            .await?;
        if free {
            let kept = kept_by(&mut conn, id).await?;
            sqlx::query(SQL.close_interrupted)
                .bind(id)
                .bind(RunStatus::Failed)
                .bind(format!(
                    "interrupted: the process ended before the run finished; {kept}"
                ))
                .bind(RunStatus::Running)
                .execute(&mut *conn)
                .await?;
            sqlx::query(SQL.unlock_run)
                .bind(RUN_CLASS)
                .bind(lock_key(id))
                .execute(&mut *conn)
                .await?;
            tracing::warn!(run_id = id, %kept, "closed an interrupted run left as running");
            closed.push(id);
        }
    }
    Ok(closed)
}

/// The last run of each stage name.
pub async fn last_runs(db: &Db) -> Result<Vec<pipeline_run::Model>> {
    let rows = pipeline_run::Entity::find()
        .filter(pipeline_run::Column::Kind.eq(RunKind::Stage))
        .order_by_desc(pipeline_run::Column::Id)
        .all(&db.orm)
        .await?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.stage_name.clone()))
        .collect())
}

/// The days the last run of aggregate stage `stage` failed to compute, with the time it ended (a day
/// computed after that is no longer failed).
pub async fn failed_days(
    db: &Db,
    stage: &str,
) -> Result<Option<(Vec<NaiveDate>, chrono::DateTime<chrono::FixedOffset>)>> {
    let last = pipeline_run::Entity::find()
        .filter(pipeline_run::Column::Kind.eq(RunKind::Stage))
        .filter(pipeline_run::Column::StageName.eq(stage))
        .filter(pipeline_run::Column::Status.ne(RunStatus::Running))
        .order_by_desc(pipeline_run::Column::Id)
        .one(&db.orm)
        .await?;
    let Some(last) = last else { return Ok(None) };
    if last.status != RunStatus::Failed {
        return Ok(None);
    }
    let days: Vec<NaiveDate> = last
        .details
        .as_ref()
        .and_then(|d| d.get("failed_days"))
        .and_then(|d| serde_json::from_value::<Vec<NaiveDate>>(d.clone()).ok())
        .unwrap_or_default();
    // A run that failed before it could say which days: the days it was asked for.
    let days = if days.is_empty() {
        match (last.run_date, last.range_start.zip(last.range_end)) {
            (Some(d), _) => vec![d],
            (_, Some((a, b))) => a.iter_days().take_while(|d| *d <= b).collect(),
            _ => Vec::new(),
        }
    } else {
        days
    };
    Ok(last.finished_at.map(|at| (days, at)))
}
