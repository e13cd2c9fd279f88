//! Output formats: aligned tables for people, CSV and JSON for machines (no decoration); and the
//! printing of what each command found or did.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use rust_decimal::Decimal;
use sea_orm::ActiveEnum;
use serde_json::{Value, json};
use stages::entities::pipeline_run;
use stages::{DayRange, StageConfig};

use crate::day_ranges::{ranges_json, ranges_text};
use crate::erasure::{EraseReport, EraseStatus, ErasureSummary};
use crate::money::money;
use crate::plan::Plan;
use crate::preflight::Checks;
use crate::queries::{
    AggregateStatus, DayStats, DaySummary, FailedLoad, RankBy, Rejects, Repeaters, StageHealth,
    StageStatus, Status, TopCustomer,
};
use crate::report::Written;
use crate::runner::{AggregateReport, RunReport};

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// An aligned table with a summary line.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON.
    Json,
}

/// How a command that reports what it did prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum RecordFormat {
    /// Tables and sentences for people.
    #[default]
    Table,
    /// One JSON object on stdout.
    Json,
}

/// A table of text cells; numbers are right-aligned in table output.
pub struct Grid<'a> {
    /// Column names.
    pub header: Vec<&'a str>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// Which columns hold numbers.
    pub numeric: Vec<bool>,
}

impl Grid<'_> {
    /// Renders an aligned table. Control characters from the data (an escape sequence in a city
    /// name) are written as escapes such as `\x1b`, so they cannot drive the terminal; CSV and JSON
    /// keep every value as it is.
    pub fn to_table(&self) -> String {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(self.header.iter().map(Cell::new));
        for row in &self.rows {
            table.add_row(row.iter().enumerate().map(|(i, value)| {
                let cell = Cell::new(stages::core::text::visible(value));
                if self.numeric.get(i).copied().unwrap_or(false) {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }));
        }
        table.to_string()
    }

    /// Writes CSV to `out`.
    pub async fn write_csv<W: tokio::io::AsyncWrite + Unpin + Send>(&self, out: W) -> Result<()> {
        let mut writer = csv_async::AsyncWriter::from_writer(out);
        writer.write_record(&self.header).await?;
        for row in &self.rows {
            writer.write_record(row).await?;
        }
        writer.flush().await?;
        Ok(())
    }

    /// Prints the grid to stdout in `format` (JSON is printed by the caller, which knows the shape).
    pub async fn print(&self, format: Format) -> Result<()> {
        if format == Format::Csv {
            self.write_csv(tokio::io::stdout()).await
        } else {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", self.to_table())?;
            Ok(())
        }
    }
}

/// `pipeline stages`: one registered stage type a line, with its role and what it does.
pub fn stage_types(types: &[(String, Box<dyn StageConfig>)]) {
    for (name, config) in types {
        println!(
            "{name:<22} {:<10} {}",
            config.role().to_string(),
            config.about()
        );
    }
}

/// `pipeline validate`: what was found right, then, when nothing is wrong, that the configuration
/// is valid (the problems are the command's error).
pub fn checks(checks: &Checks, plan: &Plan) {
    if let Some(target) = &checks.database {
        println!("database: {target} reachable");
    }
    for (dataset, path) in &checks.files {
        println!("{dataset}: {} readable, header right", path.display());
    }
    if checks.valid() {
        println!(
            "{}: valid ({} stages)",
            plan.config_path.display(),
            plan.stages.len()
        );
    }
}

/// `pipeline report`: the JSON (when no file was named), or the file written and its size.
pub fn report(written: &Written) {
    match written {
        Written::Json(text) => println!("{text}"),
        Written::JsonFile => {}
        Written::Page { path, range, bytes } => println!(
            "wrote {}: {range}, {} KB",
            path.display(),
            bytes.div_ceil(1024)
        ),
    }
}

/// An empty line between two parts of a command's output (`pipeline demo`).
pub fn gap() {
    println!();
}

