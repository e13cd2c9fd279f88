//! `postgres_load`: stages valid rows with `COPY ... FROM STDIN` into temporary tables
//! ([`staging`]), applies the key and reference rules there ([`set_rules`]), then merges the
//! accepted rows into the tables (an update of changed rows and an insert of new keys per dataset),
//! all in the caller's single transaction, so a failed load leaves the previous state as it was.
//! Loading the same files again changes nothing; a newer export updates the rows that changed. By
//! default loads never delete rows; with `deletes = "snapshot"` each file is the table's whole truth:
//! stored rows whose key no line of the file has are deleted, with the rows that refer to them, in
//! the same transaction (see [`Deletes`]).

pub mod erased;
pub mod key_watch;
pub mod set_rules;
pub mod staging;
pub mod statements;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use olist::Dataset;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};
use tokio::sync::mpsc;

use crate::core::record::ValidatedBatch;
use crate::core::{
    BuildError, DatasetAccount, Load, Problem, Role, Source, Stage, StageConfig, StageContext,
};
use crate::core::{keys, locks, sql_file};
use key_watch::{KeyCheck, KeyWatch};
use statements::LoadStatements;

sql_file::statements! {
    /// The load's statements that are not per table (each table's are [`LoadStatements`]).
    static SQL: Statements = "load/postgres_load.sql" {
        tune_transaction,
        create_rejects,
        create_files,
        record_file,
        copy_rejects,
        estimated_rows,
        quarantine_rejects,
        list_changed_orders,
        count_changed_orders,
        estimated_orders,
        record_states,
        first_changed_day,
        record_bulk_change,
        unreadable_keys,
    }
}

/// What a load does with the stored rows its file no longer has.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Deletes {
    /// Keep them: a file adds and updates rows (exports of changes, or of a window).
    #[default]
    Never,
    /// Delete them: each file is a full export, the table's whole truth. A stored row is deleted
    /// when no line of the file has its key (a rejected line whose key can be read keeps its row;
    /// a rejected line whose key cannot be read keeps every row of the table), and so are the
    /// stored rows that refer to a deleted row (an order's items, a customer's orders, a
    /// product's items), unless an accepted line of the same load gives them another reference.
    Snapshot,
}

/// Options of the `postgres_load` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostgresLoadConfig {
    /// How long the merge waits for a concurrent load or backfill to finish before failing, seconds.
    #[serde(default = "default_lock_timeout_secs")]
    pub lock_timeout_secs: u64,
    /// What becomes of stored rows the file no longer has.
    #[serde(default)]
    pub deletes: Deletes,
    /// With `deletes = "snapshot"`: a load that would delete more than this share of a table's
    /// rows (a truncated export, the wrong file) refuses and writes nothing, unless the run is
    /// given `--allow-deletes`.
    #[serde(default = "default_max_delete_ratio")]
    pub max_delete_ratio: f64,
    /// `PostgreSQL`'s `work_mem` for the load's transaction, in MiB: the memory each sort and hash
    /// of its rules may take before it spills to disk (the reference rules join every line of a
    /// file with its parents).
    #[serde(default = "default_work_mem_mb")]
    pub work_mem_mb: u32,
}

fn default_lock_timeout_secs() -> u64 {
    600
}

fn default_max_delete_ratio() -> f64 {
    0.05
}

fn default_work_mem_mb() -> u32 {
    256
}

/// The largest accepted `work_mem_mb`: `PostgreSQL`'s `work_mem` holds at most 2147483647 kB.
pub const MAX_WORK_MEM_MB: u32 = 2_097_151;

/// The largest accepted `lock_timeout_secs`: `PostgreSQL`'s `lock_timeout` holds at most 2147483647 ms.
pub const MAX_LOCK_TIMEOUT_SECS: u64 = 2_147_483;

impl Default for PostgresLoadConfig {
    fn default() -> Self {
        Self {
            lock_timeout_secs: default_lock_timeout_secs(),
            deletes: Deletes::default(),
            max_delete_ratio: default_max_delete_ratio(),
            work_mem_mb: default_work_mem_mb(),
        }
    }
}

