//! `customer_daily_stats`: per (day, customer) statistics, computed with set-based SQL over the loaded
//! tables for any range of days. Each day's rows are replaced atomically under a per-day lock; the
//! lifetime columns read the customer's whole history, so a day computed alone equals the same day
//! of a full backfill. See the README for every column's definition.
//!
//! The step that computes a scope's rows and writes them sits behind one seam, [`StatsEngine`]:
//! [`PostgresEngine`], the one the stage is built with, runs the statements of
//! `stages/sql/customer_daily_stats.sql` in `PostgreSQL` itself; `DataFusionEngine` (the module
//! `datafusion_engine`, built with the cargo feature `datafusion`) computes the same rows in-process from
//! `stages/sql/datafusion/customer_daily_stats.sql` and copies them back; `BallistaEngine` (the
//! module `ballista_engine`, the cargo feature `ballista`) runs that statement on a Ballista cluster
//! over Parquet snapshots of the tables. The option `engine` picks one; it is a tuning option,
//! since every engine gives the same rows. Everything around the seam
//! stays the stage's: the locks, the deletion of the rows a computation replaces and the freshness
//! records, so rows enter the table the same way whichever engine computed them.

#[cfg(feature = "ballista")]
mod ballista_engine;
#[cfg(feature = "datafusion")]
mod datafusion_engine;
#[cfg(feature = "datafusion")]
mod interned;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::NaiveDate;
use olist::ORDER_STATUSES;
use serde::{Deserialize, Serialize};
use sqlx::{Executor, SqlSafeStr, Statement};
use sqlx::{PgConnection, Row};

use crate::core::days::{MAX_CHUNK_DAYS, count_days, purchase_days};
use crate::core::{
    Aggregate, AggregateRun, BuildError, ChunkReport, DayRange, Problem, RefreshReport, Role,
    Stage, StageConfig, StageContext, Staleness, erasure, freshness, keys, locks, sql_file,
};
use crate::core::{CustomerRead, CustomerReads, StoredRows};

/// Which column identifies a customer.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKey {
    /// The person (Olist's `customer_unique_id`): the right key for repeat customers.
    #[default]
    CustomerUniqueId,
    /// The per-order customer id (each order gets a new one): every customer then orders once.
    CustomerId,
}

/// What computes the statistics; every engine gives the same rows.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// `PostgreSQL` itself, one set-based statement per computation.
    #[default]
    Postgres,
    /// `DataFusion`, in-process: the tables copied out, the rows copied back. Needs a build with
    /// the cargo feature `datafusion`.
    Datafusion,
    /// A Ballista cluster (`scheduler`), reading Parquet snapshots of the tables under
    /// `snapshot_dir`. Needs a build with the cargo feature `ballista`.
    Ballista,
}

impl Engine {
    /// The name the option takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Datafusion => "datafusion",
            Self::Ballista => "ballista",
        }
    }
}

/// Options of the `customer_daily_stats` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomerDailyStatsConfig {
    /// The column that identifies a customer: `customer_unique_id` (the person) or `customer_id`.
    #[serde(default)]
    pub customer_key: CustomerKey,
    /// Order statuses whose orders count in `orders_count` and `canceled_orders_count` but not in
    /// items or money.
    #[serde(default = "default_excluded_statuses")]
    pub excluded_statuses: Vec<String>,
    /// Days computed per transaction during a backfill (progress is reported per chunk). The
    /// default, ten years, makes a whole history one statement: every chunk after the first reads
    /// its people's earlier history again (its lifetime columns need it), which cost a 1M-order
    /// backfill a quarter more in two chunks than in one.
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
    /// What computes the rows: `postgres` (the default), `datafusion` (a build with the cargo
    /// feature `datafusion`; faster for backfills) or `ballista` (the feature `ballista`; a
    /// cluster). It changes how, never what: switching marks no day stale.
    #[serde(default)]
    pub engine: Engine,
    /// `engine = "ballista"`: the cluster's scheduler, `df://HOST:PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// `engine = "ballista"`: where the Parquet snapshots of the tables go, a directory the
    /// pipeline, the scheduler and every executor see at the same path (a shared volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_dir: Option<PathBuf>,
    /// `engine = "ballista"`: the partitions each shuffle of the job has (its tasks per stage);
    /// about the task slots of the cluster. Default [`DEFAULT_PARTITIONS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
}

/// The partitions of a Ballista job's shuffles when `partitions` is not given: the statement has
/// about forty stages, so each partition is forty tasks, each with a scheduling cost; a few
/// partitions per executor keep a small job short and a large one parallel.
pub const DEFAULT_PARTITIONS: u32 = 4;

/// The most partitions `partitions` takes.
const MAX_PARTITIONS: u32 = 4096;

fn default_excluded_statuses() -> Vec<String> {
    vec!["canceled".to_owned(), "unavailable".to_owned()]
}
fn default_chunk_days() -> u32 {
    3660
}

impl Default for CustomerDailyStatsConfig {
    fn default() -> Self {
        Self {
            customer_key: CustomerKey::default(),
            excluded_statuses: default_excluded_statuses(),
            chunk_days: default_chunk_days(),
            engine: Engine::default(),
            scheduler: None,
            snapshot_dir: None,
            partitions: None,
        }
    }
}