/// `pipeline rejects`: the rejected lines grouped by rule, each with its file, line number and raw
/// text (table); or one row per line (CSV, JSON).
pub async fn rejects(rejects: &Rejects, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rejects.lines)?),
        Format::Csv => {
            Grid {
                header: vec![
                    "run_id",
                    "dataset",
                    "file",
                    "line_number",
                    "reason",
                    "raw_line",
                ],
                numeric: vec![true, false, false, true, false, false],
                rows: rejects
                    .lines
                    .iter()
                    .map(|l| {
                        vec![
                            l.run_id.to_string(),
                            l.dataset.clone(),
                            l.file.clone(),
                            l.line_number.to_string(),
                            l.reason.clone(),
                            l.raw_line.clone(),
                        ]
                    })
                    .collect(),
            }
            .print(format)
            .await?;
        }
        Format::Table => {
            let runs: Vec<String> = rejects.runs.iter().map(ToString::to_string).collect();
            let whose = if rejects.current {
                "the loads of the files the tables hold now"
            } else {
                "that load"
            };
            if rejects.total == 0 {
                println!(
                    "no line was rejected by {whose} (run {})",
                    if runs.is_empty() {
                        "-".to_owned()
                    } else {
                        runs.join(", ")
                    }
                );
                return Ok(());
            }
            println!(
                "{} line{} rejected by {whose} (run {}){}",
                rejects.total,
                plural(rejects.total as u64),
                runs.join(", "),
                if (rejects.lines.len() as i64) < rejects.total {
                    format!(", showing {}", rejects.lines.len())
                } else {
                    String::new()
                }
            );
            let mut groups: Vec<(String, Vec<&crate::queries::RejectedLine>)> = Vec::new();
            for line in &rejects.lines {
                let key = format!("{}: {}", line.dataset, line.rule);
                match groups.last_mut() {
                    Some((k, lines)) if *k == key => lines.push(line),
                    _ => groups.push((key, vec![line])),
                }
            }
            for (rule, lines) in groups {
                println!();
                println!(
                    "{} ({} line{})",
                    stages::core::text::visible(&rule),
                    lines.len(),
                    plural(lines.len() as u64)
                );
                for line in lines {
                    println!(
                        "  {} line {}: {}",
                        stages::core::text::visible(&line.file),
                        line.line_number,
                        stages::core::text::visible(&line.reason)
                    );
                    println!(
                        "    {}",
                        shorten(&stages::core::text::visible(&line.raw_line), 110)
                    );
                }
            }
        }
    }
    Ok(())
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// `pipeline migrate`: what it applied, or that there was nothing to apply.
pub fn migrated(target: &str, applied: &[String]) {
    if applied.is_empty() {
        println!("{target} is already up to date: no migration was pending");
    } else {
        println!(
            "{} migration{} applied to {target}: {}",
            applied.len(),
            plural(applied.len() as u64),
            applied.join(", ")
        );
    }
}

/// `pipeline run`: the run record, as tables and sentences or as one JSON object.
pub fn run_record(report: &RunReport, format: RecordFormat) -> Result<()> {
    match format {
        RecordFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        }
        RecordFormat::Table => run_report(report),
    }
    Ok(())
}

/// `pipeline run --format table`, `pipeline demo`: what the run read, skipped, loaded, rejected and
/// computed, and how long it took. A run that found nothing to do says so in one line.
pub fn run_report(report: &RunReport) {
    if up_to_date(report) {
        println!("{}", up_to_date_line(report));
        return;
    }
    if report.datasets.iter().any(|a| a.unchanged_since.is_none()) {
        files_table(report);
    }
    let unchanged: Vec<String> = report
        .datasets
        .iter()
        .filter_map(|a| {
            a.unchanged_since
                .map(|run| format!("{} (run {run})", a.dataset))
        })
        .collect();
    if !unchanged.is_empty() {
        println!(
            "not read again, same content as loaded before: {} (--force-load reads them)",
            unchanged.join(", ")
        );
    }
    if !report.datasets.is_empty() && !report.loaded {
        println!("validation only: nothing was written");
    } else if report.datasets.iter().any(|a| a.rejected > 0) {
        println!("rejected lines and their reasons: `pipeline rejects`");
    }
    for (i, aggregate) in report.aggregates.iter().enumerate() {
        // A failed run ends with the stage that failed: its days were due, not computed.
        let stopped = report.error.is_some() && i + 1 == report.aggregates.len();
        aggregate_lines(aggregate, stopped);
    }
    println!(
        "{} in {:.2}s (run {})",
        if report.error.is_some() {
            "failed"
        } else {
            "done"
        },
        report.seconds,
        report.run_id
    );
}