#[typetag::serde(name = "postgres_load")]
impl StageConfig for PostgresLoadConfig {
    fn role(&self) -> Role {
        Role::Load
    }

    fn about(&self) -> &'static str {
        "loads valid rows into PostgreSQL (COPY into staging, key and reference rules, then update and insert per table, one transaction)"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        problems.extend(Problem::outside(
            "lock_timeout_secs",
            self.lock_timeout_secs,
            1..=MAX_LOCK_TIMEOUT_SECS,
            Some("PostgreSQL's largest lock_timeout"),
        ));
        problems.extend(Problem::outside(
            "work_mem_mb",
            self.work_mem_mb,
            1..=MAX_WORK_MEM_MB,
            Some("PostgreSQL's largest work_mem"),
        ));
        problems.extend(Problem::outside(
            "max_delete_ratio",
            self.max_delete_ratio,
            0.0..=1.0,
            Some("a share of a table's rows"),
        ));
        problems
    }

    /// The guard's ratio changes no result: a load either passes it and loads what it would
    /// have, or writes nothing.
    fn tuning_options(&self) -> &'static [&'static str] {
        &["lock_timeout_secs", "max_delete_ratio", "work_mem_mb"]
    }

    fn build(&self, ctx: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Load(Box::new(PostgresLoad::new(
            self.clone(),
            ctx.allow_deletes,
        ))))
    }
}

crate::register_stage_type!("postgres_load", PostgresLoadConfig);

/// The runtime `postgres_load` stage.
pub struct PostgresLoad {
    config: PostgresLoadConfig,
    /// Whether the four tables were empty when this load took the load lock (set by `prepare`).
    first_load: AtomicBool,
    /// Whether the operator allowed more deletes than `max_delete_ratio` (`--allow-deletes`).
    allow_deletes: bool,
    /// Where each staged file's key rule must look, found while it streamed (`stage`); a dataset
    /// without an entry is looked at everywhere.
    key_checks: Mutex<HashMap<Dataset, KeyCheck>>,
}

