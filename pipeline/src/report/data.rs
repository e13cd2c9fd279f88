//! The data behind every chart of `pipeline report`: all the report's queries run here, each series
//! computed set-based from the stored tables over a range of days. The series of the customers'
//! rows read the declared customer aggregate with its own statements (`stages::CustomerRead`); the
//! pipeline's health is `pipeline/sql/report.sql`. Nothing here draws.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::PgConnection;
use stages::{CustomerRead, DayRange, Role};

use crate::db::Db;
use crate::money::Money;
use crate::plan::{CustomerAggregate, Plan};

stages::statements! {
    /// This module's statements, in `pipeline/sql/report.sql`.
    static SQL: Statements = "report.sql" {
        snapshot,
        recent_loads,
        rejected_by_reason,
        recent_runs,
    }
}

/// How many of the most recent loads the health section looks at.
pub const RECENT_LOADS: i64 = 10;
/// How many of the most recent runs the health section shows.
pub const RECENT_RUNS: i64 = 20;
/// The order-value histogram aims at about this many bins below its overflow bin.
const ORDER_VALUE_BINS: i64 = 40;

/// Everything the report shows, in the shape `pipeline report --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// The days covered.
    pub range: Range,
    /// One entry per day of the range that has rows.
    pub daily: Vec<Daily>,
    /// One entry per month in which customers of the range made their first order.
    pub cohorts: Vec<Cohort>,
    /// Number of orders in the range → customers with that many (keys in numeric order).
    #[serde(serialize_with = "numeric_keys")]
    pub repeat_histogram: BTreeMap<i64, i64>,
    /// Gaps between a customer's consecutive purchase days, binned.
    pub days_between_orders: Vec<Bin<i64>>,
    /// `avg_order_value` of the daily rows, binned.
    pub order_values: Vec<Bin<Money>>,
    /// The pipeline's own health.
    pub health: Health,
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub start: NaiveDate,
    /// Last day, included.
    pub end: NaiveDate,
}

impl From<DayRange> for Range {
    fn from(r: DayRange) -> Self {
        Self {
            start: r.start,
            end: r.end,
        }
    }
}

/// One day's figures.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Daily {
    /// The day.
    pub date: NaiveDate,
    /// Sum of `orders_count` (any status).
    pub orders: i64,
    /// Rows of the day: customers who ordered.
    pub customers: i64,
    /// Of them, those whose first purchase day it is.
    pub new_customers: i64,
    /// `customers - new_customers`.
    pub returning_customers: i64,
    /// Sum of `total_spent`.
    pub revenue: Money,
}

/// A monthly cohort: the customers whose first order falls in one month.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cohort {
    /// The month, `YYYY-MM`.
    pub cohort: String,
    /// Customers of the cohort.
    pub size: i64,
    /// `active[k]`: customers of the cohort with a row in month `cohort + k` (so `active[0] = size`),
    /// up to the last month of the range.
    pub active: Vec<i64>,
}

/// A histogram bin: the values `v` with `from <= v < to` (`to` is null for the last, open bin).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bin<T> {
    /// Lower bound, included.
    pub from: T,
    /// Upper bound, excluded; `None` for an open last bin.
    pub to: Option<T>,
    /// Values in the bin.
    pub count: i64,
}

/// The pipeline's health: recent loads and their rejected lines, the state of each day, recent runs.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// The most recent successful loads, oldest first.
    pub loads: Vec<Load>,
    /// Rejected lines of those loads by kind of reason, most frequent first.
    pub rejected_by_reason: Vec<Reason>,
    /// Every day of the range and whether its statistics are computed, missing or stale.
    pub days: Vec<DayEntry>,
    /// The most recent runs of any stage, oldest first.
    pub runs: Vec<RunEntry>,
}

/// One load run.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// Its ledger id.
    pub run_id: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Data lines read.
    pub lines_read: i64,
    /// Of them, rejected.
    pub lines_rejected: i64,
}

/// A kind of reason and how many lines were rejected for it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reason {
    /// `dataset: reason`, with quoted values shown as `"…"`, timestamps as `<timestamp>`, dates as
    /// `<date>` and other numbers as `N`.
    pub reason: String,
    /// Lines.
    pub count: i64,
}

/// One day's state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayEntry {
    /// The day.
    pub date: NaiveDate,
    /// Its state.
    pub state: DayState,
}

/// Whether a day's statistics can be trusted.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DayState {
    /// Computed, and nothing changed since.
    Computed,
    /// Never computed.
    Missing,
    /// Computed, but with other stage options or before a later load changed its orders.
    Stale,
}