/// One line saying what a run did: files read and skipped, lines loaded and rejected, days
/// computed, time; for `pipeline schedule`, which prints one per run.
pub fn run_summary_line(report: &RunReport) -> String {
    if up_to_date(report) {
        return up_to_date_line(report);
    }
    let mut parts = Vec::new();
    let read: Vec<&stages::DatasetAccount> = report
        .datasets
        .iter()
        .filter(|a| a.unchanged_since.is_none())
        .collect();
    if !report.datasets.is_empty() {
        parts.push(format!(
            "{} file{} read ({} lines loaded, {} rejected), {} unchanged",
            read.len(),
            plural(read.len() as u64),
            read.iter().map(|a| a.loaded).sum::<u64>(),
            read.iter().map(|a| a.rejected).sum::<u64>(),
            report.datasets.len() - read.len()
        ));
        let deleted: u64 = report.datasets.iter().map(|a| a.deleted).sum();
        if deleted > 0 {
            parts.push(format!("{deleted} row{} deleted", plural(deleted)));
        }
    }
    for aggregate in &report.aggregates {
        let mut days = aggregate.days_due.clone();
        days.extend(
            aggregate
                .days_requested
                .iter()
                .flat_map(|r| r.start.iter_days().take(r.len() as usize)),
        );
        days.extend(&aggregate.days_stale);
        days.sort_unstable();
        days.dedup();
        parts.push(format!(
            "{}: {} day{} computed{}, {} row{} written{}",
            aggregate.stage,
            days.len(),
            plural(days.len() as u64),
            if days.is_empty() {
                String::new()
            } else {
                format!(" ({})", ranges_text(&days))
            },
            aggregate.rows_written,
            plural(aggregate.rows_written),
            if aggregate.days_failed.is_empty() {
                String::new()
            } else {
                format!(", {} failed", aggregate.days_failed.len())
            }
        ));
    }
    format!(
        "{}: {} ({:.2}s, run {})",
        if report.error.is_some() {
            "failed"
        } else {
            "done"
        },
        parts.join("; "),
        report.seconds,
        report.run_id
    )
}

/// Whether the run read no file and computed nothing (and failed nowhere).
fn up_to_date(report: &RunReport) -> bool {
    report.error.is_none()
        && report.datasets.iter().all(|a| a.unchanged_since.is_some())
        && report.aggregates.iter().all(AggregateReport::nothing_to_do)
        && !(report.datasets.is_empty() && report.aggregates.is_empty())
}

