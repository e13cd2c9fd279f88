//! The four roles' traits, and what a stage of each role hands to the runner: an extract finds and
//! streams files, a validate applies the row rules, a load stages and merges rows, an aggregate
//! computes a derived table for days and keeps it fresh.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::NaiveDate;
use olist::Dataset;
use sqlx::PgConnection;
use tokio::sync::mpsc;

use crate::core::days::DayRange;
use crate::core::digest::FileDigest;
use crate::core::erasure;
use crate::core::error::ExtractError;
use crate::core::freshness;
use crate::core::record::{RecordBatch, ValidatedBatch};
use crate::core::stored_rows::StoredRows;

/// An input file found and checked by [`Extract::open`].
#[derive(Clone, Debug)]
pub struct Source {
    /// The dataset the file holds.
    pub dataset: Dataset,
    /// The file's path.
    pub path: PathBuf,
    /// The file's name as shown in messages and stored in `rejected_rows.source_file`.
    pub file_name: String,
    /// For each column of [`Dataset::columns`], its index in the file's header.
    pub column_index: Vec<usize>,
    /// How many fields the header has.
    pub header_len: usize,
}

/// Counts an extract reports for one file once it is read to the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractCounts {
    /// Data lines (records) read, not counting the header and blank lines.
    pub records: u64,
    /// Blank lines skipped (they carry no data).
    pub blank_lines: u64,
    /// The size and BLAKE3 hash of the bytes read, from the file's first byte to its end (compressed
    /// bytes for a `.gz` file): what the load records as loaded.
    pub digest: FileDigest,
}

/// Reads input files.
#[async_trait]
pub trait Extract: Send + Sync {
    /// Finds the dataset's file in the data directory and checks its header, reading no data line.
    async fn open(&self, dataset: Dataset) -> Result<Source, ExtractError>;
    /// Streams the file's records into `tx`, in batches, until the end of the file. Fails, rather
    /// than returning what it read, when the file changed while it was read.
    async fn stream(
        &self,
        source: &Source,
        tx: mpsc::Sender<RecordBatch>,
    ) -> Result<ExtractCounts, ExtractError>;
}

/// Splits records into valid rows and rejected lines by the row rules: everything decidable from one
/// line. It does no I/O; the rules over sets of rows (keys, references) are the load's.
pub trait Validate: Send + Sync {
    /// Applies the row rules to a batch.
    fn check_batch(&self, source: &Source, batch: RecordBatch) -> ValidatedBatch;
    /// The largest share of a file's lines that may be rejected before the load is aborted.
    fn max_reject_ratio(&self) -> f64;
}

/// Accounting of one dataset in one load: every data line is exactly one of loaded, duplicate,
/// rejected or erased.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetAccount {
    /// The dataset's name.
    pub dataset: String,
    /// The file read.
    pub file: String,
    /// Data lines read.
    pub read: u64,
    /// Lines accepted (inserted, updated or already present as they are).
    pub loaded: u64,
    /// Of the loaded, rows that were new.
    pub inserted: u64,
    /// Of the loaded, rows that changed an existing row.
    pub updated: u64,
    /// Exact duplicates of an accepted line, not loaded again.
    pub duplicate: u64,
    /// Lines rejected, each with a reason in `rejected_rows`.
    pub rejected: u64,
    /// Lines of erased people (see `pipeline erase`), skipped without being kept anywhere.
    #[serde(default)]
    pub erased: u64,
    /// Rows deleted from the table: with `deletes = "snapshot"`, those whose key is absent from the
    /// file, and those whose referenced row was deleted (their dependents go with them).
    #[serde(default)]
    pub deleted: u64,
    /// The rows the table held before this load, counted when it deletes rows (what the delete
    /// guard compares `deleted` with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_rows: Option<u64>,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// BLAKE3 hash of the file's bytes as read (hex).
    #[serde(default)]
    pub blake3: Option<String>,
    /// The fingerprint of the extract, validate and load options the file was checked with.
    #[serde(default)]
    pub rules: Option<String>,
    /// When the file was not read again because the same content was loaded under the same rules
    /// (and nothing of it was rejected): the load run that read it. The counts are that run's.
    #[serde(default)]
    pub unchanged_since: Option<i64>,
}

