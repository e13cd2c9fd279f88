//! The run ledger, `pipeline_runs`: one row per stage run, opened as `running`, closed as
//! `succeeded` or `failed`. A live run holds an advisory lock on its row's id, so a `running` row
//! whose lock is free belongs to a process that died; it is closed as failed on the next start.

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use sqlx::Postgres;
use sqlx::Row;
use sqlx::pool::PoolConnection;
use stages::entities::pipeline_run;
use stages::locks::RUN_CLASS;

use crate::db::Db;
use crate::plan::PlannedStage;

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
    /// Details (per-dataset accounting).
    pub details: Option<serde_json::Value>,
}

/// Opens a `running` row for `stage`.
pub async fn open(
    db: &Db,
    stage: &PlannedStage,
    run_date: Option<NaiveDate>,
    range: Option<(NaiveDate, NaiveDate)>,
) -> Result<OpenRun> {
    let row = pipeline_run::ActiveModel {
        stage_name: Set(stage.name.clone()),
        stage_type: Set(stage.type_name.clone()),
        config_fingerprint: Set(stage.fingerprint.clone()),
        run_date: Set(run_date),
        range_start: Set(range.map(|r| r.0)),
        range_end: Set(range.map(|r| r.1)),
        status: Set("running".to_owned()),
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
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(RUN_CLASS)
        .bind(row.id as i32)
        .execute(&mut *alive)
        .await
        .context("cannot lock the run's ledger row")?;
    Ok(OpenRun { id: row.id, alive })
}

/// The SQL that closes a run as succeeded; run it inside the work's transaction so both commit together.
pub async fn succeed_in(
    conn: &mut sqlx::PgConnection,
    id: i64,
    counts: &RunCounts,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE pipeline_runs SET status = 'succeeded', finished_at = clock_timestamp(), rows_read = $2,
                rows_loaded = $3, rows_duplicate = $4, rows_rejected = $5, details = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(counts.read)
    .bind(counts.loaded)
    .bind(counts.duplicate)
    .bind(counts.rejected)
    .bind(counts.details.clone())
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

    /// Closes the run as failed with `error` (the previous state of the data was kept).
    pub async fn fail(mut self, error: &str) {
        let result = sqlx::query(
            "UPDATE pipeline_runs SET status = 'failed', finished_at = clock_timestamp(), error = $2
              WHERE id = $1 AND status = 'running'",
        )
        .bind(self.id)
        .bind(error)
        .execute(&mut *self.alive)
        .await;
        if let Err(e) = result {
            tracing::warn!(run_id = self.id, error = %e, "could not mark the run failed; the next start will");
        }
        self.release().await;
    }

    async fn release(&mut self) {
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(RUN_CLASS)
            .bind(self.id as i32)
            .execute(&mut *self.alive)
            .await
            .ok();
    }
}

/// Closes the `running` rows of processes that died (their lock is free); returns their ids.
pub async fn close_interrupted(db: &Db) -> Result<Vec<i64>> {
    let mut conn = db.pool.acquire().await?;
    let running: Vec<i64> =
        sqlx::query("SELECT id FROM pipeline_runs WHERE status = 'running' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let mut closed = Vec::new();
    for id in running {
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(RUN_CLASS)
            .bind(id as i32)
            .fetch_one(&mut *conn)
            .await?;
        if free {
            sqlx::query(
                "UPDATE pipeline_runs SET status = 'failed', finished_at = clock_timestamp(),
                        error = 'interrupted: the process ended before the run finished; nothing of it was kept'
                  WHERE id = $1 AND status = 'running'",
            )
            .bind(id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(RUN_CLASS)
                .bind(id as i32)
                .execute(&mut *conn)
                .await?;
            tracing::warn!(run_id = id, "closed an interrupted run left as running");
            closed.push(id);
        }
    }
    Ok(closed)
}

/// The last run of each stage name (not the per-day rows).
pub async fn last_runs(db: &Db) -> Result<Vec<pipeline_run::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let rows = pipeline_run::Entity::find()
        .filter(pipeline_run::Column::ParentRunId.is_null())
        .order_by_desc(pipeline_run::Column::Id)
        .all(&db.orm)
        .await?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.stage_name.clone()))
        .collect())
}
