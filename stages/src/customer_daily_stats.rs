//! `customer_daily_stats`: per (day, customer) statistics, computed with set-based SQL over the loaded
//! tables for any range of days. Each day's rows are replaced atomically under a per-day lock; the
//! lifetime columns read the customer's whole history, so a day computed alone equals the same day
//! of a full backfill. See the README for every column's definition.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::validate::rules::ORDER_STATUSES;
use crate::{Aggregate, ChunkReport, DayRange, Problem, Role, Stage, StageConfig, locks};

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
    /// Days computed per transaction during a backfill (progress is reported per chunk).
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
}

fn default_excluded_statuses() -> Vec<String> {
    vec!["canceled".to_owned(), "unavailable".to_owned()]
}
fn default_chunk_days() -> u32 {
    366
}

/// The largest accepted `chunk_days` (a century).
pub const MAX_CHUNK_DAYS: u32 = 36_500;

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

    fn writes(&self) -> Option<&'static str> {
        Some("customer_daily_stats")
    }

    fn build(&self) -> Stage {
        Stage::Aggregate(Box::new(CustomerDailyStats {
            config: self.clone(),
        }))
    }
}

/// The runtime `customer_daily_stats` stage.
pub struct CustomerDailyStats {
    config: CustomerDailyStatsConfig,
}

/// The SQL that computes the rows of the days `$1..=$2` (dates), with `$3` the excluded statuses and
/// `$4` the run id, and inserts them. One statement for any number of days.
pub fn compute_sql(key: CustomerKey) -> String {
    let (day_customers, history_from) = match key {
        CustomerKey::CustomerUniqueId => (
            "SELECT DISTINCT c.customer_unique_id AS customer
               FROM orders o JOIN customers c ON c.customer_id = o.customer_id
              WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1",
            "day_customers d
               JOIN customers c ON c.customer_unique_id = d.customer
               JOIN orders o ON o.customer_id = c.customer_id",
        ),
        CustomerKey::CustomerId => (
            "SELECT DISTINCT o.customer_id AS customer
               FROM orders o
              WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1",
            "day_customers d
               JOIN orders o ON o.customer_id = d.customer",
        ),
    };
    format!(
        r#"WITH day_customers AS ({day_customers}),
history AS (
    SELECT d.customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($3::text[]) AS excluded
      FROM {history_from}
     WHERE o.order_purchase_timestamp < $2::date + 1
),
order_totals AS (
    SELECT h.order_id, count(*) AS items, sum(i.price) AS items_value, sum(i.freight_value) AS freight_value
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.order_id
),
per_day AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           coalesce(sum(t.items), 0) AS items_count,
           coalesce(sum(t.items_value), 0) AS items_value,
           coalesce(sum(t.freight_value), 0) AS freight_value,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h LEFT JOIN order_totals t ON t.order_id = h.order_id
     GROUP BY h.customer, h.day
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
distincts AS (
    SELECT h.customer, h.day,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded AND h.day >= $1::date
     GROUP BY h.customer, h.day
)
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       coalesce(x.distinct_products, 0), coalesce(x.distinct_sellers, 0),
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $4, clock_timestamp()
  FROM with_lifetime l
  LEFT JOIN distincts x ON x.customer = l.customer AND x.day = l.day
 WHERE l.day BETWEEN $1::date AND $2::date"#
    )
}

/// Records every day of `$1..=$2` as computed under run `$3` by stage `$4` with fingerprint `$5`,
/// with the number of rows the day now has (zero for a day without orders).
const RECORD_DAYS_SQL: &str = "
INSERT INTO pipeline_runs (parent_run_id, stage_name, stage_type, config_fingerprint, run_date, status,
                           started_at, finished_at, rows_loaded)
SELECT $3, $4, 'customer_daily_stats', $5, days.day, 'succeeded', clock_timestamp(), clock_timestamp(),
       coalesce(counts.n, 0)
  FROM (SELECT d::date AS day FROM generate_series($1::date, $2::date, interval '1 day') d) days
  LEFT JOIN (SELECT stat_date, count(*) AS n FROM customer_daily_stats
              WHERE stat_date BETWEEN $1::date AND $2::date GROUP BY stat_date) counts
         ON counts.stat_date = days.day";

/// The first and last purchase day of the loaded orders, if any.
pub async fn purchase_days(conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT min(order_purchase_timestamp)::date, max(order_purchase_timestamp)::date FROM orders",
    )
    .fetch_one(conn)
    .await?;
    Ok(match (row.get(0), row.get(1)) {
        (Some(start), Some(end)) => Some(DayRange::new(start, end)),
        _ => None,
    })
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
        run_id: i64,
        stage_name: &str,
        fingerprint: &str,
    ) -> Result<ChunkReport, sqlx::Error> {
        locks::shared_load_lock(conn).await?;
        locks::day_locks(conn, days.start, days.end).await?;
        sqlx::query("DELETE FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2")
            .bind(days.start)
            .bind(days.end)
            .execute(&mut *conn)
            .await?;
        let inserted = sqlx::query(AssertSqlSafe(compute_sql(self.config.customer_key)))
            .bind(days.start)
            .bind(days.end)
            .bind(&self.config.excluded_statuses)
            .bind(run_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        sqlx::query(RECORD_DAYS_SQL)
            .bind(days.start)
            .bind(days.end)
            .bind(run_id)
            .bind(stage_name)
            .bind(fingerprint)
            .execute(&mut *conn)
            .await?;
        Ok(ChunkReport {
            days: days.len(),
            rows: inserted,
        })
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

    #[test]
    fn customer_key_picks_the_grouping_column() {
        assert!(
            compute_sql(CustomerKey::CustomerUniqueId)
                .contains("c.customer_unique_id = d.customer")
        );
        assert!(!compute_sql(CustomerKey::CustomerId).contains("customer_unique_id AS customer"));
        let parsed: CustomerDailyStatsConfig =
            toml::from_str("customer_key = \"customer_id\"").unwrap();
        assert_eq!(parsed.customer_key, CustomerKey::CustomerId);
        assert!(toml::from_str::<CustomerDailyStatsConfig>("customer_key = \"email\"").is_err());
    }
}