/// Writes validated rows into the database. The protocol, all in the caller's one transaction:
/// optionally [`Load::lock`] first; [`Load::prepare`] once; per file, [`Load::stage`] then [`Load::settle`]; [`Load::merge`] once.
/// The staging is the load's own: no other stage reads or writes it.
#[async_trait]
pub trait Load: Send + Sync {
    /// Takes the load lock until the end of the caller's transaction, so that no other load commits
    /// before it (what the caller reads of the tables from then on stays true). [`Load::prepare`]
    /// takes it too.
    async fn lock(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error>;
    /// Creates the staging for this load's transaction, reading from `sources`.
    async fn prepare(&self, conn: &mut PgConnection, sources: &[Source])
    -> Result<(), sqlx::Error>;
    /// Copies every validated batch of `source` received on `batches` into staging, calling
    /// `progress` with the lines of each batch once it is sent.
    async fn stage(
        &self,
        conn: &mut PgConnection,
        source: &Source,
        batches: &mut mpsc::Receiver<ValidatedBatch>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), sqlx::Error>;
    /// Applies the key and reference rules of `dataset` ([`Dataset::key`], [`Dataset::references`])
    /// to its staged rows, then counts its lines as loaded, duplicate or rejected. Datasets are
    /// settled in [`Dataset::LOAD_ORDER`], so the datasets referred to are settled first.
    async fn settle(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
    ) -> Result<DatasetAccount, sqlx::Error>;
    /// For a dataset whose file is not read (its table holds it already, see
    /// `core::loaded_files`), called in its place in [`Dataset::LOAD_ORDER`] instead of
    /// [`Load::stage`] and [`Load::settle`]: what the other datasets' changes make of its rows
    /// (with `deletes = "snapshot"`, the rows whose referenced row goes), into `account`'s
    /// `deleted` and `table_rows`.
    async fn settle_unread(
        &self,
        _conn: &mut PgConnection,
        _dataset: Dataset,
        _account: &mut DatasetAccount,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }
    /// The largest share of a table's rows one load may delete, when this load deletes rows and
    /// the operator did not allow more (`--allow-deletes`); `None` when no guard applies.
    fn max_delete_ratio(&self) -> Option<f64> {
        None
    }
    /// Merges the accepted rows into the tables and quarantines the rejected lines under `run_id`,
    /// filling `inserted` and `updated` into the accounts.
    async fn merge(
        &self,
        conn: &mut PgConnection,
        run_id: i64,
        accounts: &mut [DatasetAccount],
    ) -> Result<(), sqlx::Error>;
}

/// What an aggregate reports for one computed chunk of days.
#[derive(Clone, Debug, Default)]
pub struct ChunkReport {
    /// The days computed.
    pub days: u64,
    /// Rows written.
    pub rows: u64,
}

/// What an aggregate needs to know of the stage run it computes in.
#[derive(Clone, Copy, Debug)]
pub struct AggregateRun<'a> {
    /// The ledger id of the stage run; stored on every row written.
    pub run_id: i64,
    /// The stage's name in `pipeline.toml`.
    pub stage_name: &'a str,
    /// The fingerprint of the stage's options.
    pub fingerprint: &'a str,
    /// What identifies the subject of a row ([`Aggregate::row_key`]), recorded with each day.
    pub row_key: &'a str,
}

/// Which computed days could differ from a fresh computation (see [`freshness`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    /// Days to recompute whole (other options, or a bulk change), ascending.
    pub whole: Vec<NaiveDate>,
    /// Days where some people's rows are stale (what [`Aggregate::refresh`] recomputes), ascending.
    pub partial: Vec<NaiveDate>,
}

impl Staleness {
    /// Every stale day, ascending, once.
    #[must_use]
    pub fn days(&self) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self.whole.iter().chain(&self.partial).copied().collect();
        days.sort_unstable();
        days.dedup();
        days
    }
}

/// What one [`Aggregate::refresh`] did.
#[derive(Clone, Debug, Default)]
pub struct RefreshReport {
    /// The days whose rows it rewrote, ascending.
    pub days: Vec<NaiveDate>,
    /// The people whose rows it recomputed.
    pub people: u64,
    /// Rows written.
    pub rows: u64,
}