impl PostgresLoad {
    /// Sets the transaction's `lock_timeout` to the configured seconds (a bound value, no SQL text
    /// built from it).
    /// Sets the transaction's `lock_timeout` and `work_mem` from the options.
    async fn tune_transaction(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(SQL.tune_transaction)
            .bind(format!("{}s", self.config.lock_timeout_secs))
            .bind(format!("{}MB", self.config.work_mem_mb))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The stage with `config`; `allow_deletes` lifts the delete guard.
    #[must_use]
    pub fn new(config: PostgresLoadConfig, allow_deletes: bool) -> Self {
        Self {
            config,
            first_load: AtomicBool::new(false),
            allow_deletes,
            key_checks: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this load deletes rows: a snapshot load into tables that hold rows.
    fn deletes(&self) -> bool {
        self.config.deletes == Deletes::Snapshot && !self.first_load.load(Ordering::Relaxed)
    }

    /// Lists the stored rows of `dataset` this load deletes (see [`Deletes::Snapshot`]): when its
    /// file was `read`, those whose key the file lacks, then those whose referenced row goes.
    /// Fills `deleted` and (when any) `table_rows` into `account`.
    async fn list_deletes(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
        read: bool,
        account: &mut DatasetAccount,
    ) -> Result<(), sqlx::Error> {
        if !self.deletes() {
            return Ok(());
        }
        let sql = LoadStatements::of(dataset);
        if read {
            let unreadable: i64 = sqlx::query_scalar(SQL.unreadable_keys)
                .bind(dataset.name())
                .fetch_one(&mut *conn)
                .await?;
            if unreadable == 0 {
                sqlx::query(sql.list_deleted).execute(&mut *conn).await?;
            } else {
                tracing::warn!(
                    file = %account.file,
                    lines = unreadable,
                    "rejected lines without a readable key: no row of {} is deleted for lacking from the file",
                    dataset.table()
                );
            }
        }
        for rule in &sql.cascade_rules {
            sqlx::query(*rule).execute(&mut *conn).await?;
        }
        let deleted: i64 = sqlx::query_scalar(sql.count_deleted)
            .fetch_one(&mut *conn)
            .await?;
        account.deleted = deleted as u64;
        account.table_rows = if deleted > 0 {
            let rows: i64 = sqlx::query_scalar(sql.count_rows)
                .fetch_one(&mut *conn)
                .await?;
            Some(rows as u64)
        } else {
            None
        };
        Ok(())
    }
}

/// Appends `value` to `out` in COPY's text format (tab-separated, `\N` for NULL, backslash escapes).
pub fn push_copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let bytes = value.as_bytes();
    // Most values need no escape: copy runs of plain bytes whole.
    let mut plain_from = 0;
    for (at, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..at]);
        out.extend_from_slice(escaped);
        plain_from = at + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
}

/// Rejected lines are buffered up to this size before they are copied.
const REJECTS_FLUSH_BYTES: usize = 8 * 1024 * 1024;

/// Appends the valid rows of `batch` to `out` as COPY text for the dataset's staging table.
fn encode_rows(out: &mut Vec<u8>, batch: &ValidatedBatch) {
    for row in &batch.rows {
        out.extend_from_slice(row.line.to_string().as_bytes());
        out.push(b'\t');
        push_copy_field(out, Some(&row.raw));
        for value in &row.values {
            out.push(b'\t');
            push_copy_field(out, value.as_deref());
        }
        out.push(b'\n');
    }
}

/// Appends the rejected lines of `batch` to `out` as COPY text for `staging_rejects`.
fn encode_rejections(out: &mut Vec<u8>, source: &Source, batch: &ValidatedBatch) {
    for rejection in &batch.rejections {
        push_copy_field(out, Some(source.dataset.name()));
        out.push(b'\t');
        push_copy_field(out, Some(&source.file_name));
        out.push(b'\t');
        out.extend_from_slice(rejection.line.to_string().as_bytes());
        out.push(b'\t');
        push_copy_field(out, Some(&rejection.raw));
        out.push(b'\t');
        push_copy_field(out, Some(&rejection.reason));
        out.push(b'\t');
        push_copy_field(out, rejection.key.as_deref());
        out.push(b'\n');
    }
}

#[async_trait]
impl Load for PostgresLoad {
    async fn lock(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        self.tune_transaction(conn).await?;
        locks::exclusive_load_lock(conn).await
    }

    async fn prepare(
        &self,
        conn: &mut PgConnection,
        sources: &[Source],
    ) -> Result<(), sqlx::Error> {
        // The load lock is taken before anything reads the tables: a first load drops and builds
        // keys (an exclusive table lock), which would deadlock with another load that read the
        // tables first (its reference rules) and then waited for the load lock.
        self.tune_transaction(conn).await?;
        locks::exclusive_load_lock(conn).await?;
        self.first_load
            .store(Keys::all_tables_empty(conn).await?, Ordering::Relaxed);
        staging::create(conn, sources).await
    }

    async fn stage(
        &self,
        conn: &mut PgConnection,
        source: &Source,
        batches: &mut mpsc::Receiver<ValidatedBatch>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), sqlx::Error> {
        let dataset = source.dataset;
        let rows_statement = LoadStatements::of(dataset).copy_staging;
        let file_bytes = tokio::fs::metadata(&source.path)
            .await
            .map_or(u64::MAX, |m| m.len());
        let compressed = source.path.extension().is_some_and(|e| e == "gz");
        let mut keys = KeyWatch::new(dataset, file_bytes, compressed);
        // One COPY per file (each COPY ends with a round trip), interrupted only to flush a large
        // buffer of rejected lines, so memory stays bounded however bad the file is.
        let mut rejects = Vec::new();
        let mut finished = false;
        while !finished {
            let mut copy = conn.copy_in_raw(rows_statement).await?;
            let mut data = Vec::new();
            loop {
                let Some(batch) = batches.recv().await else {
                    finished = true;
                    break;
                };
                let lines = (batch.rows.len() + batch.rejections.len()) as u64;
                data.clear();
                keys.see(&batch);
                encode_rows(&mut data, &batch);
                encode_rejections(&mut rejects, source, &batch);
                if !data.is_empty()
                    && let Err(e) = copy.send(data.as_slice()).await
                {
                    copy.abort(e.to_string()).await.ok();
                    return Err(e);
                }
                progress(lines);
                if rejects.len() >= REJECTS_FLUSH_BYTES {
                    break;
                }
            }
            copy.finish().await?;
            if !rejects.is_empty() {
                let mut copy = conn.copy_in_raw(SQL.copy_rejects).await?;
                if let Err(e) = copy.send(rejects.as_slice()).await {
                    copy.abort(e.to_string()).await.ok();
                    return Err(e);
                }
                copy.finish().await?;
                rejects.clear();
            }
        }
        // A second file of the same dataset in one load: its lines join the first's in staging,
        // and neither watch saw the other's keys.
        self.key_checks
            .lock()
            .expect("key checks lock")
            .entry(dataset)
            .and_modify(|check| *check = KeyCheck::Everywhere)
            .or_insert(keys.finish());
        Ok(())
    }

