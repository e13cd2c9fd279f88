//! `product_daily_stats`: per (day, product), what was sold: orders, items, money, customers. One
//! static statement computes any set of days; a day is recomputed whole when a load changes one of
//! its orders (or their items, or their customer's person) after the day was computed.
//!
//! This stage is also the worked example of "Writing a stage" in the README: its options and its
//! freshness fit in this one file, its SQL in `stages/sql/product_daily_stats.sql`, plus the
//! migration that creates its table.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use olist::ORDER_STATUSES;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::{Executor, SqlSafeStr, Statement};

use crate::core::StoredRows;
use crate::core::days::{MAX_CHUNK_DAYS, count_days, purchase_days};
use crate::core::{
    Aggregate, AggregateRun, BuildError, ChunkReport, DayRange, Problem, RefreshReport, Role,
    Stage, StageConfig, StageContext, Staleness, freshness, locks, sql_file,
};

/// Options of the `product_daily_stats` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProductDailyStatsConfig {
    /// Order statuses whose items are not counted as sold.
    #[serde(default = "default_excluded_statuses")]
    pub excluded_statuses: Vec<String>,
    /// Days computed per transaction during a backfill.
    #[serde(default = "default_chunk_days")]
    pub chunk_days: u32,
}

fn default_excluded_statuses() -> Vec<String> {
    vec!["canceled".to_owned(), "unavailable".to_owned()]
}
fn default_chunk_days() -> u32 {
    366
}

impl Default for ProductDailyStatsConfig {
    fn default() -> Self {
        Self {
            excluded_statuses: default_excluded_statuses(),
            chunk_days: default_chunk_days(),
        }
    }
}

#[typetag::serde(name = "product_daily_stats")]
impl StageConfig for ProductDailyStatsConfig {
    fn role(&self) -> Role {
        Role::Aggregate
    }

    fn about(&self) -> &'static str {
        "per-product sales of each day (orders, items, money, customers) into product_daily_stats"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self
            .excluded_statuses
            .iter()
            .filter(|s| !ORDER_STATUSES.contains(&s.as_str()))
            .map(|s| {
                Problem::new(
                    "excluded_statuses",
                    format!(
                        "\"{s}\" is not an order status (one of {})",
                        ORDER_STATUSES.join(", ")
                    ),
                )
            })
            .collect();
        problems.extend(Problem::outside(
            "chunk_days",
            self.chunk_days,
            1..=MAX_CHUNK_DAYS,
            None,
        ));
        problems
    }

    fn tuning_options(&self) -> &'static [&'static str] {
        &["chunk_days"]
    }

    fn writes(&self) -> Option<&'static str> {
        Some("product_daily_stats")
    }

    fn build(&self, _: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Aggregate(Box::new(ProductDailyStats {
            config: self.clone(),
        })))
    }
}

crate::register_stage_type!("product_daily_stats", ProductDailyStatsConfig);

/// The runtime `product_daily_stats` stage.
pub struct ProductDailyStats {
    config: ProductDailyStatsConfig,
}

sql_file::statements! {
    /// This stage's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "product_daily_stats.sql" {
        delete_days,
        compute,
        rows_of_days,
    }
}

impl ProductDailyStats {
    /// Replaces the rows of the days of `range` (only `only` when given) and returns the rows
    /// written per day: every day of `only` present, days of a whole range only when they hold rows.
    async fn replace(
        &self,
        conn: &mut PgConnection,
        range: DayRange,
        only: Option<&[NaiveDate]>,
        run_id: i64,
    ) -> Result<BTreeMap<NaiveDate, i64>, sqlx::Error> {
        sqlx::query(SQL.delete_days)
            .bind(range.start)
            .bind(range.end)
            .bind(only)
            .execute(&mut *conn)
            .await?;
        let written: Vec<(NaiveDate, i64)> = sqlx::query_as(SQL.compute)
            .bind(range.start)
            .bind(range.end)
            .bind(&self.config.excluded_statuses)
            .bind(run_id)
            .bind(only)
            .fetch_all(&mut *conn)
            .await?;
        // The days of `only` are all present, so that a refresh sees a day left empty.
        let mut counts: BTreeMap<NaiveDate, i64> =
            only.unwrap_or_default().iter().map(|d| (*d, 0)).collect();
        count_days(&written, 1, &mut counts);
        Ok(counts)
    }
}