/// Computes a derived table for days, and keeps the computed days equal to a fresh computation as
/// later loads change the data (see [`freshness`]).
#[async_trait]
pub trait Aggregate: Send + Sync {
    /// The first and last day with data, if the tables hold any.
    async fn data_days(&self, conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error>;
    /// How many days one transaction computes during a backfill.
    fn chunk_days(&self) -> u32;
    /// The key its rows hold, as the source column that fills it: `customer_unique_id` (a person),
    /// `customer_id` (one order's customer record), `product_id`. Recorded with each computed day
    /// (`aggregate_days.row_key`), so that `status` and the report can say what a row stands for.
    fn row_key(&self) -> &'static str;
    /// Replaces the rows of every day of `days` atomically and records the days as computed (in
    /// `aggregate_days`). Runs in the caller's transaction.
    async fn compute(
        &self,
        conn: &mut PgConnection,
        days: DayRange,
        run: &AggregateRun<'_>,
    ) -> Result<ChunkReport, sqlx::Error>;
    /// The computed days of the stage that could differ from a fresh computation. Reads only.
    async fn stale(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        fingerprint: &str,
    ) -> Result<Staleness, sqlx::Error>;
    /// The computed days to recompute whole ([`Staleness::whole`]) alone, without the work of finding
    /// the partial ones: what a run that refreshes them anyway needs to know.
    async fn whole_stale(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        fingerprint: &str,
    ) -> Result<Vec<NaiveDate>, sqlx::Error> {
        freshness::whole_stale_days(conn, stage_name, fingerprint).await
    }
    /// Recomputes the rows of the people changed since their days were computed, on every computed
    /// day, atomically. Runs in the caller's transaction; the whole-day stale days are the caller's.
    async fn refresh(
        &self,
        conn: &mut PgConnection,
        run: &AggregateRun<'_>,
    ) -> Result<RefreshReport, sqlx::Error>;
    /// The stored rows of `day`, in the order the stage shows them (the largest first), at most
    /// `limit` (all without one), with every column but those saying which run wrote a row: what
    /// `pipeline stats` prints. `customer`: only that customer's rows, for an aggregate with
    /// [`Aggregate::customer_reads`]; an aggregate not keyed by customer has no row of one, and
    /// returns the columns alone. Reads only; its statement is in the stage's read file
    /// (`stages/sql/reads/<type>.sql`).
    async fn day_rows(
        &self,
        conn: &mut PgConnection,
        day: NaiveDate,
        customer: Option<&str>,
        limit: Option<u64>,
    ) -> Result<StoredRows, sqlx::Error>;
    /// Erasing `person` (`pipeline erase`), in the caller's transaction, which holds the exclusive
    /// load lock and the locks of `person.days`, before the person's orders are deleted: deletes
    /// the rows that hold the person's key, and returns the computed days to recompute whole once
    /// the orders are gone (the days whose rows sum over the person with others). The default,
    /// for rows that hold no person's key: nothing deleted, every computed day of `person.days`.
    async fn forget(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        person: &erasure::Person,
    ) -> Result<erasure::Forgotten, sqlx::Error> {
        Ok(erasure::Forgotten {
            rows: 0,
            recompute: erasure::computed_among(conn, stage_name, &person.days).await?,
        })
    }
    /// For an aggregate whose rows are one per customer and day with the columns of
    /// `customer_daily_stats`: the statements that `top-customers`, `repeaters`, `stats` and the
    /// report read its rows with. `None` (the default) for any other.
    fn customer_reads(&self) -> Option<&dyn CustomerReads> {
        None
    }
}

/// A read of a customer aggregate's rows (one per customer and day, see
/// [`Aggregate::customer_reads`]). The stage gives the statement; the caller binds the parameters
/// and decodes the columns listed here, in this order. Days are `date`s, counts `bigint`, money
/// `numeric`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CustomerRead {
    /// `$1` a day: its customers, orders (any status) and revenue (`total_spent`); zeros when the
    /// day has no row.
    DayTotals,
    /// `$1..=$2` days, `$3` a limit: the customers ranked by `total_spent` over the days, largest
    /// first, ties by customer ascending: customer, orders, items, `total_spent`, first and last
    /// day with an order, and the city and state of the customer's latest order (or NULLs).
    TopBySpent,
    /// As [`CustomerRead::TopBySpent`], ranked by orders.
    TopByOrders,
    /// As [`CustomerRead::TopBySpent`], ranked by items.
    TopByItems,
    /// `$1..=$2` days: the customers with a row, those with two or more orders, those with rows on
    /// two or more days.
    RepeaterTotals,
    /// `$1..=$2` days: for each count of orders from two up (ascending), the customers with that many.
    RepeaterHistogram,
    /// No parameter: the first and last day with a row (NULLs when none).
    StoredDays,
    /// `$1..=$2` days: per day with rows (ascending), the day, its orders, customers, customers
    /// whose first purchase day it is, and revenue.
    Daily,
    /// `$1..=$2` days: per month of a first purchase day in the range and month with rows
    /// (ascending): the cohort's month, the month, the cohort's customers whose first day falls
    /// in that month, and the cohort's customers with a row in that month.
    Cohorts,
    /// `$1..=$2` days: per count of orders (ascending), the customers with that many and of them
    /// those with rows on two or more days.
    RepeatHistogram,
    /// `$1..=$2` days: per number of days since the previous purchase day (ascending), the rows.
    DaysBetweenOrders,
    /// `$1..=$2` days: per `avg_order_value` in cents (ascending), the rows.
    OrderValues,
}

impl CustomerRead {
    /// Every read, in declaration order (`read as usize` is its index).
    pub const ALL: [CustomerRead; 12] = [
        CustomerRead::DayTotals,
        CustomerRead::TopBySpent,
        CustomerRead::TopByOrders,
        CustomerRead::TopByItems,
        CustomerRead::RepeaterTotals,
        CustomerRead::RepeaterHistogram,
        CustomerRead::StoredDays,
        CustomerRead::Daily,
        CustomerRead::Cohorts,
        CustomerRead::RepeatHistogram,
        CustomerRead::DaysBetweenOrders,
        CustomerRead::OrderValues,
    ];
}

/// The statements of the [`CustomerRead`]s over a customer aggregate's rows.
pub trait CustomerReads: Send + Sync {
    /// The statement of `read` over this stage's table (static text from its read file).
    fn statement(&self, read: CustomerRead) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::CustomerRead;

    #[test]
    fn every_customer_read_is_listed_once_at_its_index() {
        for (index, read) in CustomerRead::ALL.iter().enumerate() {
            assert_eq!(*read as usize, index, "{read:?}");
        }
    }
}