#[typetag::serde(name = "customer_daily_stats")]
impl StageConfig for CustomerDailyStatsConfig {
    fn role(&self) -> Role {
        Role::Aggregate
    }

    fn about(&self) -> &'static str {
        "per-customer statistics of each day (spending, orders, items, lifetime) into customer_daily_stats"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for status in &self.excluded_statuses {
            if !ORDER_STATUSES.contains(&status.as_str()) {
                problems.push(Problem::new(
                    "excluded_statuses",
                    format!(
                        "\"{status}\" is not an order status (one of {})",
                        ORDER_STATUSES.join(", ")
                    ),
                ));
            }
        }
        problems.extend(Problem::outside(
            "chunk_days",
            self.chunk_days,
            1..=MAX_CHUNK_DAYS,
            None,
        ));
        if let Some(message) = engine_problem(self.engine) {
            problems.push(Problem::new("engine", message));
        }
        problems.extend(self.cluster_problems());
        problems
    }

    fn tuning_options(&self) -> &'static [&'static str] {
        &[
            "chunk_days",
            "engine",
            "scheduler",
            "snapshot_dir",
            "partitions",
        ]
    }

    fn writes(&self) -> Option<&'static str> {
        Some("customer_daily_stats")
    }

    fn build(&self, _: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Aggregate(Box::new(CustomerDailyStats {
            config: self.clone(),
            engine: self.stats_engine()?,
        })))
    }
}

impl CustomerDailyStatsConfig {
    /// What is wrong with `scheduler` and `snapshot_dir`: both needed by `engine = "ballista"`,
    /// read by no other engine.
    fn cluster_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.engine == Engine::Ballista {
            match &self.scheduler {
                None => problems.push(Problem::new(
                    "scheduler",
                    "engine \"ballista\" needs the scheduler's address, e.g. scheduler = \"df://127.0.0.1:50050\"",
                )),
                Some(address) if scheduler_host_port(address).is_none() => {
                    problems.push(Problem::new(
                        "scheduler",
                        format!("\"{address}\": expected df://HOST:PORT, e.g. df://127.0.0.1:50050"),
                    ));
                }
                Some(_) => {}
            }
            if self
                .snapshot_dir
                .as_ref()
                .is_none_or(|d| d.as_os_str().is_empty())
            {
                problems.push(Problem::new(
                    "snapshot_dir",
                    "engine \"ballista\" needs a directory the pipeline, the scheduler and every executor see at the same path, e.g. snapshot_dir = \"/srv/pipeline/snapshots\"",
                ));
            }
            if let Some(partitions) = self.partitions {
                problems.extend(Problem::outside(
                    "partitions",
                    partitions,
                    1..=MAX_PARTITIONS,
                    None,
                ));
            }
        } else {
            for (key, given) in [
                ("scheduler", self.scheduler.is_some()),
                ("snapshot_dir", self.snapshot_dir.is_some()),
                ("partitions", self.partitions.is_some()),
            ] {
                if given {
                    problems.push(Problem::new(
                        key,
                        format!(
                            "only engine = \"ballista\" reads it (engine is \"{}\")",
                            self.engine.name()
                        ),
                    ));
                }
            }
        }
        problems
    }

    /// The engine that computes the rows.
    fn stats_engine(&self) -> Result<Box<dyn StatsEngine>, BuildError> {
        if let Some(message) = engine_problem(self.engine) {
            return Err(BuildError(message));
        }
        match self.engine {
            Engine::Postgres => Ok(Box::new(PostgresEngine)),
            #[cfg(feature = "datafusion")]
            Engine::Datafusion => Ok(Box::new(datafusion_engine::DataFusionEngine)),
            #[cfg(feature = "ballista")]
            Engine::Ballista => {
                let (Some(scheduler), Some(snapshot_dir)) = (&self.scheduler, &self.snapshot_dir)
                else {
                    return Err(BuildError(
                        "engine \"ballista\" needs scheduler and snapshot_dir".to_owned(),
                    ));
                };
                let (host, port) = scheduler_host_port(scheduler).ok_or_else(|| {
                    BuildError(format!(
                        "scheduler \"{scheduler}\": expected df://HOST:PORT"
                    ))
                })?;
                Ok(Box::new(ballista_engine::BallistaEngine::new(
                    host,
                    port,
                    snapshot_dir.clone(),
                    self.partitions.unwrap_or(DEFAULT_PARTITIONS),
                )))
            }
            #[allow(unreachable_patterns, reason = "the engines this build lacks")]
            _ => Err(BuildError(format!(
                "engine \"{}\" is not in this build",
                self.engine.name()
            ))),
        }
    }
}

/// The host and port of a scheduler address, `df://HOST:PORT` (the scheme may be left out).
fn scheduler_host_port(address: &str) -> Option<(String, u16)> {
    let rest = address.strip_prefix("df://").unwrap_or(address);
    let (host, port) = rest.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    (!host.is_empty() && !host.contains('/')).then(|| (host.to_owned(), port))
}

