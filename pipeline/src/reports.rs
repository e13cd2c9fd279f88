//! The read side: `stats` (a day's rows), `top-customers`, `repeaters` and `status`, all over the
//! stored tables, printed as a table, CSV or JSON.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use sqlx::Row;
use stages::entities::customer_daily_stats as cds;
use stages::freshness::consecutive_runs;
use stages::tables::purchase_days;
use stages::{DayRange, Role, Stage};

use crate::db::Db;
use crate::money::money;
use crate::output::{Format, Grid};
use crate::plan::{Plan, PlannedStage};

/// The days of `range`, or every day PostgreSQL's `date` can hold in common with chrono.
fn bounds(range: Option<DayRange>) -> (NaiveDate, NaiveDate) {
    range.map(|r| (r.start, r.end)).unwrap_or((
        NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"),
        NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"),
    ))
}

/// Money in JSON: a string with two decimals, so that no float rounding shows.
fn number(value: Decimal) -> Value {
    json!(money(value))
}

/// The name of the declared `customer_daily_stats` stage (for the commands that say how to compute).
fn stats_stage(plan: &Plan) -> String {
    plan.with_role(Role::Aggregate)
        .find(|s| s.type_name == "customer_daily_stats")
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "customer_daily_stats".to_owned())
}

/// Days of `start..=end` that `stage` never computed.
async fn missing_days(db: &Db, stage: &str, start: NaiveDate, end: NaiveDate) -> Result<i64> {
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM generate_series($2::date, $3::date, interval '1 day') d
          WHERE NOT EXISTS (SELECT 1 FROM aggregate_days a WHERE a.stage_name = $1 AND a.day = d::date)",
    )
    .bind(stage)
    .bind(start)
    .bind(end)
    .fetch_one(&db.pool)
    .await?;
    Ok(missing)
}

/// The state of an aggregate stage's days: what `status` shows and `status --check` judges.
#[derive(Clone, Debug)]
pub struct StageHealth {
    /// The first and last purchase day in the data.
    pub data_days: Option<DayRange>,
    /// Days computed (any day, also outside the data's range).
    pub computed: BTreeSet<NaiveDate>,
    /// Days of the data's range never computed.
    pub missing: Vec<NaiveDate>,
    /// Computed days that could differ from a fresh computation.
    pub stale: Vec<NaiveDate>,
    /// Days the stage's last run could not compute, not computed since.
    pub failed: Vec<NaiveDate>,
}

impl StageHealth {
    /// Whether every day of the data is computed and none is stale or failed.
    pub fn healthy(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.failed.is_empty()
    }

    /// Days that need computing: missing, stale or failed, ascending.
    pub fn due(&self) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self
            .missing
            .iter()
            .chain(&self.stale)
            .chain(&self.failed)
            .copied()
            .collect();
        days.sort_unstable();
        days.dedup();
        days
    }
}

/// Reads the state of aggregate `stage`'s days. Changes nothing.
pub async fn stage_health(db: &Db, plan: &Plan, stage: &PlannedStage) -> Result<StageHealth> {
    let Stage::Aggregate(aggregate) = stage.build(&plan.context())? else {
        bail!("stage \"{}\" is not an aggregate", stage.name);
    };
    let mut conn = db.pool.acquire().await?;
    let data_days = aggregate.data_days(&mut conn).await?;
    let computed: BTreeSet<NaiveDate> = stages::freshness::computed_days(&mut conn, &stage.name)
        .await?
        .into_iter()
        .collect();
    let stale = aggregate
        .stale(&mut conn, &stage.name, &stage.fingerprint)
        .await
        .context("cannot find the stale days")?
        .days();
    let mut missing = Vec::new();
    if let Some(days) = data_days {
        for day in days.start.iter_days().take(days.len() as usize) {
            if !computed.contains(&day) {
                missing.push(day);
            }
        }
    }
    let mut failed = Vec::new();
    if let Some((days, at)) = crate::ledger::failed_days(db, &stage.name).await? {
        let since: BTreeSet<NaiveDate> = sqlx::query_scalar(
            "SELECT day FROM aggregate_days WHERE stage_name = $1 AND computed_at > $2",
        )
        .bind(&stage.name)
        .bind(at)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        failed = days.into_iter().filter(|d| !since.contains(d)).collect();
    }
    Ok(StageHealth {
        data_days,
        computed,
        missing,
        stale,
        failed,
    })
}