    async fn settle(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
    ) -> Result<DatasetAccount, sqlx::Error> {
        let compare = !self.first_load.load(Ordering::Relaxed);
        let keys = self
            .key_checks
            .lock()
            .expect("key checks lock")
            .remove(&dataset)
            .unwrap_or(KeyCheck::Everywhere);
        set_rules::apply(conn, dataset, compare, self.deletes(), &keys).await?;
        let counts = sqlx::query(LoadStatements::of(dataset).counts)
            .bind(dataset.name())
            .fetch_one(&mut *conn)
            .await?;
        let mut account = DatasetAccount {
            dataset: dataset.name().to_owned(),
            file: counts.get::<Option<String>, _>(3).unwrap_or_default(),
            loaded: counts.get::<i64, _>(0) as u64,
            duplicate: counts.get::<i64, _>(1) as u64,
            rejected: counts.get::<i64, _>(2) as u64,
            erased: counts.get::<i64, _>(4) as u64,
            ..DatasetAccount::default()
        };
        self.list_deletes(conn, dataset, true, &mut account).await?;
        Ok(account)
    }

    async fn settle_unread(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
        account: &mut DatasetAccount,
    ) -> Result<(), sqlx::Error> {
        self.list_deletes(conn, dataset, false, account).await
    }

    fn max_delete_ratio(&self) -> Option<f64> {
        (self.config.deletes == Deletes::Snapshot && !self.allow_deletes)
            .then_some(self.config.max_delete_ratio)
    }