/// Why `engine` cannot run in this build, if it cannot.
fn engine_problem(engine: Engine) -> Option<String> {
    match engine {
        Engine::Postgres => None,
        Engine::Datafusion if cfg!(feature = "datafusion") => None,
        Engine::Ballista if cfg!(feature = "ballista") => None,
        Engine::Datafusion | Engine::Ballista => Some(format!(
            "engine \"{0}\" needs a build with the cargo feature {0}",
            engine.name()
        )),
    }
}

crate::register_stage_type!("customer_daily_stats", CustomerDailyStatsConfig);

/// The runtime `customer_daily_stats` stage.
pub struct CustomerDailyStats {
    config: CustomerDailyStatsConfig,
    /// What computes and writes the rows.
    engine: Box<dyn StatsEngine>,
}

/// Which rows a computation writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every row of the days `$1..=$2` (dates); `$3` the excluded statuses, `$4` the run id.
    Days,
    /// As [`Scope::Days`], when no order precedes `$1`: every customer's history is then the orders
    /// before `$2 + 1`, with no need to find the days' customers first (the first chunk of a
    /// backfill).
    DaysFromStart,
    /// The (person, day) pairs of the temporary table `refresh_pairs`; `$1` the excluded statuses,
    /// `$2` the run id.
    Pairs,
}

sql_file::statements! {
    /// The statements of this stage, as static text (see [`crate::core::sql_file`]).
    static SQL: Statements = "customer_daily_stats.sql" {
        delete_days,
        rows_outside_days,
        lock_for_rebuild,
        erase_rows,
        create_refresh_pairs,
        analyze_refresh_pairs,
        refresh_days,
        refresh_people,
        delete_refresh_pairs,
        compute_days_by_person,
        compute_days_from_start_by_person,
        compute_pairs_by_person,
        stale_pairs_by_person,
        record_stale_pairs_by_person,
        compute_days_by_customer_id,
        compute_days_from_start_by_customer_id,
        compute_pairs_by_customer_id,
        stale_pairs_by_customer_id,
        record_stale_pairs_by_customer_id,
        copy_orders_out,
        copy_customers_out,
        copy_order_items_out,
        table_version,
        copy_rows_in,
    }
}

sql_file::statements! {
    /// The statistics in `DataFusion`'s dialect, one statement per customer key, beside the
    /// `PostgreSQL` ones they must agree with.
    static DATAFUSION_SQL: DataFusionStatements = "datafusion/customer_daily_stats.sql" {
        compute_by_person,
        compute_by_customer_id,
    }
}

/// The `DataFusion` statement that computes every row of the days `$1..=$2` (dates) over the tables
/// the engine registers (the file's header lists them). Compiled in every build, so that the tests
/// comparing it with the `PostgreSQL` statements run in every build.
#[must_use]
pub fn datafusion_compute_sql(key: CustomerKey) -> &'static str {
    match key {
        CustomerKey::CustomerUniqueId => DATAFUSION_SQL.compute_by_person,
        CustomerKey::CustomerId => DATAFUSION_SQL.compute_by_customer_id,
    }
}

/// The loaded tables the statistics keyed by `key` read: the person needs `customers`.
#[must_use]
pub fn input_tables(key: CustomerKey) -> Vec<InputTable> {
    let mut tables = vec![InputTable::Orders, InputTable::OrderItems];
    if key == CustomerKey::CustomerUniqueId {
        tables.push(InputTable::Customers);
    }
    tables
}

/// A loaded table another engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputTable {
    /// `orders`: order id, customer id, status, purchase time.
    Orders,
    /// `customers`: customer id, person.
    Customers,
    /// `order_items`: order id, product, seller, price, freight.
    OrderItems,
}

/// The `COPY ... TO STDOUT (FORMAT binary)` that hands `table`'s needed columns to another engine.
#[must_use]
pub fn copy_out_sql(table: InputTable) -> &'static str {
    match table {
        InputTable::Orders => SQL.copy_orders_out,
        InputTable::Customers => SQL.copy_customers_out,
        InputTable::OrderItems => SQL.copy_order_items_out,
    }
}

/// The version of a shop table (`table_versions`), as text: another one after every statement
/// that wrote the table.
#[must_use]
pub fn table_version_sql() -> &'static str {
    SQL.table_version
}

/// The `COPY customer_daily_stats (...) FROM STDIN` that takes another engine's rows back: every
/// column but `computed_at`, in the table's order.
#[must_use]
pub fn copy_rows_in_sql() -> &'static str {
    SQL.copy_rows_in
}

/// The SQL that computes the rows of `scope` and inserts them, returning the rows written per day. One
/// statement for any number of days or people; the lifetime columns read each person's whole history
/// up to the day, so any scope gives the same rows as a full backfill.
#[must_use]
pub fn compute_sql(key: CustomerKey, scope: Scope) -> &'static str {
    match (key, scope) {
        (CustomerKey::CustomerUniqueId, Scope::Days) => SQL.compute_days_by_person,
        (CustomerKey::CustomerUniqueId, Scope::DaysFromStart) => {
            SQL.compute_days_from_start_by_person
        }
        (CustomerKey::CustomerUniqueId, Scope::Pairs) => SQL.compute_pairs_by_person,
        (CustomerKey::CustomerId, Scope::Days) => SQL.compute_days_by_customer_id,
        (CustomerKey::CustomerId, Scope::DaysFromStart) => {
            SQL.compute_days_from_start_by_customer_id
        }
        (CustomerKey::CustomerId, Scope::Pairs) => SQL.compute_pairs_by_customer_id,
    }
}

