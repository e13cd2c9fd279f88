//! The stages of the pipeline and the `SeaORM` entities they work over.
//!
//! A stage is declared in `pipeline.toml` as a table with a `type` tag; the tag picks a
//! [`StageConfig`] implementation (registered with `#[typetag::serde(name = "...")]` on the impl and
//! [`register_stage_type!`] beside it), whose [`StageConfig::build`] makes the runtime object from a
//! [`StageContext`]. Stages have one role each, and each owns what it works on:
//!
//! - [`Extract`]: finds the input files and streams [`record::RecordBatch`]es;
//! - [`Validate`]: the row rules, everything decidable from one line; no I/O;
//! - [`Load`]: stages valid rows with `COPY ... FROM STDIN` in its own temporary tables, applies the
//!   schema's key and reference rules ([`olist::Dataset::key`], [`olist::Dataset::references`])
//!   there, and merges the accepted rows into the tables;
//! - [`Aggregate`]: set-based SQL over the loaded tables for a range of days.
//!
//! This crate never depends on the binary crate; the binary compiles the plan and runs it.

pub mod csv_extract;
pub mod customer_daily_stats;
pub mod digest;
pub mod entities;
pub mod freshness;
pub mod loaded_files;
pub mod locks;
pub mod postgres_load;
pub mod product_daily_stats;
pub mod record;
pub mod sql_file;
pub mod tables;
pub mod validate;

#[doc(hidden)]
pub use inventory;

use std::fmt::Debug;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use olist::Dataset;
use sqlx::PgConnection;
use tokio::sync::mpsc;

use crate::record::{RecordBatch, ValidatedBatch};

/// What a stage does in the pipeline; decides where the runner puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads input files into record batches.
    Extract,
    /// Splits records into valid rows and rejected lines.
    Validate,
    /// Writes valid rows into the database.
    Load,
    /// Computes derived tables for given days.
    Aggregate,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Extract => "extract",
            Role::Validate => "validate",
            Role::Load => "load",
            Role::Aggregate => "aggregate",
        })
    }
}

/// One problem found in a stage's options, before anything runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The option's key, e.g. `excluded_statuses`.
    pub key: String,
    /// What is wrong with it, lowercase, carrying the offending value.
    pub message: String,
}

impl Problem {
    /// A problem with the option `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The options of one stage as declared in `pipeline.toml`. Implementations are serde structs with
/// `deny_unknown_fields`, a `///` doc on every field and defaults for every field; they do no I/O.
#[typetag::serde(tag = "type")]
pub trait StageConfig: Debug + Send + Sync {
    /// The stage's role.
    fn role(&self) -> Role;
    /// One line saying what the stage does, for `pipeline stages`.
    fn about(&self) -> &'static str;
    /// Every problem with the options, without I/O.
    fn check(&self) -> Vec<Problem> {
        Vec::new()
    }
    /// Options that change how the stage runs but not what it reads or writes (batch sizes, lock
    /// timeouts): they are left out of its fingerprint, so changing one marks no day stale and no
    /// file as loaded under other rules.
    fn tuning_options(&self) -> &'static [&'static str] {
        &[]
    }
    /// The derived table the stage replaces rows of, if any. Two stages of a plan may not write the
    /// same table: each would overwrite the other's rows.
    fn writes(&self) -> Option<&'static str> {
        None
    }
    /// Builds the runtime object for one run.
    fn build(&self, ctx: &StageContext) -> Result<Stage, BuildError>;
}

/// Why a stage could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// One registered stage type: its `type` tag and its default options. Submitted by
/// [`register_stage_type!`] next to the type's `StageConfig` impl, and listed by
/// [`registered_stage_types`].
pub struct StageType {
    /// The `type` tag, the name given to `#[typetag::serde(name = "...")]`.
    pub name: &'static str,
    /// The options when the stage is declared with its tag alone.
    pub defaults: fn() -> Box<dyn StageConfig>,
}

inventory::collect!(StageType);

/// Registers a stage type for [`registered_stage_types`] (and so `pipeline stages`):
/// `register_stage_type!("csv_extract", CsvExtractConfig);`, beside
/// `#[typetag::serde(name = "csv_extract")] impl StageConfig for CsvExtractConfig`. The options type
/// must implement `Default`.
#[macro_export]
macro_rules! register_stage_type {
    ($name:literal, $config:ty) => {
        $crate::inventory::submit! {
            $crate::StageType {
                name: $name,
                defaults: || ::std::boxed::Box::new(<$config as ::std::default::Default>::default()),
            }
        }
    };
}