/// One run of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct RunEntry {
    /// Its ledger id.
    pub run_id: i64,
    /// The stage's name.
    pub stage: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took (`None` while running).
    pub seconds: Option<f64>,
}

/// The header's figures (the page shows them; the JSON does not repeat them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Customers with a row in the range.
    pub customers: i64,
    /// Orders in the range, any status.
    pub orders: i64,
    /// Sum of `total_spent` in the range.
    pub revenue: Decimal,
    /// Customers with two or more orders in the range.
    pub repeaters_by_orders: i64,
    /// Customers who ordered on two or more distinct days in the range.
    pub repeaters_by_days: i64,
    /// The first and last purchase day of all loaded orders.
    pub data_days: Option<Range>,
    /// The keys the customer aggregate's rows hold (`aggregate_days.row_key`).
    pub row_keys: Vec<String>,
}

fn numeric_keys<S: Serializer>(map: &BTreeMap<i64, i64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

/// The whole history: the first to the last purchase day of the loaded orders, or of `customer`'s
/// stored rows when no orders are loaded. `None` when there is neither.
pub async fn whole_history(db: &Db, customer: &CustomerAggregate<'_>) -> Result<Option<DayRange>> {
    let mut conn = db.pool.acquire().await?;
    if let Some(days) = stages::core::days::purchase_days(&mut conn).await? {
        return Ok(Some(days));
    }
    let (start, end): (Option<NaiveDate>, Option<NaiveDate>) =
        sqlx::query_as(customer.statement(CustomerRead::StoredDays))
            .fetch_one(&mut *conn)
            .await?;
    Ok(start.zip(end).map(|(a, b)| DayRange::new(a, b)))
}

/// Reads every series of the report over `range` (those of the customers from `customer`'s rows),
/// all from one snapshot (a read-only repeatable read transaction), so that the charts agree with
/// each other even while a load runs.
pub async fn collect(
    db: &Db,
    plan: &Plan,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<(ReportData, Totals)> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(SQL.snapshot).execute(&mut *tx).await?;
    let conn: &mut PgConnection = &mut tx;
    let daily = daily(conn, customer, range)
        .await
        .context("cannot read the daily series")?;
    let cohorts = cohorts(conn, customer, range)
        .await
        .context("cannot read the cohorts")?;
    let (repeat_histogram, repeaters_by_days) = repeat_histogram(conn, customer, range)
        .await
        .context("cannot read the repeat-purchase histogram")?;
    let days_between_orders = days_between_orders(conn, customer, range)
        .await
        .context("cannot read the days between orders")?;
    let order_values = order_values(conn, customer, range)
        .await
        .context("cannot read the order values")?;
    let health = health(conn, plan, customer, range)
        .await
        .context("cannot read the pipeline's health")?;
    let data_days = stages::core::days::purchase_days(conn)
        .await?
        .map(Range::from);
    let row_keys = stages::core::freshness::row_keys(conn, &customer.stage.name).await?;
    tx.commit().await?;
    let totals = Totals {
        customers: repeat_histogram.values().sum(),
        orders: daily.iter().map(|d| d.orders).sum(),
        revenue: daily.iter().map(|d| d.revenue.0).sum(),
        repeaters_by_orders: repeat_histogram
            .iter()
            .filter(|(orders, _)| **orders >= 2)
            .map(|(_, n)| n)
            .sum(),
        repeaters_by_days,
        data_days,
        row_keys,
    };
    Ok((
        ReportData {
            range: range.into(),
            daily,
            cohorts,
            repeat_histogram,
            days_between_orders,
            order_values,
            health,
        },
        totals,
    ))
}

async fn daily(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Vec<Daily>> {
    let rows: Vec<(NaiveDate, i64, i64, i64, Decimal)> =
        sqlx::query_as(customer.statement(CustomerRead::Daily))
            .bind(range.start)
            .bind(range.end)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(date, orders, customers, new_customers, revenue)| Daily {
            date,
            orders,
            customers,
            new_customers,
            returning_customers: customers - new_customers,
            revenue: Money(revenue),
        })
        .collect())
}

/// Months since year 0, so that month arithmetic is subtraction.
fn month_index(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 12 + i64::from(day.month0())
}