/// The (person, day) pairs whose stored rows could differ from a fresh computation because of a
/// change after the day was computed: for each change of a person (the change's old or new state),
/// every computed day from the change's day on where the person has a stored row or an order now.
/// `$1` is the stage's name.
#[must_use]
pub fn stale_pairs_sql(key: CustomerKey) -> &'static str {
    match key {
        CustomerKey::CustomerUniqueId => SQL.stale_pairs_by_person,
        CustomerKey::CustomerId => SQL.stale_pairs_by_customer_id,
    }
}

/// [`stale_pairs_sql`] into the temporary table `refresh_pairs (person, day)`.
#[must_use]
pub fn record_stale_pairs_sql(key: CustomerKey) -> &'static str {
    match key {
        CustomerKey::CustomerUniqueId => SQL.record_stale_pairs_by_person,
        CustomerKey::CustomerId => SQL.record_stale_pairs_by_customer_id,
    }
}

/// One computation: the rows of `scope`, grouped by `key`, written under run `run_id`.
#[derive(Clone, Copy, Debug)]
pub struct Computation<'a> {
    /// The column that identifies a customer.
    pub key: CustomerKey,
    /// Which rows.
    pub scope: Scope,
    /// The days of [`Scope::Days`] and [`Scope::DaysFromStart`]; for [`Scope::Pairs`], the first
    /// and last day of the pairs (the rows written are the pairs' only).
    pub days: DayRange,
    /// Order statuses counted in the order counts but not in items or money.
    pub excluded_statuses: &'a [String],
    /// The run the rows are written under.
    pub run_id: i64,
}

/// Computes whole days of `customer_daily_stats` from the loaded tables and inserts them, in the
/// caller's transaction, which already holds the locks and no longer holds the rows replaced.
/// Every engine gives the same rows: the columns' definitions are the README's, and
/// `stages/sql/customer_daily_stats.sql` is their reference. The changed people of a daily run
/// ([`Scope::Pairs`]) are the stage's to compute, in `PostgreSQL` whatever the engine: a few
/// thousand rows that one indexed statement computes faster than any engine gets the tables.
#[async_trait]
pub trait StatsEngine: Send + Sync {
    /// The name recorded for the days it computes (`aggregate_days.engine`).
    fn name(&self) -> &'static str;

    /// Computes and inserts the rows of `computation` ([`Scope::Days`] or
    /// [`Scope::DaysFromStart`]) through `conn`; returns how many rows it wrote per day (a day
    /// without rows may be absent).
    async fn write_rows(
        &self,
        conn: &mut PgConnection,
        computation: &Computation<'_>,
    ) -> Result<Vec<(NaiveDate, i64)>, sqlx::Error>;
}

/// The engine that runs the file's statement for the computation ([`compute_sql`]) in
/// `PostgreSQL`: one set-based statement for any number of days or people (every scope).
pub struct PostgresEngine;

#[async_trait]
impl StatsEngine for PostgresEngine {
    fn name(&self) -> &'static str {
        freshness::POSTGRES
    }

    async fn write_rows(
        &self,
        conn: &mut PgConnection,
        computation: &Computation<'_>,
    ) -> Result<Vec<(NaiveDate, i64)>, sqlx::Error> {
        let query = sqlx::query_as(compute_sql(computation.key, computation.scope));
        let query = match computation.scope {
            Scope::Days | Scope::DaysFromStart => query
                .bind(computation.days.start)
                .bind(computation.days.end),
            Scope::Pairs => query,
        };
        query
            .bind(computation.excluded_statuses)
            .bind(computation.run_id)
            .fetch_all(conn)
            .await
    }
}

/// How long a computation that replaces every row waits for the table's exclusive lock before it
/// writes the ordinary way instead: a reader in a long transaction must not queue every other
/// reader behind the wait.
const REBUILD_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Before a computation of `days`: when the table holds no row of another day, the computation
/// replaces every row, so it drops the keys and the index ([`keys`]) to build them once after
/// writing, as `pg_restore` does, and returns `true`. That takes the table's exclusive lock: readers
/// wait for the commit (they see the old rows until then, as ever, and the new ones after). When
/// another day's row is stored, or the lock is not had within [`REBUILD_LOCK_WAIT`], the keys stay
/// and the rows go in through them.
async fn rebuild_keys(conn: &mut PgConnection, days: DayRange) -> Result<bool, sqlx::Error> {
    let outside: bool = sqlx::query_scalar(SQL.rows_outside_days)
        .bind(days.start)
        .bind(days.end)
        .fetch_one(&mut *conn)
        .await?;
    if outside {
        return Ok(false);
    }
    if !keys::try_lock(conn, SQL.lock_for_rebuild, REBUILD_LOCK_WAIT).await? {
        tracing::info!(
            "customer_daily_stats: a reader held the table, so the keys stay while the rows are written"
        );
        return Ok(false);
    }
    keys::drop_all(conn, &["customer_daily_stats"]).await?;
    Ok(true)
}