sql_file::statements! {
    /// The statements that read this stage's rows (`stats --stage`), hand-written.
    static READS: Reads = "reads/product_daily_stats.sql" { day_rows }
}

#[async_trait]
impl Aggregate for ProductDailyStats {
    async fn data_days(&self, conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error> {
        purchase_days(conn).await
    }

    fn chunk_days(&self) -> u32 {
        self.config.chunk_days
    }

    fn row_key(&self) -> &'static str {
        "product_id"
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
        let counts = self.replace(conn, days, None, run.run_id).await?;
        freshness::record_chunk(conn, run, freshness::POSTGRES, high_water, days, &counts).await
    }

    async fn stale(
        &self,
        conn: &mut PgConnection,
        stage_name: &str,
        fingerprint: &str,
    ) -> Result<Staleness, sqlx::Error> {
        Ok(Staleness {
            whole: freshness::whole_stale_days(conn, stage_name, fingerprint).await?,
            partial: freshness::changed_days(conn, stage_name).await?,
        })
    }

    async fn refresh(
        &self,
        conn: &mut PgConnection,
        run: &AggregateRun<'_>,
    ) -> Result<RefreshReport, sqlx::Error> {
        locks::shared_load_lock(conn).await?;
        let high_water = freshness::changes_high_water(conn).await?;
        let days = freshness::changed_days(conn, run.stage_name).await?;
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            freshness::record_refresh(
                conn,
                run.stage_name,
                run.run_id,
                freshness::POSTGRES,
                high_water,
                &[],
            )
            .await?;
            return Ok(RefreshReport::default());
        };
        locks::day_set_locks(conn, &days).await?;
        let before: BTreeMap<NaiveDate, i64> = sqlx::query_as(SQL.rows_of_days)
            .bind(run.stage_name)
            .bind(&days)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let after = self
            .replace(conn, DayRange::new(*first, *last), Some(&days), run.run_id)
            .await?;
        let rows = after.values().sum::<i64>() as u64;
        let delta: Vec<(NaiveDate, i64)> = after
            .iter()
            .map(|(day, n)| (*day, n - before.get(day).copied().unwrap_or_default()))
            .collect();
        freshness::record_refresh(
            conn,
            run.stage_name,
            run.run_id,
            freshness::POSTGRES,
            high_water,
            &delta,
        )
        .await?;
        Ok(RefreshReport {
            days,
            people: 0,
            rows,
        })
    }

    /// A row is a product's, never a customer's: with `customer`, the columns alone.
    async fn day_rows(
        &self,
        conn: &mut PgConnection,
        day: NaiveDate,
        customer: Option<&str>,
        limit: Option<u64>,
    ) -> Result<StoredRows, sqlx::Error> {
        let statement = conn.prepare(READS.day_rows.into_sql_str()).await?;
        let rows = if customer.is_some() {
            Vec::new()
        } else {
            statement
                .query()
                .bind(day)
                .bind(limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)))
                .fetch_all(&mut *conn)
                .await?
        };
        StoredRows::decode(statement.columns(), &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let config = ProductDailyStatsConfig {
            excluded_statuses: vec!["lost".into()],
            chunk_days: 0,
        };
        let problems: Vec<String> = config
            .check()
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("excluded_statuses: \"lost\" is not an order status"));
        assert_eq!(
            problems[1],
            "chunk_days: must be between 1 and 36500, got 0"
        );
        assert!(ProductDailyStatsConfig::default().check().is_empty());
    }
}

/// The read statement lists the table's columns but the run's.
#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn the_day_rows_statement_lists_the_table_s_columns_but_the_run_s() {
        let sql: String = READS
            .day_rows
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect();
        assert!(sql.starts_with("SELECT stat_date, product_id,"), "{sql}");
        assert!(!sql.contains("run_id") && !sql.contains("computed_at"));
        assert!(
            ProductDailyStats {
                config: ProductDailyStatsConfig::default()
            }
            .customer_reads()
            .is_none()
        );
    }
}