    async fn merge(
        &self,
        conn: &mut PgConnection,
        run_id: i64,
        accounts: &mut [DatasetAccount],
    ) -> Result<(), sqlx::Error> {
        self.tune_transaction(conn).await?;
        locks::exclusive_load_lock(conn).await?;
        let started = std::time::Instant::now();
        // Into empty tables, load as pg_restore does: without keys, indexes and references, which
        // are built once at the end (and checked in one pass) instead of row by row.
        let first_load = self.first_load.load(Ordering::Relaxed);
        if first_load {
            Keys::drop_all(conn).await?;
        }
        let changes = if first_load {
            ChangeLog::everything()
        } else {
            ChangeLog::before_merge(conn, run_id).await?
        };
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            bulk = changes.bulk,
            "found the changed orders"
        );
        for dataset in Dataset::LOAD_ORDER {
            let sql = LoadStatements::of(dataset);
            let merged_at = std::time::Instant::now();
            // reltuples is -1 for a table never analysed.
            let rows_before: f32 = sqlx::query_scalar(SQL.estimated_rows)
                .bind(dataset.table())
                .fetch_one(&mut *conn)
                .await?;
            let (updated, inserted) = if first_load {
                let inserted = sqlx::query(sql.first_merge)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                (0, inserted)
            } else {
                // Two plain statements are much cheaper than `INSERT ... ON CONFLICT` (no
                // speculative insertion per row), and are safe because merges hold the exclusive
                // load lock and the staged keys are unique after the key rule.
                let updated = sqlx::query(sql.merge_update)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                let inserted = sqlx::query(sql.merge_insert)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                (updated, inserted)
            };
            if let Some(account) = accounts.iter_mut().find(|a| a.dataset == dataset.name()) {
                account.inserted = inserted;
                account.updated = updated;
            }
            // A load that changes a tenth of a table would leave the planner with stale statistics for
            // the aggregate that follows (autovacuum comes later): refresh them with the load.
            let changed = (inserted + updated) as f64;
            if let Some(analyze) = sql.analyze_table
                && changed > 0.0
                && changed >= 0.1 * f64::from(rows_before.max(0.0))
            {
                sqlx::query(analyze).execute(&mut *conn).await?;
            }
            tracing::info!(
                dataset = %dataset,
                inserted,
                updated,
                seconds = merged_at.elapsed().as_secs_f64(),
                "merged"
            );
        }
        if self.deletes() {
            // Children before parents: no row is left referring to a deleted one.
            for dataset in Dataset::LOAD_ORDER.iter().rev() {
                let deleted = sqlx::query(LoadStatements::of(*dataset).delete_rows)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if let Some(account) = accounts.iter_mut().find(|a| a.dataset == dataset.name()) {
                    account.deleted = deleted;
                }
                if deleted > 0 {
                    tracing::info!(dataset = %dataset, deleted, "deleted");
                }
            }
        }
        if first_load {
            keys::restore(conn).await?;
        }
        changes.after_merge(conn, run_id).await?;
        sqlx::query(SQL.quarantine_rejects)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// A first load's keys: it loads the four tables as `pg_restore` does, without their keys, indexes
/// and references ([`keys`]), built once at the end.
struct Keys;

impl Keys {
    /// Whether none of the four tables holds a row.
    async fn all_tables_empty(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
        for dataset in Dataset::LOAD_ORDER {
            let any: bool = sqlx::query_scalar(LoadStatements::of(dataset).any_row)
                .fetch_one(&mut *conn)
                .await?;
            if any {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Records the definitions, then drops references, indexes and keys.
    async fn drop_all(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let tables: Vec<&str> = Dataset::LOAD_ORDER.iter().map(|d| d.table()).collect();
        keys::drop_all(conn, &tables).await
    }
}

/// Past this many changed orders, and this share of the stored orders, a load records one change "every
/// customer from the first changed day on" instead of each order's states: recomputing those days whole
/// costs less than tracking each person, and the log stays small.
const BULK_CHANGE_ORDERS: i64 = 20_000;
const BULK_CHANGE_SHARE: f64 = 0.05;

/// What one load changed, for the aggregates (see `order_changes` in the README): the states of the
/// changed orders before and after the merge, or one bulk change.
struct ChangeLog {
    /// Whether this load records one bulk change.
    bulk: bool,
    /// With `bulk`, the first purchase day of the changed orders before the merge.
    first_day_before: Option<chrono::NaiveDate>,
    /// Whether old states were recorded (then the new ones are recorded too).
    recorded_before: bool,
    /// A first load: every order is new, nothing needs comparing.
    everything: bool,
}

impl ChangeLog {
    /// The change of a first load into empty tables: everyone, from the first purchase day on.
    fn everything() -> Self {
        Self {
            bulk: true,
            first_day_before: None,
            recorded_before: false,
            everything: true,
        }
    }

    /// Finds the changed orders and records their old states; call before the merge.
    async fn before_merge(conn: &mut PgConnection, run_id: i64) -> Result<Self, sqlx::Error> {
        sqlx::query(SQL.list_changed_orders)
            .execute(&mut *conn)
            .await?;
        let changed: i64 = sqlx::query_scalar(SQL.count_changed_orders)
            .fetch_one(&mut *conn)
            .await?;
        // reltuples is -1 for a table never analysed, 0 for an empty one.
        let stored: f32 = sqlx::query_scalar(SQL.estimated_orders)
            .fetch_one(&mut *conn)
            .await?;
        let bulk = changed > BULK_CHANGE_ORDERS
            && changed as f64 > BULK_CHANGE_SHARE * f64::from(stored.max(0.0));
        if bulk {
            let first_day_before = sqlx::query_scalar(SQL.first_changed_day)
                .fetch_one(&mut *conn)
                .await?;
            return Ok(Self {
                bulk,
                first_day_before,
                recorded_before: false,
                everything: false,
            });
        }
        if changed > 0 {
            sqlx::query(SQL.record_states)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(Self {
            bulk,
            first_day_before: None,
            recorded_before: changed > 0,
            everything: false,
        })
    }

    /// Records the changes of run `run_id`; call after the merge, in the same transaction.
    async fn after_merge(&self, conn: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
        if self.bulk {
            let first_day_after: Option<chrono::NaiveDate> = if self.everything {
                crate::core::days::purchase_days(conn)
                    .await?
                    .map(|days| days.start)
            } else {
                sqlx::query_scalar(SQL.first_changed_day)
                    .fetch_one(&mut *conn)
                    .await?
            };
            let first = match (self.first_day_before, first_day_after) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(day) = first {
                sqlx::query(SQL.record_bulk_change)
                    .bind(run_id)
                    .bind(day)
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(());
        }
        if self.recorded_before {
            sqlx::query(SQL.record_states)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped() {
        let mut out = Vec::new();
        push_copy_field(&mut out, Some("a\tb\\c\nd\re\0"));
        out.push(b'\t');
        push_copy_field(&mut out, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\tb\\\\c\\nd\\re\u{FFFD}\t\\N"
        );
        for plain in ["", "plain text, with spaces", "ação"] {
            let mut out = Vec::new();
            push_copy_field(&mut out, Some(plain));
            assert_eq!(out, plain.as_bytes());
        }
    }

    #[test]
    fn lock_timeout_is_bounded() {
        for bad in [0, 2_147_484, u64::MAX] {
            let problems = PostgresLoadConfig {
                lock_timeout_secs: bad,
                ..PostgresLoadConfig::default()
            }
            .check();
            assert_eq!(
                problems[0].message,
                format!(
                    "must be between 1 and 2147483 (PostgreSQL's largest lock_timeout), got {bad}"
                )
            );
        }
        assert!(PostgresLoadConfig::default().check().is_empty());
    }

    #[test]
    fn work_mem_is_bounded_by_postgres() {
        for bad in [0, 2_097_152, u32::MAX] {
            let problems = PostgresLoadConfig {
                work_mem_mb: bad,
                ..PostgresLoadConfig::default()
            }
            .check();
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].key, "work_mem_mb");
            assert_eq!(
                problems[0].message,
                format!("must be between 1 and 2097151 (PostgreSQL's largest work_mem), got {bad}")
            );
        }
        let parsed: PostgresLoadConfig = toml::from_str("work_mem_mb = 64").unwrap();
        assert_eq!(parsed.work_mem_mb, 64);
        assert!(parsed.check().is_empty());
    }

    #[test]
    fn deletes_default_to_never_and_the_guard_applies_to_snapshots_unless_allowed() {
        let config: PostgresLoadConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.deletes, Deletes::Never);
        assert!((config.max_delete_ratio - 0.05).abs() < f64::EPSILON);
        assert_eq!(PostgresLoad::new(config, false).max_delete_ratio(), None);
        let snapshot: PostgresLoadConfig =
            serde_json::from_str(r#"{"deletes": "snapshot", "max_delete_ratio": 0.2}"#).unwrap();
        assert_eq!(
            PostgresLoad::new(snapshot.clone(), false).max_delete_ratio(),
            Some(0.2)
        );
        assert_eq!(PostgresLoad::new(snapshot, true).max_delete_ratio(), None);
        for bad in [-0.1, 1.5, f64::NAN] {
            let problems = PostgresLoadConfig {
                max_delete_ratio: bad,
                ..PostgresLoadConfig::default()
            }
            .check();
            assert_eq!(problems.len(), 1, "{bad}");
            assert_eq!(problems[0].key, "max_delete_ratio");
        }
        assert!(serde_json::from_str::<PostgresLoadConfig>(r#"{"deletes": "sometimes"}"#).is_err());
    }
}