impl CustomerDailyStats {
    /// The computation of `scope` over `days` under run `run_id`, with this stage's options.
    fn computation(&self, scope: Scope, days: DayRange, run_id: i64) -> Computation<'_> {
        Computation {
            key: self.config.customer_key,
            scope,
            days,
            excluded_statuses: &self.config.excluded_statuses,
            run_id,
        }
    }
}

sql_file::statements! {
    /// The statements that read this stage's rows (`stats`, `top-customers`, `repeaters`, the
    /// report): hand-written, in a file of their own beside the computing ones.
    static READS: Reads = "reads/customer_daily_stats.sql" {
        day_rows,
        day_totals,
        top_by_spent_per_person,
        top_by_spent_per_customer_id,
        top_by_orders_per_person,
        top_by_orders_per_customer_id,
        top_by_items_per_person,
        top_by_items_per_customer_id,
        repeater_totals,
        repeater_histogram,
        stats_days,
        daily,
        cohorts,
        repeat_histogram,
        days_between_orders,
        order_values,
    }
}

/// `read`'s statement when the rows are keyed by `key`: the rankings look a customer's place up by
/// the key, the other reads are the same under both.
fn read_sql(read: CustomerRead, key: CustomerKey) -> &'static str {
    let by_person = key == CustomerKey::CustomerUniqueId;
    match read {
        CustomerRead::DayTotals => READS.day_totals,
        CustomerRead::TopBySpent if by_person => READS.top_by_spent_per_person,
        CustomerRead::TopBySpent => READS.top_by_spent_per_customer_id,
        CustomerRead::TopByOrders if by_person => READS.top_by_orders_per_person,
        CustomerRead::TopByOrders => READS.top_by_orders_per_customer_id,
        CustomerRead::TopByItems if by_person => READS.top_by_items_per_person,
        CustomerRead::TopByItems => READS.top_by_items_per_customer_id,
        CustomerRead::RepeaterTotals => READS.repeater_totals,
        CustomerRead::RepeaterHistogram => READS.repeater_histogram,
        CustomerRead::StoredDays => READS.stats_days,
        CustomerRead::Daily => READS.daily,
        CustomerRead::Cohorts => READS.cohorts,
        CustomerRead::RepeatHistogram => READS.repeat_histogram,
        CustomerRead::DaysBetweenOrders => READS.days_between_orders,
        CustomerRead::OrderValues => READS.order_values,
    }
}

impl CustomerReads for CustomerDailyStats {
    fn statement(&self, read: CustomerRead) -> &'static str {
        read_sql(read, self.config.customer_key)
    }
}

#[async_trait]
impl Aggregate for CustomerDailyStats {
    async fn data_days(&self, conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error> {
        purchase_days(conn).await
    }

    fn chunk_days(&self) -> u32 {
        self.config.chunk_days
    }

    fn row_key(&self) -> &'static str {
        match self.config.customer_key {
            CustomerKey::CustomerUniqueId => "customer_unique_id",
            CustomerKey::CustomerId => "customer_id",
        }
    }

    async fn compute(
        &self,
        conn: &mut PgConnection,
        days: DayRange,
        run: &AggregateRun<'_>,
    ) -> Result<ChunkReport, sqlx::Error> {
        locks::shared_load_lock(conn).await?;
        locks::day_locks(conn, days.start, days.end).await?;
        let high_water = freshness::changes_high_water(conn).await?;
        let rebuild = rebuild_keys(conn, days).await?;
        sqlx::query(SQL.delete_days)
            .bind(days.start)
            .bind(days.end)
            .execute(&mut *conn)
            .await?;
        let first = purchase_days(conn).await?.map(|data| data.start);
        let scope = if first.is_none_or(|first| days.start <= first) {
            Scope::DaysFromStart
        } else {
            Scope::Days
        };
        let written = self
            .engine
            .write_rows(conn, &self.computation(scope, days, run.run_id))
            .await?;
        if rebuild {
            keys::restore(conn).await?;
        }
        let mut counts = BTreeMap::new();
        count_days(&written, 1, &mut counts);
        freshness::record_chunk(conn, run, self.engine.name(), high_water, days, &counts).await
    }

    async fn stale(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        fingerprint: &str,
    ) -> Result<Staleness, sqlx::Error> {
        let whole = freshness::whole_stale_days(conn, stage_name, fingerprint).await?;
        let rows = sqlx::query(stale_pairs_sql(self.config.customer_key))
            .bind(stage_name)
            .fetch_all(&mut *conn)
            .await?;
        let partial: BTreeSet<NaiveDate> = rows.iter().map(|r| r.get::<NaiveDate, _>(1)).collect();
        Ok(Staleness {
            whole,
            partial: partial.into_iter().collect(),
        })
    }