/// The one line of a run that had nothing to do.
fn up_to_date_line(report: &RunReport) -> String {
    let mut parts = Vec::new();
    if !report.datasets.is_empty() {
        let since: std::collections::BTreeSet<i64> = report
            .datasets
            .iter()
            .filter_map(|a| a.unchanged_since)
            .collect();
        let runs: Vec<String> = since.iter().map(|r| format!("run {r}")).collect();
        parts.push(format!("no file changed since {}", runs.join(", ")));
    }
    for aggregate in &report.aggregates {
        parts.push(match aggregate.data_days {
            Some(days) => format!(
                "{}: {} day{} computed and fresh ({days})",
                aggregate.stage,
                days.len(),
                plural(days.len())
            ),
            None => format!("{} has no orders to compute", aggregate.stage),
        });
    }
    format!(
        "up to date: {}; nothing to do ({:.2}s, run {})",
        parts.join("; "),
        report.seconds,
        report.run_id
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The files a run read, with their accounting (the files skipped as unchanged included). The
/// `erased` and `deleted` columns show only when the run skipped lines of erased people or deleted
/// rows (a snapshot load).
fn files_table(report: &RunReport) {
    let erased = report.datasets.iter().any(|a| a.erased > 0);
    let deletes = report.datasets.iter().any(|a| a.deleted > 0);
    let mut header = vec![
        "dataset",
        "file",
        "read",
        "loaded",
        "inserted",
        "updated",
        "duplicate",
        "rejected",
    ];
    if erased {
        header.push("erased");
    }
    if deletes {
        header.push("deleted");
    }
    let grid = Grid {
        numeric: (0..header.len()).map(|at| at >= 2).collect(),
        header,
        rows: report
            .datasets
            .iter()
            .map(|a| {
                let mut row = vec![
                    a.dataset.clone(),
                    a.file.clone(),
                    a.read.to_string(),
                    a.loaded.to_string(),
                    a.inserted.to_string(),
                    a.updated.to_string(),
                    a.duplicate.to_string(),
                    a.rejected.to_string(),
                ];
                if erased {
                    row.push(a.erased.to_string());
                }
                if deletes {
                    row.push(a.deleted.to_string());
                }
                row
            })
            .collect(),
    };
    println!("{}", grid.to_table());
}

/// What one aggregate computed: the days asked or due, the stale days, what was left and what failed.
/// `stopped`: the run's error stopped this stage, so what it was to compute is not all computed.
fn aggregate_lines(aggregate: &AggregateReport, stopped: bool) {
    let computed = if stopped {
        "stopped by the error below while computing"
    } else {
        "computed"
    };
    let stage = &aggregate.stage;
    let people = if aggregate.people_refreshed > 0 {
        format!(
            ": the rows of {} {}",
            aggregate.people_refreshed,
            if aggregate.people_refreshed == 1 {
                "person"
            } else {
                "people"
            }
        )
    } else {
        String::new()
    };
    let stale = (!aggregate.days_stale.is_empty()).then(|| {
        format!(
            "{} day{} made stale by changes since they were computed ({}){people}",
            aggregate.days_stale.len(),
            plural(aggregate.days_stale.len() as u64),
            ranges_text(&aggregate.days_stale),
        )
    });
    let written = format!(
        "{} row{} written in {:.2}s",
        aggregate.rows_written,
        plural(aggregate.rows_written),
        aggregate.seconds
    );
    match (aggregate.days_requested, &aggregate.days_due[..], &stale) {
        (Some(days), _, _) => {
            println!(
                "{stage}: {computed} {days} ({} day{}), {written}",
                days.len(),
                plural(days.len())
            );
            if let Some(stale) = &stale {
                println!("{stage}: also recomputed {stale}");
            }
        }
        (None, [], None) if aggregate.days_failed.is_empty() => {
            println!("{stage}: every day is computed and fresh; nothing to compute");
        }
        (None, [], Some(stale)) => println!("{stage}: recomputed {stale}, {written}"),
        (None, [], None) => println!("{stage}: {written}"),
        (None, due, stale) => {
            println!(
                "{stage}: {computed} {} day{} not computed before ({}), {written}",
                due.len(),
                plural(due.len() as u64),
                ranges_text(due)
            );
            if let Some(stale) = stale {
                println!("{stage}: also recomputed {stale}");
            }
        }
    }
    if !aggregate.days_stale_left.is_empty() {
        println!(
            "{stage}: {} stale day{} left as they are (--skip-stale): {}; `pipeline run --stage {stage}` recomputes them",
            aggregate.days_stale_left.len(),
            plural(aggregate.days_stale_left.len() as u64),
            ranges_text(&aggregate.days_stale_left),
        );
    }
    for failed in &aggregate.days_failed {
        println!("{stage}: {} failed: {}", failed.day, failed.error);
    }
}

/// Money in JSON: a string with two decimals, so that no float rounding shows.
fn number(value: Decimal) -> Value {
    json!(money(value))
}

/// The columns `stats` shows in a table of the customer aggregate by default: one per question an
/// analyst asks first, fitting 120 characters; `--wide`, CSV and JSON show every column, and so
/// does the table of another aggregate.
const STATS_MAIN_COLUMNS: [&str; 6] = [
    "customer_unique_id",
    "orders_count",
    "items_count",
    "total_spent",
    "lifetime_orders",
    "lifetime_spent",
];

/// `pipeline stats`: the day's summary line and rows (table), or the rows alone (CSV, JSON).
pub async fn stats(stats: &DayStats, format: Format, wide: bool) -> Result<()> {
    let rows = &stats.rows;
    if format == Format::Json {
        let out: Vec<Value> = rows
            .rows
            .iter()
            .map(|row| {
                Value::Object(
                    rows.columns
                        .iter()
                        .cloned()
                        .zip(row.iter().cloned())
                        .collect(),
                )
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let customers = matches!(stats.summary, DaySummary::Customers { .. });
    let columns: Vec<usize> = (0..rows.columns.len())
        .filter(|&i| {
            format != Format::Table
                || wide
                || !customers
                || STATS_MAIN_COLUMNS.contains(&rows.columns[i].as_str())
        })
        .collect();
    let grid = Grid {
        header: columns.iter().map(|&i| rows.columns[i].as_str()).collect(),
        numeric: columns.iter().map(|&i| rows.numeric[i]).collect(),
        rows: rows
            .rows
            .iter()
            .map(|row| columns.iter().map(|&i| cell(&row[i])).collect())
            .collect(),
    };
    if format == Format::Table && !stats_heading(stats) {
        return Ok(());
    }
    grid.print(format).await
}

/// The summary line above a day's table and, when the day has no row to show, the sentence that
/// says so; whether there are rows to show.
fn stats_heading(stats: &DayStats) -> bool {
    let DayStats {
        date,
        stage,
        summary,
        rows,
        partial,
        customer,
    } = stats;
    let showing = if *partial {
        format!(" (showing {})", rows.rows.len())
    } else {
        String::new()
    };
    match summary {
        DaySummary::Customers {
            customers,
            orders,
            revenue,
        } => {
            println!(
                "{date}: {customers} customers, {orders} orders, revenue {}{showing}",
                money(*revenue)
            );
            if rows.rows.is_empty() {
                match customer {
                    Some(customer) if *customers > 0 => println!(
                        "customer {} placed no order on {date} ({customers} other customer{} did: `pipeline stats --date {date}` lists them)",
                        stages::core::text::visible(customer),
                        plural(*customers as u64)
                    ),
                    _ => println!("no customer ordered on {date}"),
                }
            }
        }
        DaySummary::Rows(count) => {
            println!(
                "{date}: {stage}: {count} row{}{showing}",
                plural(*count as u64)
            );
        }
    }
    !rows.rows.is_empty()
}

/// One value of a row as a cell: as in JSON, with strings unquoted and NULL empty.
fn cell(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `pipeline top-customers`: a heading and the ranked customers (table), or the customers alone.
pub async fn top_customers(
    tops: &[TopCustomer],
    by: RankBy,
    range: Option<DayRange>,
    format: Format,
) -> Result<()> {
    if format == Format::Json {
        let out: Vec<Value> = tops
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "rank": i + 1,
                    "customer_unique_id": t.customer_unique_id,
                    "orders": t.orders,
                    "items": t.items,
                    "total_spent": number(t.total_spent),
                    "first_order_date": t.first_order_date,
                    "last_order_date": t.last_order_date,
                    "city": t.city,
                    "state": t.state,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
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
                        t.customer_unique_id.clone(),
                        t.orders.to_string(),
                        t.items.to_string(),
                        money(t.total_spent),
                        t.first_order_date.to_string(),
                        t.last_order_date.to_string(),
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
            let span = range.map_or_else(|| "the whole history".to_owned(), |r| r.to_string());
            println!("top {} customers by {what} over {span}", tops.len());
        }
        grid.print(format).await?;
    }
    Ok(())
}

/// `pipeline repeaters`: what the figures mean and the figures (table), or the figures alone.
pub async fn repeaters(figures: &Repeaters, range: Option<DayRange>, format: Format) -> Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
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
            let span = range.map_or_else(|| "the whole history".to_owned(), |r| r.to_string());
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
    Ok(())
}

/// `pipeline status`: each stage's last run as a table (or CSV), then a line for a failed last load
/// and a line or two per aggregate (table only); or all of it as one JSON object.
pub async fn status(status: &Status, format: Format) -> Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&status_json(status))?);
        return Ok(());
    }
    let grid = Grid {
        header: vec![
            "stage", "type", "last run", "started", "days", "rows", "rejected", "error",
        ],
        rows: status.stages.iter().map(stage_row).collect(),
        numeric: vec![false, false, false, false, false, true, true, false],
    };
    grid.print(format).await?;
    if format == Format::Table {
        for line in health_lines(status) {
            println!("{line}");
        }
        if let Some(erasures) = &status.erasures {
            println!("{}", erasure_line(erasures));
        }
    }
    Ok(())
}