/// `pipeline stats --date D`.
pub async fn stats(
    db: &Db,
    plan: &Plan,
    date: NaiveDate,
    customer: Option<&str>,
    limit: Option<u64>,
    format: Format,
) -> Result<()> {
    let stage = stats_stage(plan);
    if missing_days(db, &stage, date, date).await? > 0 {
        bail!(
            "{date} has not been computed yet; compute it with:\n  pipeline run --date {date} --stage {stage}"
        );
    }
    let summary = sqlx::query(
        "SELECT count(*), coalesce(sum(orders_count), 0)::bigint, coalesce(sum(total_spent), 0)
           FROM customer_daily_stats WHERE stat_date = $1",
    )
    .bind(date)
    .fetch_one(&db.pool)
    .await?;
    let (customers, orders, revenue): (i64, i64, Decimal) =
        (summary.get(0), summary.get(1), summary.get(2));
    let mut query = cds::Entity::find()
        .filter(cds::Column::StatDate.eq(date))
        .order_by_desc(cds::Column::TotalSpent)
        .order_by_asc(cds::Column::CustomerUniqueId);
    if let Some(customer) = customer {
        query = query.filter(cds::Column::CustomerUniqueId.eq(customer));
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let rows = query
        .all(&db.orm)
        .await
        .context("cannot read customer_daily_stats")?;
    match format {
        Format::Json => {
            let out: Vec<Value> = rows.iter().map(row_json).collect();
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Csv | Format::Table => {
            let grid = Grid {
                header: vec![
                    "stat_date",
                    "customer_unique_id",
                    "orders_count",
                    "canceled_orders_count",
                    "items_count",
                    "distinct_products",
                    "distinct_sellers",
                    "items_value",
                    "freight_value",
                    "total_spent",
                    "avg_order_value",
                    "first_order_at",
                    "last_order_at",
                    "lifetime_orders",
                    "lifetime_spent",
                    "first_order_date",
                    "days_since_previous_order",
                    "is_repeat_customer",
                ],
                rows: rows.iter().map(row_cells).collect(),
                numeric: vec![
                    false, false, true, true, true, true, true, true, true, true, true, false,
                    false, true, true, false, true, false,
                ],
            };
            if format == Format::Table {
                println!(
                    "{date}: {customers} customers, {orders} orders, revenue {}{}",
                    money(revenue),
                    if customer.is_some() || limit.is_some_and(|l| (l as i64) < customers) {
                        format!(" (showing {})", rows.len())
                    } else {
                        String::new()
                    }
                );
                if rows.is_empty() {
                    println!("no customer ordered on {date}");
                    return Ok(());
                }
            }
            grid.print(format).await?;
        }
    }
    Ok(())
}

fn row_cells(r: &cds::Model) -> Vec<String> {
    vec![
        r.stat_date.to_string(),
        r.customer_unique_id.clone(),
        r.orders_count.to_string(),
        r.canceled_orders_count.to_string(),
        r.items_count.to_string(),
        r.distinct_products.to_string(),
        r.distinct_sellers.to_string(),
        money(r.items_value),
        money(r.freight_value),
        money(r.total_spent),
        r.avg_order_value.map(money).unwrap_or_default(),
        r.first_order_at.to_string(),
        r.last_order_at.to_string(),
        r.lifetime_orders.to_string(),
        money(r.lifetime_spent),
        r.first_order_date.to_string(),
        r.days_since_previous_order
            .map(|d| d.to_string())
            .unwrap_or_default(),
        r.is_repeat_customer.to_string(),
    ]
}

fn row_json(r: &cds::Model) -> Value {
    json!({
        "stat_date": r.stat_date,
        "customer_unique_id": r.customer_unique_id,
        "orders_count": r.orders_count,
        "canceled_orders_count": r.canceled_orders_count,
        "items_count": r.items_count,
        "distinct_products": r.distinct_products,
        "distinct_sellers": r.distinct_sellers,
        "items_value": number(r.items_value),
        "freight_value": number(r.freight_value),
        "total_spent": number(r.total_spent),
        "avg_order_value": r.avg_order_value.map(number),
        "first_order_at": r.first_order_at.to_string(),
        "last_order_at": r.last_order_at.to_string(),
        "lifetime_orders": r.lifetime_orders,
        "lifetime_spent": number(r.lifetime_spent),
        "first_order_date": r.first_order_date,
        "days_since_previous_order": r.days_since_previous_order,
        "is_repeat_customer": r.is_repeat_customer,
    })
}

/// What top customers are ranked by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum RankBy {
    /// Total spent (items + freight of kept orders).
    #[default]
    Spent,
    /// Orders, any status.
    Orders,
    /// Items of kept orders.
    Items,
}

async fn warn_if_incomplete(db: &Db, plan: &Plan, range: Option<DayRange>) -> Result<()> {
    let stage = stats_stage(plan);
    let (start, end) = match range {
        Some(r) => (r.start, r.end),
        None => match purchase_days(&mut *db.pool.acquire().await?).await? {
            Some(days) => (days.start, days.end),
            None => return Ok(()),
        },
    };
    let missing = missing_days(db, &stage, start, end).await?;
    if missing > 0 {
        tracing::warn!(
            missing_days = missing,
            "{missing} day(s) of {start}..{end} are not computed; figures cover computed days only (pipeline run --range {start}..{end} --stage {stage})"
        );
    }
    Ok(())
}

/// `pipeline top-customers`.
pub async fn top_customers(
    db: &Db,
    plan: &Plan,
    range: Option<DayRange>,
    by: RankBy,
    limit: u64,
    format: Format,
) -> Result<()> {
    warn_if_incomplete(db, plan, range).await?;
    let (start, end) = bounds(range);
    let order = match by {
        RankBy::Spent => "total_spent DESC",
        RankBy::Orders => "orders DESC",
        RankBy::Items => "items DESC",
    };
    let sql = format!(
        "WITH per AS (
             SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
                    sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
               FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
         ranked AS (SELECT * FROM per ORDER BY {order}, customer_unique_id LIMIT $3)
         SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
                place.customer_city, place.customer_state
           FROM ranked r
           LEFT JOIN LATERAL (
                SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
                 WHERE c.customer_unique_id = r.customer_unique_id OR c.customer_id = r.customer_unique_id
                 ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
          ORDER BY {order}, r.customer_unique_id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(start)
        .bind(end)
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await
        .context("cannot rank customers")?;
    struct Top {
        id: String,
        orders: i64,
        items: i64,
        spent: Decimal,
        first: NaiveDate,
        last: NaiveDate,
        city: Option<String>,
        state: Option<String>,
    }
    let tops: Vec<Top> = rows
        .iter()
        .map(|r| Top {
            id: r.get(0),
            orders: r.get(1),
            items: r.get(2),
            spent: r.get(3),
            first: r.get(4),
            last: r.get(5),
            city: r.get(6),
            state: r.get(7),
        })
        .collect();
    match format {
        Format::Json => {
            let out: Vec<Value> = tops
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    json!({
                        "rank": i + 1,
                        "customer_unique_id": t.id,
                        "orders": t.orders,
                        "items": t.items,
                        "total_spent": number(t.spent),
                        "first_order_date": t.first,
                        "last_order_date": t.last,
                        "city": t.city,
                        "state": t.state,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        _ => {
            let grid = Grid {
                header: vec![
                    "rank",
                    "customer_unique_id",
                    "orders",
                    "items",
                    "total_spent",
                    "first_order_date",
                    "last_order_date",
                    "city",
                    "state",
                ],
                rows: tops
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        vec![
                            (i + 1).to_string(),
                            t.id.clone(),
                            t.orders.to_string(),
                            t.items.to_string(),
                            money(t.spent),
                            t.first.to_string(),
                            t.last.to_string(),
                            t.city.clone().unwrap_or_default(),
                            t.state.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
                numeric: vec![true, false, true, true, true, false, false, false, false],
            };
            if format == Format::Table {
                let what = match by {
                    RankBy::Spent => "total spent",
                    RankBy::Orders => "orders",
                    RankBy::Items => "items",
                };
                let span = range
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "the whole history".to_owned());
                println!("top {} customers by {what} over {span}", tops.len());
            }
            grid.print(format).await?;
        }
    }
    Ok(())
}

/// The repeat-customer figures of a range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Repeaters {
    /// Customers with at least one order in the range.
    pub customers: i64,
    /// Of them, those with two or more orders (any status).
    pub repeaters_by_orders: i64,
    /// Of them, those who ordered on two or more distinct days.
    pub repeaters_by_days: i64,
    /// repeaters_by_orders / customers (0 without customers).
    pub repeat_rate: f64,
    /// Order count ("2", "3", ...) → customers with that many orders.
    pub histogram: std::collections::BTreeMap<String, i64>,
}

/// Computes [`Repeaters`] from the stored daily rows.
pub async fn repeater_figures(db: &Db, range: Option<DayRange>) -> Result<Repeaters> {
    let (start, end) = bounds(range);
    let per = "SELECT customer_unique_id, sum(orders_count) AS orders, count(*) AS days
                 FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id";
    let totals = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), count(*) FILTER (WHERE orders >= 2), count(*) FILTER (WHERE days >= 2) FROM ({per}) per"
    )))
    .bind(start)
    .bind(end)
    .fetch_one(&db.pool)
    .await?;
    let histogram_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT orders::bigint, count(*) FROM ({per}) per WHERE orders >= 2 GROUP BY orders ORDER BY orders"
    )))
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let customers: i64 = totals.get(0);
    let repeaters_by_orders: i64 = totals.get(1);
    Ok(Repeaters {
        customers,
        repeaters_by_orders,
        repeaters_by_days: totals.get(2),
        repeat_rate: if customers == 0 {
            0.0
        } else {
            repeaters_by_orders as f64 / customers as f64
        },
        histogram: histogram_rows
            .iter()
            .map(|r| (r.get::<i64, _>(0).to_string(), r.get::<i64, _>(1)))
            .collect(),
    })
}