    async fn refresh(
        &self,
        conn: &mut PgConnection,
        run: &AggregateRun<'_>,
    ) -> Result<RefreshReport, sqlx::Error> {
        locks::shared_load_lock(conn).await?;
        let high_water = freshness::changes_high_water(conn).await?;
        sqlx::query(SQL.create_refresh_pairs)
            .execute(&mut *conn)
            .await?;
        sqlx::query(record_stale_pairs_sql(self.config.customer_key))
            .bind(run.stage_name)
            .execute(&mut *conn)
            .await?;
        sqlx::query(SQL.analyze_refresh_pairs)
            .execute(&mut *conn)
            .await?;
        let days: Vec<NaiveDate> = sqlx::query_scalar(SQL.refresh_days)
            .fetch_all(&mut *conn)
            .await?;
        let people: i64 = sqlx::query_scalar(SQL.refresh_people)
            .fetch_one(&mut *conn)
            .await?;
        locks::day_set_locks(conn, &days).await?;
        let mut delta: BTreeMap<NaiveDate, i64> = days.iter().map(|d| (*d, 0)).collect();
        let deleted: Vec<(NaiveDate, i64)> = sqlx::query_as(SQL.delete_refresh_pairs)
            .fetch_all(&mut *conn)
            .await?;
        count_days(&deleted, -1, &mut delta);
        let written = match (days.first(), days.last()) {
            (Some(first), Some(last)) => {
                let span = DayRange::new(*first, *last);
                PostgresEngine
                    .write_rows(conn, &self.computation(Scope::Pairs, span, run.run_id))
                    .await?
            }
            _ => Vec::new(),
        };
        let rows = count_days(&written, 1, &mut delta);
        let delta: Vec<(NaiveDate, i64)> = delta.into_iter().collect();
        freshness::record_refresh(
            conn,
            run.stage_name,
            run.run_id,
            PostgresEngine.name(),
            high_water,
            &delta,
        )
        .await?;
        Ok(RefreshReport {
            days,
            people: people as u64,
            rows,
        })
    }

    /// A row is one person's (or one customer id's) alone, computed from their own orders only: the
    /// person's rows go, and no other row changes, so no day is recomputed.
    async fn forget(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        person: &erasure::Person,
    ) -> Result<erasure::Forgotten, sqlx::Error> {
        let deleted: Vec<(NaiveDate, i64)> = sqlx::query_as(SQL.erase_rows)
            .bind(person.keys())
            .fetch_all(&mut *conn)
            .await?;
        erasure::record_erased_rows(conn, stage_name, &deleted).await?;
        Ok(erasure::Forgotten {
            rows: deleted.iter().map(|(_, n)| *n).sum::<i64>() as u64,
            recompute: Vec::new(),
        })
    }