/// The status line of the erasures: how many people, and the latest (no personal data: counts, the
/// time, the reason as given).
fn erasure_line(last: &ErasureSummary) -> String {
    format!(
        "erasures: {} {} erased; the last at {} (erasure {}, run {}): {} row{} removed{}",
        last.people_erased,
        if last.people_erased == 1 {
            "person"
        } else {
            "people"
        },
        last.erased_at.format("%Y-%m-%d %H:%M:%S"),
        last.erasure_id,
        last.run_id,
        last.rows_total(),
        plural(last.rows_total()),
        last.reason
            .as_deref()
            .map_or_else(String::new, |r| format!(", reason: {r}"))
    )
}

/// The erasures in `status --format json`.
fn erasures_json(last: &ErasureSummary) -> Value {
    json!({
        "people_erased": last.people_erased,
        "last": {
            "erasure_id": last.erasure_id,
            "run_id": last.run_id,
            "erased_at": last.erased_at.to_rfc3339(),
            "reason": last.reason,
            "rows_removed": last.rows_removed,
        },
    })
}

/// `pipeline erase`: what went (or, in a dry run, would go), and the days recomputed.
pub fn erase(report: &EraseReport, format: RecordFormat) -> Result<()> {
    if format == RecordFormat::Json {
        let value = json!({
            "status": report.status,
            "erasure_id": report.erasure_id,
            "run_id": report.run_id,
            "rows_removed": report.rows_json(),
            "rows_total": report.rows_total(),
            "days_recomputed": report.days_json(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let rows: Vec<String> = report
        .rows_removed
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    let days: Vec<String> = report
        .days_recomputed
        .iter()
        .map(|(stage, days)| {
            format!(
                "{stage} {} day{} ({})",
                days.len(),
                plural(days.len() as u64),
                ranges_text(days)
            )
        })
        .collect();
    let days = if days.is_empty() {
        "none".to_owned()
    } else {
        days.join(", ")
    };
    match report.status {
        EraseStatus::AlreadyErased => println!("already erased: nothing to do"),
        EraseStatus::DryRun => println!(
            "dry run, nothing was written: would remove {} rows ({}); would recompute: {days}",
            report.rows_total(),
            rows.join(", ")
        ),
        EraseStatus::Erased => println!(
            "erased: {} rows removed ({}); recomputed: {days}; erasure {} (run {})",
            report.rows_total(),
            rows.join(", "),
            report.erasure_id.unwrap_or_default(),
            report.run_id.unwrap_or_default()
        ),
    }
    Ok(())
}

/// `pipeline status --format json`.
fn status_json(status: &Status) -> Value {
    json!({
        "up_to_date": status.healthy(),
        "failed_load": status.failed_load.as_ref().map(failed_load_json),
        "stages": status.stages.iter().map(stage_json).collect::<Vec<_>>(),
        "aggregates": status.aggregates.iter().map(aggregate_status_json).collect::<Vec<_>>(),
        "erasures": status.erasures.as_ref().map(erasures_json),
    })
}

/// The day or days a run was asked for, if any.
fn days_of_run(run: Option<&pipeline_run::Model>) -> Option<String> {
    match (
        run.and_then(|r| r.run_date),
        run.and_then(|r| r.range_start.zip(r.range_end)),
    ) {
        (Some(d), _) => Some(d.to_string()),
        (_, Some((a, b))) => Some(format!("{a}..{b}")),
        _ => None,
    }
}

/// A stage and its last run, in JSON.
fn stage_json(stage: &StageStatus) -> Value {
    let run = stage.last_run.as_ref();
    let deleted = run.map(deleted_rows).unwrap_or_default();
    json!({
        "stage": stage.name,
        "type": stage.type_name,
        "last_run": run.map(|r| json!({
            "run_id": r.id,
            "recorded_by": r.stage_name,
            "status": r.status,
            "started_at": r.started_at.to_rfc3339(),
            "finished_at": r.finished_at.map(|t| t.to_rfc3339()),
            "days": days_of_run(run),
            "rows_read": r.rows_read,
            "rows_loaded": r.rows_loaded,
            "rows_duplicate": r.rows_duplicate,
            "rows_rejected": r.rows_rejected,
            "rows_deleted": deleted.iter().map(|(_, n)| n).sum::<u64>(),
            "deleted": deleted
                .iter()
                .map(|(table, n)| (table.clone(), Value::from(*n)))
                .collect::<serde_json::Map<String, Value>>(),
            "error": r.error,
        })),
    })
}

/// The rows a load run deleted, per table (its `details`, the files' accounts), in load order;
/// tables without deletes left out.
fn deleted_rows(run: &pipeline_run::Model) -> Vec<(String, u64)> {
    let accounts: Vec<stages::DatasetAccount> = run
        .details
        .clone()
        .and_then(|d| serde_json::from_value(d).ok())
        .unwrap_or_default();
    accounts
        .into_iter()
        .filter(|a| a.deleted > 0)
        .map(|a| (a.dataset, a.deleted))
        .collect()
}

/// What the last load of `stage` deleted, in one line, when it deleted anything.
fn deletes_line(stage: &StageStatus) -> Option<String> {
    let deleted = deleted_rows(stage.last_run.as_ref()?);
    if deleted.is_empty() {
        return None;
    }
    let parts: Vec<String> = deleted
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    Some(format!(
        "{}: the last load deleted rows (absent from the export, or referring to a deleted row): {}",
        stage.name,
        parts.join(", ")
    ))
}

/// A stage and its last run, as a row of the table.
fn stage_row(stage: &StageStatus) -> Vec<String> {
    let run = stage.last_run.as_ref();
    vec![
        stage.name.clone(),
        stage.type_name.clone(),
        run.map_or_else(|| "never run".to_owned(), |r| r.status.to_value()),
        run.map(|r| r.started_at.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        days_of_run(run).unwrap_or_default(),
        run.map(|r| r.rows_loaded.to_string()).unwrap_or_default(),
        run.map(|r| r.rows_rejected.to_string()).unwrap_or_default(),
        run.and_then(|r| r.error.clone())
            .map(|e| e.lines().next().unwrap_or_default().to_owned())
            .unwrap_or_default(),
    ]
}

/// The command that brings an aggregate up to date, when it is not.
fn health_fix(stage: &str, health: &StageHealth) -> Option<String> {
    (!health.healthy()).then(|| format!("pipeline run --stage {stage}"))
}

/// The state of an aggregate's days, in JSON.
fn aggregate_status_json(AggregateStatus { stage, health }: &AggregateStatus) -> Value {
    let (computed, outside) = health.computed_in_data();
    json!({
        "stage": stage,
        "first_day": health.data_days.map(|d| d.start),
        "last_day": health.data_days.map(|d| d.end),
        "days_in_data": health.data_days.map_or(0, |d| d.len()),
        "days_computed": computed,
        "days_computed_outside_data": outside,
        "days_missing": ranges_json(&health.missing),
        "days_stale": ranges_json(&health.stale),
        "days_failed": ranges_json(&health.failed),
        "row_keys": health.row_keys,
        "engines": health
            .engines
            .iter()
            .map(|(engine, days)| (engine.clone(), json!(days)))
            .collect::<serde_json::Map<String, Value>>(),
        "up_to_date": health.healthy(),
        "fix": health_fix(stage, health),
    })
}

/// What `status` says of the engines that computed a stage's days, unless `PostgreSQL` computed
/// them all: `stage: days computed by ballista (690), postgres (8)`.
fn engines_line(stage: &str, engines: &[(String, i64)]) -> Option<String> {
    if engines.iter().all(|(engine, _)| engine == "postgres") {
        return None;
    }
    let each: Vec<String> = engines
        .iter()
        .map(|(engine, days)| format!("{engine} ({days})"))
        .collect();
    Some(format!("{stage}: days computed by {}", each.join(", ")))
}

/// What `status` says of the keys a customer aggregate's rows hold, when they are not the person:
/// under `customer_key = "customer_id"` the column `customer_unique_id` holds customer ids.
fn row_key_line(stage: &str, keys: &[String]) -> Option<String> {
    let others: Vec<&str> = keys
        .iter()
        .filter(|k| *k != "customer_id")
        .map(String::as_str)
        .collect();
    if others.len() == keys.len() {
        return None;
    }
    Some(if others.is_empty() {
        format!(
            "{stage}: rows keyed by customer_id: the column customer_unique_id holds customer ids, \
             one per order (customer_key = \"customer_id\")"
        )
    } else {
        format!(
            "{stage}: rows keyed by customer_id on some days, by {} on others: the column \
             customer_unique_id holds customer ids on the days computed with customer_key = \
             \"customer_id\"",
            others.join(", ")
        )
    })
}

/// The lines under the table: the failed load's first (while the newest export is not loaded,
/// fresh days are fresh only up to the previous one), then two per aggregate.
fn health_lines(status: &Status) -> Vec<String> {
    let mut lines: Vec<String> = status.stages.iter().filter_map(deletes_line).collect();
    if let Some(failed) = &status.failed_load {
        lines.push(format!(
            "{}: {}; to fix: {}",
            failed.stage,
            failed.reason(),
            FailedLoad::fix()
        ));
    }
    for AggregateStatus { stage, health } in &status.aggregates {
        let (computed, outside) = health.computed_in_data();
        lines.push(format!(
            "{}: data {}; {computed} of its {} days computed; missing: {}; stale: {}; failed: {}{}",
            stage,
            health
                .data_days
                .map_or_else(|| "none loaded".into(), |d| d.to_string()),
            health.data_days.map_or(0, |d| d.len()),
            ranges_text(&health.missing),
            ranges_text(&health.stale),
            ranges_text(&health.failed),
            if outside > 0 {
                format!("; {outside} computed days lie outside the data (no orders)")
            } else {
                String::new()
            }
        ));
        if let Some(line) = row_key_line(stage, &health.row_keys) {
            lines.push(line);
        }
        if let Some(line) = engines_line(stage, &health.engines) {
            lines.push(line);
        }
        lines.push(match health_fix(stage, health) {
            Some(fix) => format!("{stage}: not up to date; to fix: {fix}"),
            None => format!("{stage}: up to date"),
        });
    }
    lines
}

/// A failed last load, in JSON.
fn failed_load_json(failed: &FailedLoad) -> Value {
    json!({
        "stage": failed.stage,
        "run_id": failed.run.id,
        "started_at": failed.run.started_at.to_rfc3339(),
        "finished_at": failed.run.finished_at.map(|t| t.to_rfc3339()),
        "error": failed.run.error,
        "fix": FailedLoad::fix(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_what_the_last_load_deleted_per_table() {
        let accounts = |deleted: [u64; 2]| {
            serde_json::to_value(
                ["orders", "order_items"]
                    .iter()
                    .zip(deleted)
                    .map(|(dataset, deleted)| stages::DatasetAccount {
                        dataset: (*dataset).to_owned(),
                        deleted,
                        ..stages::DatasetAccount::default()
                    })
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let stage = |details: Option<Value>| StageStatus {
            name: "load".to_owned(),
            type_name: "postgres_load".to_owned(),
            last_run: Some(pipeline_run::Model {
                id: 3,
                parent_run_id: None,
                kind: stages::entities::pipeline_run::RunKind::Stage,
                stage_name: "load".to_owned(),
                stage_type: "postgres_load".to_owned(),
                config_fingerprint: String::new(),
                run_date: None,
                range_start: None,
                range_end: None,
                status: stages::entities::pipeline_run::RunStatus::Succeeded,
                started_at: chrono::Utc::now().into(),
                finished_at: None,
                rows_read: 0,
                rows_loaded: 0,
                rows_duplicate: 0,
                rows_rejected: 0,
                details,
                error: None,
            }),
        };
        assert_eq!(
            deletes_line(&stage(Some(accounts([2, 5])))).unwrap(),
            "load: the last load deleted rows (absent from the export, or referring to a deleted \
             row): orders 2, order_items 5"
        );
        assert_eq!(
            deletes_line(&stage(Some(accounts([0, 1])))).unwrap(),
            "load: the last load deleted rows (absent from the export, or referring to a deleted \
             row): order_items 1"
        );
        let json = stage_json(&stage(Some(accounts([2, 5]))));
        assert_eq!(json["last_run"]["rows_deleted"], 7);
        assert_eq!(json["last_run"]["deleted"]["order_items"], 5);
        for quiet in [
            Some(accounts([0, 0])),
            None,
            Some(json!({"not": "accounts"})),
        ] {
            assert_eq!(deletes_line(&stage(quiet.clone())), None, "{quiet:?}");
            assert_eq!(stage_json(&stage(quiet))["last_run"]["rows_deleted"], 0);
        }
    }

    #[test]
    fn status_says_when_the_customer_rows_hold_customer_ids() {
        let keys = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(row_key_line("s", &keys(&["customer_unique_id"])), None);
        let engines = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
            pairs.iter().map(|(e, d)| ((*e).to_owned(), *d)).collect()
        };
        assert_eq!(engines_line("s", &engines(&[("postgres", 9)])), None);
        assert_eq!(engines_line("s", &[]), None);
        assert_eq!(
            engines_line("s", &engines(&[("ballista", 690), ("postgres", 8)])).unwrap(),
            "s: days computed by ballista (690), postgres (8)"
        );
        assert_eq!(row_key_line("s", &keys(&["product_id"])), None);
        assert_eq!(row_key_line("s", &[]), None);
        assert_eq!(
            row_key_line("s", &keys(&["customer_id"])).unwrap(),
            "s: rows keyed by customer_id: the column customer_unique_id holds customer ids, one per \
             order (customer_key = \"customer_id\")"
        );
        assert_eq!(
            row_key_line("s", &keys(&["customer_id", "customer_unique_id"])).unwrap(),
            "s: rows keyed by customer_id on some days, by customer_unique_id on others: the column \
             customer_unique_id holds customer ids on the days computed with customer_key = \
             \"customer_id\""
        );
    }

    #[tokio::test]
    async fn csv_has_a_header_and_quotes_when_needed() {
        let grid = Grid {
            header: vec!["a", "b"],
            rows: vec![vec!["1".into(), "x,y".into()]],
            numeric: vec![true, false],
        };
        let mut out = Vec::new();
        grid.write_csv(&mut out).await.unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\n1,\"x,y\"\n");
        assert!(grid.to_table().contains("x,y"));
    }

    #[tokio::test]
    async fn control_characters_are_neutralised_in_tables_only() {
        let city = "sao\u{1b}[31m paulo\u{1b}]0;owned\u{7}\r\n\u{9b}2J";
        let grid = Grid {
            header: vec!["city"],
            rows: vec![vec![city.into()]],
            numeric: vec![false],
        };
        let table = grid.to_table();
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(
            table.contains("sao\\x1b[31m paulo\\x1b]0;owned\\x07\\x0d\\x0a\\x9b2J"),
            "{table}"
        );
        let mut out = Vec::new();
        grid.write_csv(&mut out).await.unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("city\n\"{city}\"\n")
        );
    }
}