async fn cohorts(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Vec<Cohort>> {
    let rows: Vec<(NaiveDate, NaiveDate, i64, i64)> =
        sqlx::query_as(customer.statement(CustomerRead::Cohorts))
            .bind(range.start)
            .bind(range.end)
            .fetch_all(&mut *conn)
            .await?;
    let last = month_index(range.end);
    let mut out: Vec<Cohort> = Vec::new();
    for (cohort, month, first_days, active) in rows {
        let label = cohort.format("%Y-%m").to_string();
        if out.last().is_none_or(|c| c.cohort != label) {
            let first = month_index(cohort);
            out.push(Cohort {
                cohort: label,
                size: 0,
                active: vec![0; (last - first + 1).max(1) as usize],
            });
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        current.size += first_days;
        let k = (month_index(month) - month_index(cohort)) as usize;
        if let Some(slot) = current.active.get_mut(k) {
            *slot = active;
        }
    }
    Ok(out)
}

/// The histogram of orders per customer over the range, and the customers who ordered on two or
/// more distinct days (both from one pass over the customers).
async fn repeat_histogram(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<(BTreeMap<i64, i64>, i64)> {
    let rows: Vec<(i64, i64, i64)> =
        sqlx::query_as(customer.statement(CustomerRead::RepeatHistogram))
            .bind(range.start)
            .bind(range.end)
            .fetch_all(&mut *conn)
            .await?;
    let by_days = rows.iter().map(|r| r.2).sum();
    Ok((rows.into_iter().map(|(o, n, _)| (o, n)).collect(), by_days))
}

/// The fixed bins of the days between two consecutive purchase days: `[from, to)`, the last open.
pub const GAP_BINS: [(i64, Option<i64>); 10] = [
    (1, Some(2)),
    (2, Some(4)),
    (4, Some(8)),
    (8, Some(15)),
    (15, Some(31)),
    (31, Some(61)),
    (61, Some(91)),
    (91, Some(181)),
    (181, Some(366)),
    (366, None),
];

async fn days_between_orders(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Vec<Bin<i64>>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(customer.statement(CustomerRead::DaysBetweenOrders))
        .bind(range.start)
        .bind(range.end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(GAP_BINS
        .iter()
        .map(|&(from, to)| Bin {
            from,
            to,
            count: rows
                .iter()
                .filter(|(days, _)| *days >= from && to.is_none_or(|t| *days < t))
                .map(|(_, n)| n)
                .sum(),
        })
        .collect())
}

/// The smallest of 1, 2, 5 × 10^k (in cents, from one cent) that is at least `cents`.
pub fn nice_width(cents: i64) -> i64 {
    let mut unit = 1i64;
    loop {
        for step in [1, 2, 5] {
            if step * unit >= cents {
                return step * unit;
            }
        }
        unit *= 10;
    }
}

async fn order_values(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Vec<Bin<Money>>> {
    let counts: Vec<(i64, i64)> = sqlx::query_as(customer.statement(CustomerRead::OrderValues))
        .bind(range.start)
        .bind(range.end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(value_bins(&counts))
}

/// Bins `(cents, count)` pairs sorted by cents: equal bins from 0 up past the 99th percentile (as
/// `PostgreSQL`'s `percentile_disc(0.99)`), then one open bin for the long tail, so that a few very
/// large orders do not squash the rest into one bar.
pub fn value_bins(counts: &[(i64, i64)]) -> Vec<Bin<Money>> {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    let Some(p99) = counts.iter().find_map(|&(cents, n)| {
        running += n;
        (running * 100 >= total * 99).then_some(cents)
    }) else {
        return Vec::new();
    };
    let width = nice_width((p99 / ORDER_VALUE_BINS).max(1));
    let regular = p99 / width + 1;
    let mut bins: Vec<i64> = vec![0; regular as usize + 1];
    for &(cents, n) in counts {
        bins[(cents.max(0) / width).min(regular) as usize] += n;
    }
    let amount = |c: i64| Money(Decimal::new(c, 2));
    let tail = bins.pop().unwrap_or_default();
    let mut out: Vec<Bin<Money>> = bins
        .into_iter()
        .enumerate()
        .map(|(b, count)| Bin {
            from: amount(b as i64 * width),
            to: Some(amount((b as i64 + 1) * width)),
            count,
        })
        .collect();
    if tail > 0 {
        out.push(Bin {
            from: amount(regular * width),
            to: None,
            count: tail,
        });
    }
    out
}

/// The state of every day of `range`: computed, missing or stale.
///
/// The report decides a day's state as `pipeline status` does (see `stages::core::freshness`): a day is
/// computed when the customer aggregate recorded it in `aggregate_days`, stale when its stored rows
/// could differ from a fresh computation (other options, or a later change of its orders or of its
/// people's earlier orders), and missing otherwise.
pub async fn day_states(
    conn: &mut PgConnection,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Vec<(NaiveDate, DayState)>> {
    let days = range.start.iter_days().take(range.len() as usize);
    let stage = customer.stage;
    let computed: BTreeSet<NaiveDate> = stages::core::freshness::computed_days(conn, &stage.name)
        .await?
        .into_iter()
        .collect();
    let stale: BTreeSet<NaiveDate> = customer
        .aggregate
        .stale(conn, &stage.name, &stage.fingerprint)
        .await?
        .days()
        .into_iter()
        .collect();
    Ok(days
        .map(|day| {
            let state = if stale.contains(&day) {
                DayState::Stale
            } else if computed.contains(&day) {
                DayState::Computed
            } else {
                DayState::Missing
            };
            (day, state)
        })
        .collect())
}

async fn health(
    conn: &mut PgConnection,
    plan: &Plan,
    customer: &CustomerAggregate<'_>,
    range: DayRange,
) -> Result<Health> {
    let load_types: Vec<String> = plan
        .with_role(Role::Load)
        .map(|s| s.type_name.clone())
        .collect();
    let mut loads: Vec<Load> =
        sqlx::query_as::<_, (i64, DateTime<Utc>, i64, i64)>(SQL.recent_loads)
            .bind(&load_types)
            .bind(RECENT_LOADS)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(run_id, started_at, lines_read, lines_rejected)| Load {
                run_id,
                started_at,
                lines_read,
                lines_rejected,
            })
            .collect();
    loads.reverse();
    let load_ids: Vec<i64> = loads.iter().map(|l| l.run_id).collect();
    let rejected_by_reason = sqlx::query_as::<_, (String, i64)>(SQL.rejected_by_reason)
        .bind(&load_ids)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(reason, count)| Reason { reason, count })
        .collect();
    let days = day_states(conn, customer, range)
        .await?
        .into_iter()
        .map(|(date, state)| DayEntry { date, state })
        .collect();
    let mut runs: Vec<RunEntry> =
        sqlx::query_as::<_, (i64, String, String, DateTime<Utc>, Option<f64>)>(SQL.recent_runs)
            .bind(RECENT_RUNS)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(run_id, stage, status, started_at, seconds)| RunEntry {
                run_id,
                stage,
                status,
                started_at,
                seconds,
            })
            .collect();
    runs.reverse();
    Ok(Health {
        loads,
        rejected_by_reason,
        days,
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_one_two_or_five_times_a_power_of_ten() {
        let widths: Vec<i64> = [1, 2, 3, 6, 11, 99, 101, 250, 501]
            .iter()
            .map(|&c| nice_width(c))
            .collect();
        assert_eq!(widths, [1, 2, 5, 10, 20, 100, 200, 500, 1000]);
    }

    #[test]
    fn value_bins_stop_past_the_99th_percentile() {
        // 100 values: 1.00 .. 99.00 and one of 5000.00. The 99th percentile is 99.00, so the bins
        // are 5.00 wide (9900 / 40 = 247 cents, rounded up to 500) up to 100.00, then one open bin.
        let mut counts: Vec<(i64, i64)> = (1..=99).map(|v| (v * 100, 1)).collect();
        counts.push((500_000, 1));
        let bins = value_bins(&counts);
        assert_eq!(bins.len(), 21);
        assert_eq!(
            serde_json::to_value(&bins[0]).unwrap(),
            serde_json::json!({"from": "0.00", "to": "5.00", "count": 4})
        );
        assert_eq!(
            serde_json::to_value(&bins[19]).unwrap(),
            serde_json::json!({"from": "95.00", "to": "100.00", "count": 5})
        );
        assert_eq!(
            serde_json::to_value(&bins[20]).unwrap(),
            serde_json::json!({"from": "100.00", "to": null, "count": 1})
        );
        assert_eq!(bins.iter().map(|b| b.count).sum::<i64>(), 100);
        assert!(value_bins(&[]).is_empty());
    }

    #[test]
    fn gap_bins_cover_every_gap_once() {
        for days in 1..2000 {
            let hits = GAP_BINS
                .iter()
                .filter(|(from, to)| days >= *from && to.is_none_or(|t| days < t))
                .count();
            assert_eq!(hits, 1, "{days} days");
        }
    }

    #[test]
    fn the_histogram_keys_are_in_numeric_order() {
        #[derive(Serialize)]
        struct H(#[serde(serialize_with = "numeric_keys")] BTreeMap<i64, i64>);
        let h = H([(1, 5), (2, 3), (10, 1)].into_iter().collect());
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"1":5,"2":3,"10":1}"#
        );
    }
}