    async fn day_rows(
        &self,
        conn: &mut PgConnection,
        day: NaiveDate,
        customer: Option<&str>,
        limit: Option<u64>,
    ) -> Result<StoredRows, sqlx::Error> {
        let statement = conn.prepare(READS.day_rows.into_sql_str()).await?;
        let rows = statement
            .query()
            .bind(day)
            .bind(customer)
            .bind(limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)))
            .fetch_all(&mut *conn)
            .await?;
        StoredRows::decode(statement.columns(), &rows)
    }

    fn customer_reads(&self) -> Option<&dyn CustomerReads> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let config = CustomerDailyStatsConfig {
            excluded_statuses: vec!["canceled".into(), "lost".into()],
            chunk_days: 0,
            ..Default::default()
        };
        let problems = config.check();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].key, "excluded_statuses");
        assert!(
            problems[0]
                .message
                .starts_with("\"lost\" is not an order status")
        );
        assert_eq!(problems[1].message, "must be between 1 and 36500, got 0");
        let config = CustomerDailyStatsConfig {
            chunk_days: u32::MAX,
            ..Default::default()
        };
        assert_eq!(
            config.check()[0].message,
            "must be between 1 and 36500, got 4294967295"
        );
    }

    const KEYS: [CustomerKey; 2] = [CustomerKey::CustomerUniqueId, CustomerKey::CustomerId];
    const SCOPES: [Scope; 3] = [Scope::Days, Scope::DaysFromStart, Scope::Pairs];

    /// One definition of each statistic: the variants differ in whose history they read and which
    /// rows they keep, never in what a column means.
    #[test]
    fn every_variant_computes_the_same_columns() {
        let definition = |sql: &'static str, run_id: &str| {
            let from = sql.find("day_items AS (").expect("no day_items");
            let to = sql
                .find("  FROM with_lifetime l")
                .expect("no with_lifetime");
            sql[from..to].replace(run_id, "$run_id")
        };
        let first = definition(compute_sql(KEYS[0], SCOPES[0]), "$4");
        for key in KEYS {
            for scope in SCOPES {
                let sql = compute_sql(key, scope);
                let (statuses, run_id) = match scope {
                    Scope::Days | Scope::DaysFromStart => ("$3", "$4"),
                    Scope::Pairs => ("$1", "$2"),
                };
                assert_eq!(definition(sql, run_id), first, "{key:?} {scope:?}");
                assert!(
                    sql.contains(&format!(
                        "o.order_status = ANY({statuses}::text[]) AS excluded"
                    )),
                    "{key:?} {scope:?}"
                );
                assert!(sql.ends_with(
                    "RETURNING stat_date\n)\nSELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date"
                ));
            }
        }
    }

    /// The rows written are the entity's, every column named.
    #[test]
    fn the_insert_names_every_column_of_the_table() {
        use sea_orm::{IdenStatic, Iterable};
        let entity: Vec<&str> = crate::entities::customer_daily_stats::Column::iter()
            .map(|c| c.as_str())
            .collect();
        for key in KEYS {
            for scope in SCOPES {
                let sql = compute_sql(key, scope);
                let from = sql
                    .find("INSERT INTO customer_daily_stats (")
                    .expect("no INSERT")
                    + "INSERT INTO customer_daily_stats (".len();
                let to = sql[from..].find(')').unwrap() + from;
                let listed: Vec<&str> = sql[from..to].split(',').map(str::trim).collect();
                assert_eq!(listed, entity, "{key:?} {scope:?}");
            }
        }
    }

    /// `DataFusion`'s statements: the same columns under both keys, every column of the table but
    /// the run's, and the rows come back through a `COPY` that names the same columns.
    #[test]
    fn the_datafusion_statements_compute_every_column_once() {
        use sea_orm::{IdenStatic, Iterable};
        let by_person = datafusion_compute_sql(CustomerKey::CustomerUniqueId);
        let by_customer_id = datafusion_compute_sql(CustomerKey::CustomerId);
        let definition = |sql: &'static str| &sql[sql.find("item_sets AS (").unwrap()..];
        assert_eq!(definition(by_person), definition(by_customer_id));
        assert!(by_person.contains("SELECT c.customer_unique_id AS customer,"));
        assert!(by_customer_id.contains("SELECT o.customer_id AS customer,"));
        let select = &by_person[by_person.rfind("\nSELECT ").unwrap()..];
        let entity: Vec<&str> = crate::entities::customer_daily_stats::Column::iter()
            .map(|c| c.as_str())
            .collect();
        for column in &entity[..entity.len() - 2] {
            assert!(
                select.contains(&format!("AS {column}"))
                    || select.contains(&format!("l.{column},"))
                    || select.contains(&format!("f.{column},"))
                    || select.contains(&format!("l.{column}\n")),
                "{column}"
            );
        }
        assert!(select.ends_with("WHERE l.day BETWEEN $1 AND $2"));
        let copy = copy_rows_in_sql();
        let from = copy.find('(').unwrap() + 1;
        let listed: Vec<&str> = copy[from..copy.find(')').unwrap()]
            .split(',')
            .map(str::trim)
            .collect();
        assert_eq!(listed, [&entity[..entity.len() - 2], &["run_id"]].concat());
        for table in [
            InputTable::Orders,
            InputTable::Customers,
            InputTable::OrderItems,
        ] {
            assert!(copy_out_sql(table).ends_with("TO STDOUT (FORMAT binary)"));
        }
    }

    #[test]
    fn an_engine_this_build_lacks_is_refused() {
        let engine = |engine: Engine| CustomerDailyStatsConfig {
            engine,
            ..Default::default()
        };
        assert!(engine(Engine::Postgres).check().is_empty());
        let datafusion = engine(Engine::Datafusion).check();
        if cfg!(feature = "datafusion") {
            assert!(datafusion.is_empty());
        } else {
            assert_eq!(
                datafusion[0].message,
                "engine \"datafusion\" needs a build with the cargo feature datafusion"
            );
        }
        let ballista = CustomerDailyStatsConfig {
            scheduler: Some("df://127.0.0.1:50050".to_owned()),
            snapshot_dir: Some(PathBuf::from("/srv/snapshots")),
            ..engine(Engine::Ballista)
        };
        if cfg!(feature = "ballista") {
            assert!(ballista.check().is_empty());
        } else {
            assert_eq!(
                ballista.check()[0].message,
                "engine \"ballista\" needs a build with the cargo feature ballista"
            );
        }
        assert!(
            engine(Engine::Datafusion)
                .tuning_options()
                .contains(&"engine")
        );
        let parsed: CustomerDailyStatsConfig = toml::from_str("engine = \"datafusion\"").unwrap();
        assert_eq!(parsed.engine, Engine::Datafusion);
        assert_eq!(parsed.engine.name(), "datafusion");
        assert!(toml::from_str::<CustomerDailyStatsConfig>("engine = \"duckdb\"").is_err());
    }

    #[test]
    fn the_cluster_options_go_with_the_ballista_engine() {
        let keys = |config: &CustomerDailyStatsConfig| -> Vec<(String, String)> {
            config
                .cluster_problems()
                .into_iter()
                .map(|p| (p.key, p.message))
                .collect()
        };
        let ballista = CustomerDailyStatsConfig {
            engine: Engine::Ballista,
            ..Default::default()
        };
        let missing = keys(&ballista);
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert_eq!(missing[0].0, "scheduler");
        assert_eq!(missing[1].0, "snapshot_dir");
        let bad = CustomerDailyStatsConfig {
            scheduler: Some("http://host".to_owned()),
            snapshot_dir: Some(PathBuf::from("/shared")),
            ..ballista.clone()
        };
        assert_eq!(
            keys(&bad),
            [(
                "scheduler".to_owned(),
                "\"http://host\": expected df://HOST:PORT, e.g. df://127.0.0.1:50050".to_owned()
            )]
        );
        let stray = CustomerDailyStatsConfig {
            scheduler: Some("df://h:1".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            keys(&stray),
            [(
                "scheduler".to_owned(),
                "only engine = \"ballista\" reads it (engine is \"postgres\")".to_owned()
            )]
        );
        assert_eq!(
            scheduler_host_port("df://scheduler:50050"),
            Some(("scheduler".to_owned(), 50050))
        );
        assert_eq!(
            scheduler_host_port("10.0.0.7:1"),
            Some(("10.0.0.7".to_owned(), 1))
        );
        for bad in [
            "df://host",
            "df://:50050",
            "df://h:0",
            "df://h:70000",
            "df://a/b:1",
        ] {
            assert_eq!(scheduler_host_port(bad), None, "{bad}");
        }
        // Where the cluster is and where its snapshots go change how, never what.
        let zero = CustomerDailyStatsConfig {
            partitions: Some(0),
            ..bad.clone()
        };
        assert!(keys(&zero).iter().any(|(k, _)| k == "partitions"));
        for key in ["engine", "scheduler", "snapshot_dir", "partitions"] {
            assert!(ballista.tuning_options().contains(&key), "{key}");
        }
    }

    #[test]
    fn the_recorded_stale_pairs_are_the_stale_pairs() {
        for key in KEYS {
            assert_eq!(
                record_stale_pairs_sql(key),
                format!(
                    "INSERT INTO refresh_pairs (person, day)\n{}",
                    stale_pairs_sql(key)
                )
            );
        }
    }

    #[test]
    fn customer_key_picks_the_grouping_column() {
        for scope in [Scope::Days, Scope::Pairs] {
            assert!(
                compute_sql(CustomerKey::CustomerUniqueId, scope)
                    .contains("c.customer_unique_id = d.customer")
            );
            assert!(
                !compute_sql(CustomerKey::CustomerId, scope)
                    .contains("customer_unique_id AS customer")
            );
        }
        // From the first day on, the history is every order up to the last day: no join back.
        let from_start = compute_sql(CustomerKey::CustomerUniqueId, Scope::DaysFromStart);
        assert!(
            from_start.contains("FROM orders o JOIN customers c ON c.customer_id = o.customer_id")
        );
        assert!(!from_start.contains("JOIN customers c ON c.customer_unique_id = d.customer"));
        assert!(stale_pairs_sql(CustomerKey::CustomerId).contains("o.customer_id = x.person"));
        assert!(
            stale_pairs_sql(CustomerKey::CustomerUniqueId)
                .contains("c.customer_unique_id = x.person")
        );
        let parsed: CustomerDailyStatsConfig =
            toml::from_str("customer_key = \"customer_id\"").unwrap();
        assert_eq!(parsed.customer_key, CustomerKey::CustomerId);
        assert!(toml::from_str::<CustomerDailyStatsConfig>("customer_key = \"email\"").is_err());
    }
}

