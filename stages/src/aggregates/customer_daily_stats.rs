//! `customer_daily_stats`: per (day, customer) statistics, computed with set-based SQL over the loaded
//! tables for any range of days. Each day's rows are replaced atomically under a per-day lock; the
//! lifetime columns read the customer's whole history, so a day computed alone equals the same day
//! of a full backfill. See the README for every column's definition.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDate;
use olist::ORDER_STATUSES;
use serde::{Deserialize, Serialize};
use sqlx::{Executor, SqlSafeStr, Statement};
use sqlx::{PgConnection, Row};

use crate::core::days::{MAX_CHUNK_DAYS, count_days, purchase_days};
use crate::core::{
    Aggregate, AggregateRun, BuildError, ChunkReport, DayRange, Problem, RefreshReport, Role,
    Stage, StageConfig, StageContext, Staleness, freshness, locks, sql_file,
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
}

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
        if !(1..=MAX_CHUNK_DAYS).contains(&self.chunk_days) {
            problems.push(Problem::new(
                "chunk_days",
                format!(
                    "must be between 1 and {MAX_CHUNK_DAYS}, got {}",
                    self.chunk_days
                ),
            ));
        }
        problems
    }

    fn tuning_options(&self) -> &'static [&'static str] {
        &["chunk_days"]
    }

    fn writes(&self) -> Option<&'static str> {
        Some("customer_daily_stats")
    }

    fn build(&self, _: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Aggregate(Box::new(CustomerDailyStats {
            config: self.clone(),
        })))
    }
}

crate::register_stage_type!("customer_daily_stats", CustomerDailyStatsConfig);

/// The runtime `customer_daily_stats` stage.
pub struct CustomerDailyStats {
    config: CustomerDailyStatsConfig,
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

/// The statements of this stage, as static text (see [`crate::core::sql_file`]): written from this
/// module's `write` by its test.
const FILE: &str = "sql/customer_daily_stats.sql";
static STATEMENTS: LazyLock<Vec<(&str, &str)>> =
    LazyLock::new(|| sql_file::sections(include_str!("../../sql/customer_daily_stats.sql")));

fn statement(name: &str) -> &'static str {
    sql_file::one(FILE, &STATEMENTS, name)
}

fn key_suffix(key: CustomerKey) -> &'static str {
    match key {
        CustomerKey::CustomerUniqueId => "by_person",
        CustomerKey::CustomerId => "by_customer_id",
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Days => "compute_days",
        Scope::DaysFromStart => "compute_days_from_start",
        Scope::Pairs => "compute_pairs",
    }
}

/// The SQL that computes the rows of `scope` and inserts them, returning the rows written per day. One
/// statement for any number of days or people; the lifetime columns read each person's whole history
/// up to the day, so any scope gives the same rows as a full backfill.
#[must_use]
pub fn compute_sql(key: CustomerKey, scope: Scope) -> &'static str {
    statement(&format!("{}_{}", scope_name(scope), key_suffix(key)))
}

/// The (person, day) pairs whose stored rows could differ from a fresh computation because of a
/// change after the day was computed: for each change of a person (the change's old or new state),
/// every computed day from the change's day on where the person has a stored row or an order now.
/// `$1` is the stage's name.
#[must_use]
pub fn stale_pairs_sql(key: CustomerKey) -> &'static str {
    statement(&format!("stale_pairs_{}", key_suffix(key)))
}

/// [`stale_pairs_sql`] into the temporary table `refresh_pairs (person, day)`.
#[must_use]
pub fn record_stale_pairs_sql(key: CustomerKey) -> &'static str {
    statement(&format!("record_stale_pairs_{}", key_suffix(key)))
}

/// The statements that read this stage's rows (`stats`, `top-customers`, `repeaters`, the report):
/// hand-written, in a file of their own beside the computing ones.
const READS_FILE: &str = "sql/reads/customer_daily_stats.sql";
static READS: LazyLock<Vec<(&str, &str)>> =
    LazyLock::new(|| sql_file::sections(include_str!("../../sql/reads/customer_daily_stats.sql")));