/// `pipeline repeaters`.
pub async fn repeaters(
    db: &Db,
    plan: &Plan,
    range: Option<DayRange>,
    format: Format,
) -> Result<()> {
    warn_if_incomplete(db, plan, range).await?;
    let figures = repeater_figures(db, range).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&figures)?),
        _ => {
            let mut rows = vec![
                vec!["customers".to_owned(), figures.customers.to_string()],
                vec![
                    "repeaters_by_orders".to_owned(),
                    figures.repeaters_by_orders.to_string(),
                ],
                vec![
                    "repeaters_by_days".to_owned(),
                    figures.repeaters_by_days.to_string(),
                ],
                vec![
                    "repeat_rate".to_owned(),
                    format!("{:.4}", figures.repeat_rate),
                ],
            ];
            for (orders, count) in &figures.histogram {
                rows.push(vec![
                    format!("customers with {orders} orders"),
                    count.to_string(),
                ]);
            }
            let grid = Grid {
                header: vec!["figure", "value"],
                rows,
                numeric: vec![false, true],
            };
            if format == Format::Table {
                let span = range
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "the whole history".to_owned());
                println!(
                    "repeat customers over {span} (a customer is a customer_unique_id: the person)"
                );
                println!(
                    "repeaters_by_orders: customers with 2 or more orders in the range, any status"
                );
                println!(
                    "repeaters_by_days: customers who ordered on 2 or more distinct days in the range"
                );
            }
            grid.print(format).await?;
        }
    }
    Ok(())
}