/// The read statements: each read has one under both keys.
#[cfg(test)]
mod read_tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;
    use crate::entities::customer_daily_stats::Column;

    #[test]
    fn every_read_has_its_statement() {
        // Whether the file holds exactly the statements read is `core::sql_file`'s test.
        for key in [CustomerKey::CustomerUniqueId, CustomerKey::CustomerId] {
            let stage = CustomerDailyStats {
                config: CustomerDailyStatsConfig {
                    customer_key: key,
                    ..Default::default()
                },
                engine: Box::new(PostgresEngine),
            };
            for read in CustomerRead::ALL {
                assert!(!stage.statement(read).is_empty());
            }
        }
        assert_ne!(
            read_sql(CustomerRead::TopBySpent, CustomerKey::CustomerUniqueId),
            read_sql(CustomerRead::TopBySpent, CustomerKey::CustomerId)
        );
        assert!(READS.day_rows.contains("customer_unique_id = $2"));
        assert!(
            CustomerDailyStats {
                config: CustomerDailyStatsConfig::default(),
                engine: Box::new(PostgresEngine),
            }
            .customer_reads()
            .is_some()
        );
    }

    /// `stats` shows every column of the table but `run_id` and `computed_at`, in the table's order.
    #[test]
    fn the_day_rows_are_every_column_but_the_run_s() {
        let sql: String = READS
            .day_rows
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let select = &sql[sql.find("SELECT").unwrap() + "SELECT".len()..sql.find("FROM").unwrap()];
        let listed: Vec<&str> = select.split(',').map(str::trim).collect();
        let expected: Vec<&str> = Column::iter()
            .filter(|c| !matches!(c, Column::RunId | Column::ComputedAt))
            .map(|c| c.as_str())
            .collect();
        assert_eq!(listed, expected);
    }
}