/// A built stage, by role.
pub enum Stage {
    /// See [`Extract`].
    Extract(Box<dyn Extract>),
    /// See [`Validate`].
    Validate(Box<dyn Validate>),
    /// See [`Load`].
    Load(Box<dyn Load>),
    /// See [`Aggregate`].
    Aggregate(Box<dyn Aggregate>),
}

/// What every stage is built with: the globals of the run, given once to [`StageConfig::build`].
#[derive(Clone, Debug)]
pub struct StageContext {
    /// The directory the input files are read from.
    pub data_dir: PathBuf,
    /// When the run started (local wall clock, no time zone), the upper bound of event timestamps.
    pub run_time: NaiveDateTime,
}

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
    pub digest: digest::FileDigest,
}

/// Reads input files.
#[async_trait]
pub trait Extract: Send + Sync {
    /// Finds the dataset's file in the data directory and checks its header, reading no data line.
    async fn open(&self, dataset: Dataset) -> Result<Source, csv_extract::ExtractError>;
    /// Streams the file's records into `tx`, in batches, until the end of the file. Fails, rather
    /// than returning what it read, when the file changed while it was read.
    async fn stream(
        &self,
        source: &Source,
        tx: mpsc::Sender<RecordBatch>,
    ) -> Result<ExtractCounts, csv_extract::ExtractError>;
}

/// Splits records into valid rows and rejected lines by the row rules: everything decidable from one
/// line. It does no I/O; the rules over sets of rows (keys, references) are the load's.
pub trait Validate: Send + Sync {
    /// Applies the row rules to a batch.
    fn check_batch(&self, source: &Source, batch: RecordBatch) -> ValidatedBatch;
    /// The largest share of a file's lines that may be rejected before the load is aborted.
    fn max_reject_ratio(&self) -> f64;
}

/// Accounting of one dataset in one load: every data line is exactly one of loaded, duplicate, rejected.
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
    /// Merges the accepted rows into the tables and quarantines the rejected lines under `run_id`,
    /// filling `inserted` and `updated` into the accounts.
    async fn merge(
        &self,
        conn: &mut PgConnection,
        run_id: i64,
        accounts: &mut [DatasetAccount],
    ) -> Result<(), sqlx::Error>;
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day, included.
    pub end: NaiveDate,
}

impl DayRange {
    /// The range from `start` to `end`, both included.
    #[must_use]
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        Self { start, end }
    }
    /// How many days the range holds.
    #[must_use]
    pub fn len(&self) -> u64 {
        (self.end - self.start).num_days().max(-1) as u64 + 1
    }
    /// Whether the range holds no day.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}..{}", self.start, self.end)
        }
    }
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
}

/// Every registered stage type, as `(type name, default configuration)`, sorted by name.
#[must_use]
pub fn registered_stage_types() -> Vec<(String, Box<dyn StageConfig>)> {
    let mut types: Vec<(String, Box<dyn StageConfig>)> = inventory::iter::<StageType>
        .into_iter()
        .map(|t| (t.name.to_owned(), (t.defaults)()))
        .collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_type_is_registered_and_defaults_from_its_tag_alone() {
        let names: Vec<String> = registered_stage_types()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for expected in [
            "csv_extract",
            "validate",
            "postgres_load",
            "customer_daily_stats",
            "product_daily_stats",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
    }

    #[test]
    fn every_registered_name_is_its_typetag_name_and_reads_from_its_tag_alone() {
        for (name, defaults) in registered_stage_types() {
            assert_eq!(
                defaults.typetag_name(),
                name,
                "registered under another name"
            );
            let read: Box<dyn StageConfig> =
                serde_json::from_value(serde_json::json!({ "type": name }))
                    .unwrap_or_else(|e| panic!("{name} does not read from its tag: {e}"));
            assert_eq!(
                serde_json::to_value(&read).unwrap(),
                serde_json::to_value(&defaults).unwrap(),
                "{name}: the tag alone does not give the defaults"
            );
        }
    }

    #[test]
    fn day_range_counts_days_inclusively() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(DayRange::new(d("2017-01-01"), d("2017-01-01")).len(), 1);
        assert_eq!(DayRange::new(d("2017-01-01"), d("2017-01-31")).len(), 31);
        assert_eq!(
            DayRange::new(d("2017-01-01"), d("2017-01-31")).to_string(),
            "2017-01-01..2017-01-31"
        );
    }
}
