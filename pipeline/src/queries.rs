//! The queries of the read commands: `stats` (a day's rows), `rejects`, `top-customers`,
//! `repeaters` and `status`, all over the stored tables. Each returns its figures; `output` prints
//! them as a table, CSV or JSON. The statements over an aggregate's rows are the stage's own: its
//! `Aggregate::day_rows`, and the customer aggregate's `CustomerRead`s.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sqlx::Row;
use stages::core::days::purchase_days;
use stages::entities::pipeline_run::{self, RunKind, RunStatus};
use stages::{CustomerRead, DayRange, Role, StoredRows};

use crate::db::Db;
use crate::plan::{BuiltAggregate, CustomerAggregate, Plan, PlannedStage};

stages::statements! {
    /// This module's statements, in `pipeline/sql/queries.sql`.
    static SQL: Statements = "queries.sql" {
        missing_days,
        computed_since,
        computed_rows,
        current_load_runs,
        latest_load_run,
        rejected_count,
        rejected_lines,
    }
}

/// The days of `range`, or every day `PostgreSQL`'s `date` can hold in common with chrono.
fn bounds(range: Option<DayRange>) -> (NaiveDate, NaiveDate) {
    range.map_or(
        (
            NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"),
            NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"),
        ),
        |r| (r.start, r.end),
    )
}

/// Days of `start..=end` that `stage` never computed.
async fn missing_days(db: &Db, stage: &str, start: NaiveDate, end: NaiveDate) -> Result<i64> {
    let missing: i64 = sqlx::query_scalar(SQL.missing_days)
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
    /// Days computed (any day, also outside the data's range: see [`StageHealth::computed_in_data`]).
    pub computed: BTreeSet<NaiveDate>,
    /// Days of the data's range never computed.
    pub missing: Vec<NaiveDate>,
    /// Computed days that could differ from a fresh computation.
    pub stale: Vec<NaiveDate>,
    /// Days the stage's last run could not compute, not computed since.
    pub failed: Vec<NaiveDate>,
    /// The keys its computed days' rows hold (`aggregate_days.row_key`), e.g. `customer_id` under
    /// `customer_key = "customer_id"`.
    pub row_keys: Vec<String>,
    /// What computed its days (`aggregate_days.engine`), with how many days each.
    pub engines: Vec<(String, i64)>,
}

impl StageHealth {
    /// Whether every day of the data is computed and none is stale or failed.
    pub fn healthy(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.failed.is_empty()
    }

    /// Computed days within the data's range (the history `status` counts), and computed days
    /// outside it (days without orders computed by earlier versions, or before the data shrank).
    pub fn computed_in_data(&self) -> (usize, usize) {
        let inside = self
            .data_days
            .map_or(0, |d| self.computed.range(d.start..=d.end).count());
        (inside, self.computed.len() - inside)
    }
}

/// Reads the state of aggregate `stage`'s days. Changes nothing.
pub async fn stage_health(db: &Db, plan: &Plan, stage: &PlannedStage) -> Result<StageHealth> {
    let aggregate = stage.build_aggregate(&plan.context())?;
    let mut conn = db.pool.acquire().await?;
    let data_days = aggregate.data_days(&mut conn).await?;
    let computed: BTreeSet<NaiveDate> =
        stages::core::freshness::computed_days(&mut conn, &stage.name)
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
        let since: BTreeSet<NaiveDate> = sqlx::query_scalar(SQL.computed_since)
            .bind(&stage.name)
            .bind(at)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        failed = days.into_iter().filter(|d| !since.contains(d)).collect();
    }
    let row_keys = stages::core::freshness::row_keys(&mut conn, &stage.name).await?;
    let engines = stages::core::freshness::engines(&mut conn, &stage.name).await?;
    Ok(StageHealth {
        data_days,
        computed,
        missing,
        stale,
        failed,
        row_keys,
        engines,
    })
}

/// What the line above a day's rows says.
#[derive(Debug)]
pub enum DaySummary {
    /// The customer aggregate's day: its customers, orders and revenue.
    Customers {
        /// Customers with a row on the day.
        customers: i64,
        /// Orders of the day.
        orders: i64,
        /// Total spent on the day.
        revenue: Decimal,
    },
    /// Another aggregate's day: the rows the stage recorded for it.
    Rows(i64),
}

impl DaySummary {
    /// The day's rows.
    fn rows(&self) -> i64 {
        match self {
            DaySummary::Customers { customers, .. } => *customers,
            DaySummary::Rows(rows) => *rows,
        }
    }
}

