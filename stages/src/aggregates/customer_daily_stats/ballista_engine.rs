//! `engine = "ballista"`: the statistics computed on an Apache `DataFusion` Ballista cluster.
//!
//! The statement is `DataFusion`'s (`datafusion/customer_daily_stats.sql`, the one the in-process
//! engine runs); what differs is where the data is and where the plan runs:
//!
//! 1. [`BallistaEngine::snapshot`]: each table the statistics read, as Parquet files under
//!    `snapshot_dir/<table>/<version>/`, where the version is the table's `table_versions` row,
//!    which every statement writing the table changes. The version is read first, then the table
//!    copied (binary `COPY` on the stage's connection, as the in-process engine does), so a copy is
//!    never older than its version: a snapshot whose directory exists for the current version is
//!    the table, and is reused; otherwise the table is copied again. A snapshot is written under a
//!    private name and renamed into place whole, so a killed run leaves no directory that looks
//!    complete.
//! 2. The statement, planned by a client session of the scheduler at `scheduler`: the executors
//!    read the snapshot's files (the directory must be the same path for them) and shuffle between
//!    themselves; the client fetches the result.
//! 3. The rows back into `PostgreSQL` through the in-process engine's `COPY`, in the stage's
//!    transaction, so every day is replaced whole or not at all.
//!
//! Like the in-process engine, it computes whole days only: the changed people of a daily run are
//! the stage's, in `PostgreSQL` (see [`StatsEngine`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ::datafusion::arrow::array::RecordBatch;
use ::datafusion::arrow::datatypes::SchemaRef;
use ::datafusion::execution::SessionStateBuilder;
use ::datafusion::parquet::arrow::ArrowWriter;
use ::datafusion::parquet::file::properties::WriterProperties;
use ::datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use ::datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use async_trait::async_trait;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use chrono::NaiveDate;
use futures::StreamExt;
use sqlx::PgConnection;

use super::datafusion_engine::{
    BinaryCopyDecoder, copy_back, excluded_statuses_batch, execute, schema, table_name,
};
use super::{Computation, InputTable, StatsEngine, copy_out_sql, input_tables, table_version_sql};

/// Rows per Parquet file of a snapshot: a table of N rows is N / this files, which executors read
/// in parallel (and `DataFusion` splits a file by row groups too).
const FILE_ROWS: usize = 512 * 1024;

/// Rows per row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How long a client waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A private directory left by a killed run is removed when it is older than this.
const STALE_PARTIAL: Duration = Duration::from_hours(24);

/// The engine of `engine = "ballista"`.
pub struct BallistaEngine {
    /// The scheduler's host.
    host: String,
    /// The scheduler's gRPC port.
    port: u16,
    /// Where the snapshots go, absolute.
    snapshot_dir: PathBuf,
    /// The partitions of the job's shuffles.
    partitions: u32,
}

impl BallistaEngine {
    /// The engine of the scheduler at `host:port`, with snapshots under `snapshot_dir` (made
    /// absolute against the current directory: the executors read the same path), its jobs'
    /// shuffles in `partitions` partitions.
    #[must_use]
    pub fn new(host: String, port: u16, snapshot_dir: PathBuf, partitions: u32) -> Self {
        let snapshot_dir = std::path::absolute(&snapshot_dir).unwrap_or(snapshot_dir);
        Self {
            host,
            port,
            snapshot_dir,
            partitions,
        }
    }

    /// The scheduler's address as the option gives it.
    fn address(&self) -> String {
        format!("df://{}:{}", self.host, self.port)
    }

    /// A failure of the cluster, naming it.
    fn error(&self, error: impl std::fmt::Display) -> sqlx::Error {
        sqlx::Error::Protocol(format!(
            "the ballista engine (scheduler {}): {error}",
            self.address()
        ))
    }