fn read_statement(name: &str) -> &'static str {
    sql_file::one(READS_FILE, &READS, name)
}

/// The name of `read`'s statement in [`READS_FILE`] when the rows are keyed by `key`: the rankings
/// look a customer's place up by the key, the other reads are the same under both.
fn read_name(read: CustomerRead, key: CustomerKey) -> &'static str {
    let by_person = key == CustomerKey::CustomerUniqueId;
    match read {
        CustomerRead::DayTotals => "day_totals",
        CustomerRead::TopBySpent if by_person => "top_by_spent_per_person",
        CustomerRead::TopBySpent => "top_by_spent_per_customer_id",
        CustomerRead::TopByOrders if by_person => "top_by_orders_per_person",
        CustomerRead::TopByOrders => "top_by_orders_per_customer_id",
        CustomerRead::TopByItems if by_person => "top_by_items_per_person",
        CustomerRead::TopByItems => "top_by_items_per_customer_id",
        CustomerRead::RepeaterTotals => "repeater_totals",
        CustomerRead::RepeaterHistogram => "repeater_histogram",
        CustomerRead::StoredDays => "stats_days",
        CustomerRead::Daily => "daily",
        CustomerRead::Cohorts => "cohorts",
        CustomerRead::RepeatHistogram => "repeat_histogram",
        CustomerRead::DaysBetweenOrders => "days_between_orders",
        CustomerRead::OrderValues => "order_values",
    }
}

impl CustomerReads for CustomerDailyStats {
    fn statement(&self, read: CustomerRead) -> &'static str {
        read_statement(read_name(read, self.config.customer_key))
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