/// Days (ascending) as `A..B` ranges of consecutive days, for JSON.
pub fn ranges_json(days: &[NaiveDate]) -> Vec<String> {
    consecutive_runs(days)
        .iter()
        .map(ToString::to_string)
        .collect()
}

pub fn ranges_text(days: &[NaiveDate]) -> String {
    if days.is_empty() {
        return "none".to_owned();
    }
    let ranges = consecutive_runs(days);
    let shown: Vec<String> = ranges.iter().take(10).map(|r| r.to_string()).collect();
    if ranges.len() > 10 {
        format!("{} (+{} more ranges)", shown.join(", "), ranges.len() - 10)
    } else {
        shown.join(", ")
    }
}

/// `pipeline status`; returns whether every aggregate is up to date (see [`StageHealth::healthy`]).
pub async fn status(db: &Db, plan: &Plan, format: Format) -> Result<bool> {
    let last = crate::ledger::last_runs(db).await?;
    let mut stages_json = Vec::new();
    let mut grid_rows = Vec::new();
    for stage in &plan.stages {
        let run = last.iter().find(|r| r.stage_name == stage.name);
        let days = match (
            run.and_then(|r| r.run_date),
            run.and_then(|r| r.range_start.zip(r.range_end)),
        ) {
            (Some(d), _) => d.to_string(),
            (_, Some((a, b))) => format!("{a}..{b}"),
            _ => String::new(),
        };
        stages_json.push(json!({
            "stage": stage.name,
            "type": stage.type_name,
            "last_run": run.map(|r| json!({
                "run_id": r.id,
                "status": r.status,
                "started_at": r.started_at.to_rfc3339(),
                "finished_at": r.finished_at.map(|t| t.to_rfc3339()),
                "days": days,
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_duplicate": r.rows_duplicate,
                "rows_rejected": r.rows_rejected,
                "error": r.error,
            })),
        }));
        grid_rows.push(vec![
            stage.name.clone(),
            stage.type_name.clone(),
            run.map(|r| r.status.clone())
                .unwrap_or_else(|| "never run".to_owned()),
            run.map(|r| r.started_at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            days,
            run.map(|r| r.rows_loaded.to_string()).unwrap_or_default(),
            run.map(|r| r.rows_rejected.to_string()).unwrap_or_default(),
            run.and_then(|r| r.error.clone())
                .map(|e| e.lines().next().unwrap_or_default().to_owned())
                .unwrap_or_default(),
        ]);
    }
    let mut aggregates_json = Vec::new();
    let mut aggregate_lines = Vec::new();
    let mut healthy = true;
    for stage in plan.with_role(Role::Aggregate) {
        let health = stage_health(db, plan, stage).await?;
        healthy &= health.healthy();
        let (first, last_day) = (
            health.data_days.map(|d| d.start),
            health.data_days.map(|d| d.end),
        );
        let fix = (!health.healthy()).then(|| format!("pipeline run --stage {}", stage.name));
        aggregates_json.push(json!({
            "stage": stage.name,
            "first_day": first,
            "last_day": last_day,
            "days_computed": health.computed.len(),
            "days_missing": ranges_json(&health.missing),
            "days_stale": ranges_json(&health.stale),
            "days_failed": ranges_json(&health.failed),
            "up_to_date": health.healthy(),
            "fix": fix,
        }));
        aggregate_lines.push(format!(
            "{}: data {}..{}; {} days computed; missing: {}; stale: {}; failed: {}",
            stage.name,
            first.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            last_day
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            health.computed.len(),
            ranges_text(&health.missing),
            ranges_text(&health.stale),
            ranges_text(&health.failed),
        ));
        aggregate_lines.push(match fix {
            Some(fix) => format!("{}: not up to date; to fix: {fix}", stage.name),
            None => format!("{}: up to date", stage.name),
        });
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "up_to_date": healthy, "stages": stages_json, "aggregates": aggregates_json })
            )?
        ),
        _ => {
            let grid = Grid {
                header: vec![
                    "stage", "type", "last run", "started", "days", "rows", "rejected", "error",
                ],
                rows: grid_rows,
                numeric: vec![false, false, false, false, false, true, true, false],
            };
            grid.print(format).await?;
            if format == Format::Table {
                for line in aggregate_lines {
                    println!("{line}");
                }
            }
        }
    }
    Ok(healthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_collapse_into_ranges() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let ranges = consecutive_runs(&[
            d("2017-01-01"),
            d("2017-01-02"),
            d("2017-01-03"),
            d("2017-01-05"),
        ]);
        let text: Vec<String> = ranges.iter().map(|r| r.to_string()).collect();
        assert_eq!(text, ["2017-01-01..2017-01-03", "2017-01-05"]);
    }
}