/// A day's stored rows of an aggregate and the day's summary: what `pipeline stats` shows.
#[derive(Debug)]
pub struct DayStats {
    /// The day.
    pub date: NaiveDate,
    /// The aggregate stage's name.
    pub stage: String,
    /// The day's figures.
    pub summary: DaySummary,
    /// The rows asked for, in the stage's order (largest first).
    pub rows: StoredRows,
    /// Whether the rows are only some of the day's (`--customer`, or a `--limit` below the count).
    pub partial: bool,
    /// The customer asked for, if any.
    pub customer: Option<String>,
}

/// `pipeline stats --date D [--stage NAME]`: the day's rows of `aggregate` (only `customer`'s, for
/// the customer aggregate), at most `limit`.
pub async fn stats(
    db: &Db,
    aggregate: &BuiltAggregate<'_>,
    date: NaiveDate,
    customer: Option<&str>,
    limit: Option<u64>,
) -> Result<DayStats> {
    let stage = &aggregate.stage.name;
    if missing_days(db, stage, date, date).await? > 0 {
        bail!(
            "{date} has not been computed yet; compute it with:\n  pipeline run --date {date} --stage {stage}"
        );
    }
    let summary = match aggregate.aggregate.customer_reads() {
        Some(reads) => {
            let totals = sqlx::query(reads.statement(CustomerRead::DayTotals))
                .bind(date)
                .fetch_one(&db.pool)
                .await?;
            DaySummary::Customers {
                customers: totals.get(0),
                orders: totals.get(1),
                revenue: totals.get(2),
            }
        }
        None => DaySummary::Rows(
            sqlx::query_scalar::<_, i64>(SQL.computed_rows)
                .bind(stage)
                .bind(date)
                .fetch_optional(&db.pool)
                .await?
                .unwrap_or_default(),
        ),
    };
    let mut conn = db.pool.acquire().await?;
    let rows = aggregate
        .aggregate
        .day_rows(&mut conn, date, customer, limit)
        .await
        .with_context(|| format!("cannot read the rows of {stage}"))?;
    Ok(DayStats {
        date,
        stage: stage.clone(),
        partial: customer.is_some() || limit.is_some_and(|l| (l as i64) < summary.rows()),
        summary,
        rows,
        customer: customer.map(str::to_owned),
    })
}

/// One rejected line, with the rule it broke (its reason with the values masked).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedLine {
    /// The load run that rejected it.
    pub run_id: i64,
    /// The dataset.
    pub dataset: String,
    /// The file.
    pub file: String,
    /// Its line number in the file.
    pub line_number: i64,
    /// Why it was rejected.
    pub reason: String,
    /// The rule: the reason with values and numbers masked, so that lines rejected for the same
    /// rule group together.
    pub rule: String,
    /// The line as read.
    pub raw_line: String,
}

/// What `pipeline rejects` shows.
#[derive(Debug)]
pub struct Rejects {
    /// The load runs whose rejected lines these are.
    pub runs: Vec<i64>,
    /// Whether the runs are those that read the files the tables hold now (no `--run`).
    pub current: bool,
    /// Every rejected line of those runs (up to the limit), grouped by rule (largest group first),
    /// then by file and line.
    pub lines: Vec<RejectedLine>,
    /// How many lines were rejected in all (beyond the limit too).
    pub total: i64,
}