    async fn compute(
        &self,
        conn: &mut PgConnection,
        days: DayRange,
        run: &AggregateRun<'_>,
    ) -> Result<ChunkReport, sqlx::Error> {
        locks::shared_load_lock(conn).await?;
        locks::day_locks(conn, days.start, days.end).await?;
        let high_water = freshness::changes_high_water(conn).await?;
        sqlx::query("DELETE FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2")
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
        let written = sqlx::query(compute_sql(self.config.customer_key, scope))
            .bind(days.start)
            .bind(days.end)
            .bind(&self.config.excluded_statuses)
            .bind(run.run_id)
            .fetch_all(&mut *conn)
            .await?;
        let mut counts = BTreeMap::new();
        count_days(&written, 1, &mut counts);
        freshness::record_chunk(conn, run, high_water, days, &counts).await
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
        sqlx::query("CREATE TEMP TABLE refresh_pairs (person text NOT NULL, day date NOT NULL) ON COMMIT DROP")
            .execute(&mut *conn)
            .await?;
        sqlx::query(record_stale_pairs_sql(self.config.customer_key))
            .bind(run.stage_name)
            .execute(&mut *conn)
            .await?;
        sqlx::query("ANALYZE refresh_pairs")
            .execute(&mut *conn)
            .await?;
        let days: Vec<NaiveDate> =
            sqlx::query_scalar("SELECT DISTINCT day FROM refresh_pairs ORDER BY day")
                .fetch_all(&mut *conn)
                .await?;
        let people: i64 = sqlx::query_scalar("SELECT count(DISTINCT person) FROM refresh_pairs")
            .fetch_one(&mut *conn)
            .await?;
        locks::day_set_locks(conn, &days).await?;
        let mut delta: BTreeMap<NaiveDate, i64> = days.iter().map(|d| (*d, 0)).collect();
        let deleted = sqlx::query(
            "WITH deleted AS (
                 DELETE FROM customer_daily_stats s USING refresh_pairs p
                  WHERE s.customer_unique_id = p.person AND s.stat_date = p.day
                 RETURNING s.stat_date)
             SELECT stat_date, count(*)::bigint FROM deleted GROUP BY stat_date",
        )
        .fetch_all(&mut *conn)
        .await?;
        count_days(&deleted, -1, &mut delta);
        let written = if days.is_empty() {
            Vec::new()
        } else {
            sqlx::query(compute_sql(self.config.customer_key, Scope::Pairs))
                .bind(&self.config.excluded_statuses)
                .bind(run.run_id)
                .fetch_all(&mut *conn)
                .await?
        };
        let rows = count_days(&written, 1, &mut delta);
        let delta: Vec<(NaiveDate, i64)> = delta.into_iter().collect();
        freshness::record_refresh(conn, run.stage_name, run.run_id, high_water, &delta).await?;
        Ok(RefreshReport {
            days,
            people: people as u64,
            rows,
        })
    }

    async fn day_rows(
        &self,
        conn: &mut PgConnection,
        day: NaiveDate,
        customer: Option<&str>,
        limit: Option<u64>,
    ) -> Result<StoredRows, sqlx::Error> {
        let statement = conn
            .prepare(read_statement("day_rows").into_sql_str())
            .await?;
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

/// Writes this stage's statement file. Only the test runs this: the binary carries the file's text.
#[cfg(test)]
mod write {
    use super::{CustomerKey, Scope, key_suffix, scope_name};

    /// The whole file.
    pub fn file() -> String {
        let mut out = crate::core::sql_file::header(
            "The statements of the customer_daily_stats stage",
            "stages/src/aggregates/customer_daily_stats.rs",
        );
        for key in [CustomerKey::CustomerUniqueId, CustomerKey::CustomerId] {
            let suffix = key_suffix(key);
            for scope in [Scope::Days, Scope::DaysFromStart, Scope::Pairs] {
                crate::core::sql_file::push(
                    &mut out,
                    &format!("{}_{suffix}", scope_name(scope)),
                    &compute(key, scope),
                );
            }
            crate::core::sql_file::push(
                &mut out,
                &format!("stale_pairs_{suffix}"),
                stale_pairs(key),
            );
            crate::core::sql_file::push(
                &mut out,
                &format!("record_stale_pairs_{suffix}"),
                &format!(
                    "INSERT INTO refresh_pairs (person, day)\n{}",
                    crate::core::sql_file::tidy(stale_pairs(key))
                ),
            );
        }
        out
    }

    /// The SQL that computes the rows of `scope` and inserts them, returning the rows written per day. One
    /// statement for any number of days or people; the lifetime columns read each person's whole history
    /// up to the day, so any scope gives the same rows as a full backfill.
    pub fn compute(key: CustomerKey, scope: Scope) -> String {
        let customers = match scope {
            Scope::Days => match key {
                CustomerKey::CustomerUniqueId => {
                    "SELECT DISTINCT c.customer_unique_id AS customer
                       FROM orders o JOIN customers c ON c.customer_id = o.customer_id
                      WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1"
                }
                CustomerKey::CustomerId => {
                    "SELECT DISTINCT o.customer_id AS customer
                       FROM orders o
                      WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1"
                }
            },
            Scope::Pairs => "SELECT DISTINCT person AS customer FROM refresh_pairs",
            Scope::DaysFromStart => "SELECT NULL::text AS customer WHERE false",
        };
        let (customer, history_from) = match (key, scope) {
            (CustomerKey::CustomerUniqueId, Scope::DaysFromStart) => (
                "c.customer_unique_id",
                "orders o JOIN customers c ON c.customer_id = o.customer_id",
            ),
            (CustomerKey::CustomerId, Scope::DaysFromStart) => ("o.customer_id", "orders o"),
            (CustomerKey::CustomerUniqueId, _) => (
                "d.customer",
                "day_customers d\n      JOIN customers c ON c.customer_unique_id = d.customer\n      JOIN orders o ON o.customer_id = c.customer_id",
            ),
            (CustomerKey::CustomerId, _) => (
                "d.customer",
                "day_customers d\n      JOIN orders o ON o.customer_id = d.customer",
            ),
        };
        let (statuses, run_id, history_until, wanted_join, wanted_where) = match scope {
            Scope::Days | Scope::DaysFromStart => (
                "$3",
                "$4",
                "WHERE o.order_purchase_timestamp < $2::date + 1",
                "",
                "WHERE l.day BETWEEN $1::date AND $2::date",
            ),
            Scope::Pairs => (
                "$1",
                "$2",
                "",
                "JOIN refresh_pairs p ON p.person = l.customer AND p.day = l.day",
                "",
            ),
        };
        format!(
            r"WITH day_customers AS ({customers}),
history AS (
    SELECT {customer} AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY({statuses}::text[]) AS excluded
      FROM {history_from}
     {history_until}
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, {run_id}, clock_timestamp()
  FROM with_lifetime l
  {wanted_join}
 {wanted_where}
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date"
        )
    }

    /// The (person, day) pairs whose stored rows could differ from a fresh computation because of a
    /// change after the day was computed: for each change of a person (the change's old or new state),
    /// every computed day from the change's day on where the person has a stored row or an order now.
    /// `$1` is the stage's name.
    pub fn stale_pairs(key: CustomerKey) -> &'static str {
        match key {
            CustomerKey::CustomerUniqueId => {
                "WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
                 dirty AS (SELECT c.customer_unique_id AS person, c.day, c.id
                             FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
                 candidates AS (
                     SELECT x.person, s.stat_date AS day, x.id
                       FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
                     UNION ALL
                     SELECT x.person, o.order_purchase_timestamp::date, x.id
                       FROM dirty x
                       JOIN customers c ON c.customer_unique_id = x.person
                       JOIN orders o ON o.customer_id = c.customer_id
                      WHERE o.order_purchase_timestamp >= x.day)
                 SELECT DISTINCT k.person, k.day
                   FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id"
            }
            CustomerKey::CustomerId => {
                "WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
                 dirty AS (SELECT c.customer_id AS person, c.day, c.id
                             FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
                 candidates AS (
                     SELECT x.person, s.stat_date AS day, x.id
                       FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
                     UNION ALL
                     SELECT x.person, o.order_purchase_timestamp::date, x.id
                       FROM dirty x JOIN orders o ON o.customer_id = x.person
                      WHERE o.order_purchase_timestamp >= x.day)
                 SELECT DISTINCT k.person, k.day
                   FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id"
            }
        }
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

    /// The file is what `write` gives; `UPDATE_SQL=1` writes it.
    #[test]
    fn statement_file_matches_its_source() {
        let stale = sql_file::check_or_write(FILE, &write::file());
        assert!(
            stale.is_none(),
            "{FILE} disagrees with stages/src/aggregates/customer_daily_stats.rs; run `UPDATE_SQL=1 cargo test -p stages` and review the diff"
        );
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

/// The read statements: each is in the file under both keys, and the file holds no other.
#[cfg(test)]
mod read_tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;
    use crate::entities::customer_daily_stats::Column;

    #[test]
    fn every_read_has_its_statement_and_every_statement_is_read() {
        let mut named = std::collections::BTreeSet::from(["day_rows"]);
        for key in [CustomerKey::CustomerUniqueId, CustomerKey::CustomerId] {
            let stage = CustomerDailyStats {
                config: CustomerDailyStatsConfig {
                    customer_key: key,
                    ..Default::default()
                },
            };
            for read in CustomerRead::ALL {
                // Panics when the file lacks the statement.
                assert!(!stage.statement(read).is_empty());
                named.insert(read_name(read, key));
            }
        }
        let in_file: std::collections::BTreeSet<&str> = READS.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            in_file, named,
            "{READS_FILE} holds statements no read names"
        );
        assert!(read_statement("day_rows").contains("customer_unique_id = $2"));
        assert!(
            CustomerDailyStats {
                config: CustomerDailyStatsConfig::default()
            }
            .customer_reads()
            .is_some()
        );
    }

    /// `stats` shows every column of the table but `run_id` and `computed_at`, in the table's order.
    #[test]
    fn the_day_rows_are_every_column_but_the_run_s() {
        let sql: String = read_statement("day_rows")
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