    /// Fails, naming the address, unless the scheduler accepts a connection: checked before any
    /// snapshot is written.
    async fn reach_scheduler(&self) -> Result<(), sqlx::Error> {
        let connect = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(sqlx::Error::Protocol(format!(
                "cannot reach the Ballista scheduler at {}: {error}",
                self.address()
            ))),
            Err(_) => Err(sqlx::Error::Protocol(format!(
                "cannot reach the Ballista scheduler at {}: no answer in {} s",
                self.address(),
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// A client session of the scheduler.
    async fn session(&self) -> Result<SessionContext, sqlx::Error> {
        let config = SessionConfig::new_with_ballista()
            .with_ballista_job_name("customer_daily_stats")
            .with_target_partitions(self.partitions as usize)
            // Ballista 55's adaptive planner re-planned the statistics' job without end on a
            // compose cluster (thousands of stages for the 3,000-order sample); the static
            // distributed planner runs it as planned.
            .with_ballista_adaptive_query_planner(false);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        SessionContext::remote_with_state(&self.address(), state)
            .await
            .map_err(|e| self.error(e))
    }

    /// The directory of `table`'s snapshot at its current version, written if it is not there.
    async fn snapshot(
        &self,
        conn: &mut PgConnection,
        table: InputTable,
    ) -> Result<PathBuf, sqlx::Error> {
        // The version first: the copy that follows is at least as new.
        let version: String = sqlx::query_scalar(table_version_sql())
            .bind(table_name(table))
            .fetch_one(&mut *conn)
            .await?;
        let root = self.snapshot_dir.join(table_name(table));
        let dir = root.join(&version);
        if dir.is_dir() {
            tracing::debug!(table = table_name(table), %version, "ballista: the snapshot is current");
            return Ok(dir);
        }
        let partial = self.partial_dir(&root, &version)?;
        let written = self.write_snapshot(conn, table, &partial).await;
        let rows = self.place(written, &partial, &dir)?;
        tracing::debug!(table = table_name(table), %version, rows, "ballista: the snapshot written");
        prune(&root, &version);
        Ok(dir)
    }

    /// Fails unless the cluster reads every row of every snapshot: the scheduler plans the scans
    /// from the files it lists under `snapshot_dir`, so a scheduler or an executor that does not
    /// see the directory (another machine, a volume not mounted) would compute from no rows, and
    /// the days would be replaced by nothing. The rows the files' footers hold here are compared
    /// with a count the cluster computes.
    async fn check_cluster_sees(
        &self,
        ctx: &SessionContext,
        snapshots: &[(&str, PathBuf)],
    ) -> Result<(), sqlx::Error> {
        for (name, dir) in snapshots {
            let here = footer_rows(dir).map_err(|e| self.error(e))?;
            let there = ctx
                .table(*name)
                .await
                .map_err(|e| self.error(e))?
                .count()
                .await
                .map_err(|e| self.error(e))?;
            if there != here {
                return Err(self.error(format!(
                    "the cluster read {there} rows of {name} where the snapshot holds {here} ({}): \
                     the scheduler and every executor must see snapshot_dir at the same path as the pipeline",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    fn io_error(&self, path: &Path, error: &std::io::Error) -> sqlx::Error {
        self.error(format!("snapshot_dir: {}: {error}", path.display()))
    }

    /// The directory of the excluded statuses as a one-column Parquet file, named by its content
    /// (the plan cannot carry an in-memory table to the executors): written once per list.
    fn statuses_snapshot(&self, excluded_statuses: &[String]) -> Result<PathBuf, sqlx::Error> {
        let batch = excluded_statuses_batch(excluded_statuses).map_err(|e| self.error(e))?;
        let mut unique: Vec<&str> = excluded_statuses.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let name = blake3::hash(unique.join("\n").as_bytes()).to_hex();
        let root = self.snapshot_dir.join("excluded_statuses");
        let dir = root.join(&name[..32]);
        if dir.is_dir() {
            return Ok(dir);
        }
        let partial = self.partial_dir(&root, &name[..32])?;
        let mut files = SnapshotFiles::new(&partial, batch.schema());
        let written = files
            .write(&batch)
            .and_then(|()| files.finish())
            .map_err(|e| self.error(e));
        self.place(written, &partial, &dir)?;
        Ok(dir)
    }

    /// A new private directory under `root` for a snapshot of `version`.
    fn partial_dir(&self, root: &Path, version: &str) -> Result<PathBuf, sqlx::Error> {
        std::fs::create_dir_all(root).map_err(|e| self.io_error(root, &e))?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let partial = root.join(format!(".partial-{version}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&partial).map_err(|e| self.io_error(&partial, &e))?;
        Ok(partial)
    }

    /// Renames the private directory `partial`, once `written` succeeded, to `dir`; removes it
    /// otherwise (and when another run placed the same snapshot first).
    fn place<T>(
        &self,
        written: Result<T, sqlx::Error>,
        partial: &Path,
        dir: &Path,
    ) -> Result<T, sqlx::Error> {
        let placed = written.and_then(|value| match std::fs::rename(partial, dir) {
            Ok(()) => Ok(value),
            // Another run placed the same version first: its files are the same table.
            Err(_) if dir.is_dir() => Ok(value),
            Err(e) => Err(self.io_error(dir, &e)),
        });
        if partial.exists() {
            std::fs::remove_dir_all(partial).ok();
        }
        placed
    }

    /// Copies `table` out of `PostgreSQL` into Parquet files in `dir`; returns the rows.
    async fn write_snapshot(
        &self,
        conn: &mut PgConnection,
        table: InputTable,
        dir: &Path,
    ) -> Result<usize, sqlx::Error> {
        let mut files = SnapshotFiles::new(dir, schema(table));
        let mut decoder = BinaryCopyDecoder::new(table);
        let mut stream = conn.copy_out_raw(copy_out_sql(table)).await?;
        while let Some(chunk) = stream.next().await {
            decoder.feed(&chunk?)?;
            for batch in decoder.take_batches() {
                files.write(&batch).map_err(|e| self.error(e))?;
            }
        }
        drop(stream);
        for batch in decoder.finish()? {
            files.write(&batch).map_err(|e| self.error(e))?;
        }
        files.finish().map_err(|e| self.error(e))
    }
}

/// The rows of the Parquet files in `dir`, from their footers.
fn footer_rows(dir: &Path) -> Result<usize, String> {
    let mut rows = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let reader =
                SerializedFileReader::new(file).map_err(|e| format!("{}: {e}", path.display()))?;
            rows += usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
        }
    }
    Ok(rows)
}

/// Removes the other versions of a table's snapshot under `root`, and private directories that
/// killed runs left; what cannot be removed stays (a later run tries again).
fn prune(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let remove = if name.starts_with(".partial-") {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age > STALE_PARTIAL)
        } else {
            name != keep
        };
        if remove {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

/// The Parquet files of one table's snapshot, one after the other, [`FILE_ROWS`] rows each.
struct SnapshotFiles<'a> {
    dir: &'a Path,
    schema: SchemaRef,
    current: Option<(ArrowWriter<File>, usize)>,
    files: usize,
    rows: usize,
}

impl<'a> SnapshotFiles<'a> {
    fn new(dir: &'a Path, schema: SchemaRef) -> Self {
        Self {
            dir,
            schema,
            current: None,
            files: 0,
            rows: 0,
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        if self.current.is_none() {
            let path = self.dir.join(format!("part-{:05}.parquet", self.files));
            let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let properties = WriterProperties::builder()
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .build();
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(properties))
                .map_err(|e| e.to_string())?;
            self.current = Some((writer, 0));
            self.files += 1;
        }
        let Some((writer, rows)) = self.current.as_mut() else {
            unreachable!("a file was just opened");
        };
        writer.write(batch).map_err(|e| e.to_string())?;
        *rows += batch.num_rows();
        self.rows += batch.num_rows();
        if *rows >= FILE_ROWS {
            self.close()?;
        }
        Ok(())
    }

    /// Closes the open file, synced to disk: the directory is renamed into place only after.
    fn close(&mut self) -> Result<(), String> {
        if let Some((writer, _)) = self.current.take() {
            let file = writer.into_inner().map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Closes the last file; an empty table is one file with no rows (the schema alone).
    fn finish(mut self) -> Result<usize, String> {
        if self.files == 0 {
            let empty = RecordBatch::new_empty(self.schema.clone());
            self.write(&empty)?;
        }
        self.close()?;
        Ok(self.rows)
    }
}

#[async_trait]
impl StatsEngine for BallistaEngine {
    fn name(&self) -> &'static str {
        "ballista"
    }

    async fn write_rows(
        &self,
        conn: &mut PgConnection,
        computation: &Computation<'_>,
    ) -> Result<Vec<(NaiveDate, i64)>, sqlx::Error> {
        self.reach_scheduler().await?;
        let started = std::time::Instant::now();
        let mut snapshots = Vec::new();
        for table in input_tables(computation.key) {
            snapshots.push((table_name(table), self.snapshot(conn, table).await?));
        }
        snapshots.push((
            "excluded_statuses",
            self.statuses_snapshot(computation.excluded_statuses)?,
        ));
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "ballista: the snapshots ready"
        );
        let ctx = self.session().await?;
        for (name, dir) in &snapshots {
            let path = dir
                .to_str()
                .ok_or_else(|| self.error(format!("{}: not UTF-8", dir.display())))?;
            ctx.register_parquet(*name, &format!("{path}/"), ParquetReadOptions::default())
                .await
                .map_err(|e| self.error(e))?;
        }
        self.check_cluster_sees(&ctx, &snapshots).await?;
        let stream = execute(&ctx, computation)
            .await
            .map_err(|e| self.error(e))?;
        copy_back(conn, stream, computation.run_id, None, &|e| self.error(e)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_current_version_and_young_partials() {
        let root = tempfile::tempdir().unwrap();
        for name in ["v1", "v2", ".partial-v3-1-2"] {
            std::fs::create_dir(root.path().join(name)).unwrap();
        }
        prune(root.path(), "v2");
        let mut left: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".partial-v3-1-2", "v2"]);
    }

    #[test]
    fn snapshot_files_split_by_rows_and_an_empty_table_is_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::new(dir.path(), schema(InputTable::Customers));
        assert_eq!(files.finish().unwrap(), 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(footer_rows(dir.path()).unwrap(), 0);
        let full = tempfile::tempdir().unwrap();
        let batch =
            excluded_statuses_batch(&["canceled".to_owned(), "unavailable".to_owned()]).unwrap();
        let mut files = SnapshotFiles::new(full.path(), batch.schema());
        files.write(&batch).unwrap();
        files.write(&batch).unwrap();
        assert_eq!(files.finish().unwrap(), 4);
        assert_eq!(footer_rows(full.path()).unwrap(), 4);
    }
}