/// The rejected lines of load run `run`, or, by default, of the loads that read the files the
/// tables hold now (`loaded_files`), or else of the latest successful load.
pub async fn rejects(
    db: &Db,
    plan: &Plan,
    run: Option<i64>,
    limit: Option<u64>,
) -> Result<Rejects> {
    let (runs, current) = if let Some(run) = run {
        (vec![run], false)
    } else {
        let mut runs: Vec<i64> = sqlx::query_scalar(SQL.current_load_runs)
            .fetch_all(&db.pool)
            .await?;
        if runs.is_empty() {
            let loads: Vec<String> = plan.with_role(Role::Load).map(|s| s.name.clone()).collect();
            runs.extend(
                sqlx::query_scalar::<_, Option<i64>>(SQL.latest_load_run)
                    .bind(&loads)
                    .fetch_one(&db.pool)
                    .await?,
            );
        }
        (runs, true)
    };
    let total: i64 = sqlx::query_scalar(SQL.rejected_count)
        .bind(&runs)
        .fetch_one(&db.pool)
        .await?;
    let rows =
        sqlx::query_as::<_, (i64, String, String, i64, String, String, String)>(SQL.rejected_lines)
            .bind(&runs)
            .bind(limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64))
            .fetch_all(&db.pool)
            .await?;
    Ok(Rejects {
        runs,
        current,
        lines: rows
            .into_iter()
            .map(
                |(run_id, dataset, file, line_number, reason, rule, raw_line)| RejectedLine {
                    run_id,
                    dataset,
                    file,
                    line_number,
                    reason,
                    rule,
                    raw_line,
                },
            )
            .collect(),
        total,
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

/// Warns when days of `range` (the data's days when `None`) were never computed by `stage`.
async fn warn_if_incomplete(db: &Db, stage: &str, range: Option<DayRange>) -> Result<()> {
    let (start, end) = match range {
        Some(r) => (r.start, r.end),
        None => match purchase_days(&mut *db.pool.acquire().await?).await? {
            Some(days) => (days.start, days.end),
            None => return Ok(()),
        },
    };
    let missing = missing_days(db, stage, start, end).await?;
    if missing > 0 {
        tracing::warn!(
            missing_days = missing,
            "{missing} day(s) of {start}..{end} are not computed; figures cover computed days only (pipeline run --range {start}..{end} --stage {stage})"
        );
    }
    Ok(())
}

/// A customer ranked by `pipeline top-customers`, with the place of their last order.
#[derive(Debug)]
pub struct TopCustomer {
    /// The customer (`customer_unique_id`, or `customer_id` under that key).
    pub customer_unique_id: String,
    /// Orders over the range.
    pub orders: i64,
    /// Items over the range.
    pub items: i64,
    /// Total spent over the range.
    pub total_spent: Decimal,
    /// The first day with an order in the range.
    pub first_order_date: NaiveDate,
    /// The last day with an order in the range.
    pub last_order_date: NaiveDate,
    /// The city of the last order.
    pub city: Option<String>,
    /// The state of the last order.
    pub state: Option<String>,
}

/// `pipeline top-customers`: the first `limit` customers of `customer`'s rows by `by`, best first.
/// A customer's place is that of their latest order, looked up by the key the rows are keyed by and
/// by it alone (the stage picks the statement of its key): a person's id may equal another row's
/// `customer_id`.
pub async fn top_customers(
    db: &Db,
    customer: &CustomerAggregate<'_>,
    range: Option<DayRange>,
    by: RankBy,
    limit: u64,
) -> Result<Vec<TopCustomer>> {
    warn_if_incomplete(db, &customer.stage.name, range).await?;
    let (start, end) = bounds(range);
    let read = match by {
        RankBy::Spent => CustomerRead::TopBySpent,
        RankBy::Orders => CustomerRead::TopByOrders,
        RankBy::Items => CustomerRead::TopByItems,
    };
    let rows = sqlx::query(customer.statement(read))
        .bind(start)
        .bind(end)
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await
        .context("cannot rank customers")?;
    Ok(rows
        .iter()
        .map(|r| TopCustomer {
            customer_unique_id: r.get(0),
            orders: r.get(1),
            items: r.get(2),
            total_spent: r.get(3),
            first_order_date: r.get(4),
            last_order_date: r.get(5),
            city: r.get(6),
            state: r.get(7),
        })
        .collect())
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
    /// `repeaters_by_orders` / customers (0 without customers).
    pub repeat_rate: f64,
    /// Order count ("2", "3", ...) → customers with that many orders.
    pub histogram: std::collections::BTreeMap<String, i64>,
}

/// Computes [`Repeaters`] from `customer`'s stored daily rows.
pub async fn repeater_figures(
    db: &Db,
    customer: &CustomerAggregate<'_>,
    range: Option<DayRange>,
) -> Result<Repeaters> {
    let (start, end) = bounds(range);
    let totals = sqlx::query(customer.statement(CustomerRead::RepeaterTotals))
        .bind(start)
        .bind(end)
        .fetch_one(&db.pool)
        .await?;
    let histogram_rows = sqlx::query(customer.statement(CustomerRead::RepeaterHistogram))
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

/// `pipeline repeaters`, over `customer`'s rows.
pub async fn repeaters(
    db: &Db,
    customer: &CustomerAggregate<'_>,
    range: Option<DayRange>,
) -> Result<Repeaters> {
    warn_if_incomplete(db, &customer.stage.name, range).await?;
    repeater_figures(db, customer, range).await
}

/// What `pipeline status` shows: each stage's last run, the state of each aggregate's days, and a
/// load whose last run failed.
#[derive(Debug)]
pub struct Status {
    /// Every declared stage, in order.
    pub stages: Vec<StageStatus>,
    /// Every aggregate stage, in order.
    pub aggregates: Vec<AggregateStatus>,
    /// The load stage's last finished run, when it failed.
    pub failed_load: Option<FailedLoad>,
    /// The latest erasure (`pipeline erase`), if any.
    pub erasures: Option<crate::erasure::ErasureSummary>,
}

/// A load whose last finished run failed, no load having succeeded since: the newest export is not
/// in the tables, however fresh the computed days are.
#[derive(Debug)]
pub struct FailedLoad {
    /// The load stage's name.
    pub stage: String,
    /// Its failed run.
    pub run: pipeline_run::Model,
}

impl FailedLoad {
    /// One line saying what failed and what to do.
    pub fn reason(&self) -> String {
        let error = self.run.error.as_deref().unwrap_or("no error was recorded");
        format!(
            "the last load (run {}, {}) failed: {}; the newest export is not loaded",
            self.run.id,
            self.run.started_at.format("%Y-%m-%d %H:%M:%S"),
            error.lines().next().unwrap_or_default()
        )
    }

    /// What fixes it.
    pub fn fix() -> &'static str {
        "fix what the error names (the files, the data directory) and run `pipeline run`"
    }
}

/// A declared stage and its last run.
#[derive(Debug)]
pub struct StageStatus {
    /// Its name.
    pub name: String,
    /// Its `type` tag.
    pub type_name: String,
    /// Its last run in the ledger, if any.
    pub last_run: Option<pipeline_run::Model>,
}

/// An aggregate stage and the state of its days.
#[derive(Debug)]
pub struct AggregateStatus {
    /// Its name.
    pub stage: String,
    /// The state of its days.
    pub health: StageHealth,
}

impl Status {
    /// Whether the last load succeeded and every aggregate is up to date (see
    /// [`StageHealth::healthy`]).
    pub fn healthy(&self) -> bool {
        self.failed_load.is_none() && self.aggregates.iter().all(|a| a.health.healthy())
    }
}

/// The last finished run of load stage `stage`, when it failed. A running load is not judged yet:
/// the failure before it stands until a load succeeds.
async fn failed_load(db: &Db, stage: &str) -> Result<Option<FailedLoad>> {
    let last = pipeline_run::Entity::find()
        .filter(pipeline_run::Column::Kind.eq(RunKind::Stage))
        .filter(pipeline_run::Column::StageName.eq(stage))
        .filter(pipeline_run::Column::Status.ne(RunStatus::Running))
        .order_by_desc(pipeline_run::Column::Id)
        .one(&db.orm)
        .await
        .context("cannot read the last load from pipeline_runs")?;
    Ok(last
        .filter(|run| run.status == RunStatus::Failed)
        .map(|run| FailedLoad {
            stage: stage.to_owned(),
            run,
        }))
}

/// `pipeline status`.
pub async fn status(db: &Db, plan: &Plan) -> Result<Status> {
    let last = crate::ledger::last_runs(db).await?;
    let own = |name: &str| last.iter().find(|r| r.stage_name == name).cloned();
    // Extract and validate run inside the ingest, whose ledger row is the load's (or, in a dry run,
    // the validate stage's): their last run is the ingest's latest.
    let ingest = plan
        .stages
        .iter()
        .filter(|s| matches!(s.role, Role::Validate | Role::Load))
        .filter_map(|s| own(&s.name))
        .max_by_key(|r| r.id);
    let stages = plan
        .stages
        .iter()
        .map(|stage| StageStatus {
            name: stage.name.clone(),
            type_name: stage.type_name.clone(),
            last_run: match stage.role {
                Role::Extract | Role::Validate => ingest.clone(),
                _ => own(&stage.name),
            },
        })
        .collect();
    let mut aggregates = Vec::new();
    for stage in plan.with_role(Role::Aggregate) {
        aggregates.push(AggregateStatus {
            stage: stage.name.clone(),
            health: stage_health(db, plan, stage).await?,
        });
    }
    let failed_load = match plan.with_role(Role::Load).next() {
        Some(load) => failed_load(db, &load.name).await?,
        None => None,
    };
    Ok(Status {
        stages,
        aggregates,
        failed_load,
        erasures: crate::erasure::last(db).await?,
    })
}
