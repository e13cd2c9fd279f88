//! Running a plan: the ingest chain (extract → validate → load, joined by bounded channels) in one
//! transaction, then each aggregate over the selected days, chunk by chunk.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Timelike};
use indicatif::{ProgressBar, ProgressStyle};
use stages::dataset::Dataset;
use stages::record::ValidatedBatch;
use stages::{DatasetAccount, DayRange, Extract, Load, Role, RunContext, Source, Stage, Validate};
use tokio::sync::mpsc;

use crate::db::Db;
use crate::ledger::{self, RunCounts};
use crate::plan::{Plan, PlannedStage};

/// Which days an aggregate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Days {
    /// Every day from the first to the last purchase day in the data.
    All,
    /// These days.
    Range(DayRange),
}

/// What one `run` did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Per-dataset accounting of the ingest, if it ran.
    pub accounts: Vec<DatasetAccount>,
    /// Whether the ingest wrote (false for a validate-only run).
    pub loaded: bool,
    /// Per aggregate: (stage name, days computed, rows written).
    pub aggregates: Vec<AggregateReport>,
}

/// What one aggregate run did.
#[derive(Debug, Clone)]
pub struct AggregateReport {
    /// The stage.
    pub stage: String,
    /// The days computed, if any.
    pub days: Option<DayRange>,
    /// Rows written.
    pub rows: u64,
    /// Seconds taken.
    pub seconds: f64,
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// Runs the selected stages of `plan` (all when `selected` is empty).
pub async fn run(db: &Db, plan: &Plan, selected: &[String], days: Days) -> Result<RunReport> {
    let chosen = |stage: &PlannedStage| selected.is_empty() || selected.contains(&stage.name);
    let mut report = RunReport::default();
    let ingest: Vec<&PlannedStage> = plan
        .stages
        .iter()
        .filter(|s| s.config.role() != Role::Aggregate)
        .collect();
    if ingest.iter().any(|s| chosen(s)) {
        let write = plan.with_role(Role::Load).any(chosen);
        let (accounts, loaded) = run_ingest(db, plan, write).await?;
        report.accounts = accounts;
        report.loaded = loaded;
    }
    for stage in plan.with_role(Role::Aggregate).filter(|s| chosen(s)) {
        report
            .aggregates
            .push(run_aggregate(db, stage, days).await?);
    }
    Ok(report)
}

fn built<T>(stage: &PlannedStage, pick: impl FnOnce(Stage) -> Option<T>) -> Result<T> {
    pick(stage.config.build()).with_context(|| {
        format!(
            "stage \"{}\" did not build as a {}",
            stage.name,
            stage.config.role()
        )
    })
}

/// Extracts, validates and (when `write`) loads every dataset in one transaction.
async fn run_ingest(db: &Db, plan: &Plan, write: bool) -> Result<(Vec<DatasetAccount>, bool)> {
    let extract_stage = plan
        .with_role(Role::Extract)
        .next()
        .context("no extract stage is declared")?;
    let validate_stage = plan
        .with_role(Role::Validate)
        .next()
        .context("no validate stage is declared")?;
    let load_stage = plan.with_role(Role::Load).next();
    let extract: Arc<dyn Extract> = Arc::from(built(extract_stage, |s| match s {
        Stage::Extract(e) => Some(e),
        _ => None,
    })?);
    let validate: Arc<dyn Validate> = Arc::from(built(validate_stage, |s| match s {
        Stage::Validate(v) => Some(v),
        _ => None,
    })?);
    let load: Box<dyn Load> = match load_stage {
        Some(stage) => built(stage, |s| match s {
            Stage::Load(l) => Some(l),
            _ => None,
        })?,
        // A validate-only pipeline still stages rows to apply the set rules, then rolls back.
        None => Box::new(stages::postgres_load::PostgresLoad::new(Default::default())),
    };
    let ctx = RunContext {
        data_dir: plan.data_dir.clone(),
        // Whole seconds, as the timestamps it bounds.
        run_time: chrono::Local::now()
            .naive_local()
            .with_nanosecond(0)
            .unwrap_or_default(),
    };

    check_data_dir(&ctx.data_dir)?;
    // Every file is found and its header checked before anything is written.
    let mut sources = Vec::new();
    for dataset in Dataset::LOAD_ORDER {
        sources.push(extract.open(&ctx.data_dir, dataset).await?);
    }

    let ledger_stage = if write {
        load_stage.unwrap_or(validate_stage)
    } else {
        validate_stage
    };
    let run = ledger::open(db, ledger_stage, None, None).await?;
    let result = ingest_in_transaction(
        db,
        &sources,
        extract,
        validate,
        load.as_ref(),
        &ctx,
        run.id,
        write,
    )
    .await;
    match result {
        Ok((accounts, counts)) => {
            if write {
                // The ledger row was closed inside the committed transaction.
                run.release_committed().await;
            } else {
                run.succeed(&counts).await?;
            }
            Ok((accounts, write))
        }
        Err(e) => {
            run.fail(&format!("{e:#}")).await;
            Err(e)
        }
    }
}

/// Fails unless `dir` is a directory that can be listed.
pub fn check_data_dir(dir: &std::path::Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "data directory {} does not exist or is not a directory (set data_dir, PIPELINE_DATA_DIR or --data-dir)",
            dir.display()
        );
    }
    std::fs::read_dir(dir)
        .with_context(|| format!("cannot read data directory {}", dir.display()))?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn ingest_in_transaction(
    db: &Db,
    sources: &[Source],
    extract: Arc<dyn Extract>,
    validate: Arc<dyn Validate>,
    load: &dyn Load,
    ctx: &RunContext,
    run_id: i64,
    write: bool,
) -> Result<(Vec<DatasetAccount>, RunCounts)> {
    let mut tx = db
        .pool
        .begin()
        .await
        .context("cannot begin the load transaction")?;
    load.prepare(&mut tx, sources)
        .await
        .context("cannot create the staging tables")?;
    let mut accounts = Vec::new();
    for source in sources {
        let started = Instant::now();
        let (record_tx, mut record_rx) = mpsc::channel(4);
        let (valid_tx, mut valid_rx) = mpsc::channel::<ValidatedBatch>(4);
        let reader = {
            let extract = extract.clone();
            let source = source.clone();
            tokio::spawn(async move { extract.stream(&source, record_tx).await })
        };
        let checker = {
            let validate = validate.clone();
            let source = source.clone();
            let ctx = ctx.clone();
            tokio::spawn(async move {
                while let Some(batch) = record_rx.recv().await {
                    let checked = validate.check_batch(&source, &ctx, batch);
                    if valid_tx.send(checked).await.is_err() {
                        break;
                    }
                }
            })
        };
        let bar = progress_bar(0, &source.file_name);
        let staged = load
            .stage(&mut tx, source, &mut valid_rx, &|lines| bar.inc(lines))
            .await;
        drop(valid_rx);
        bar.finish_and_clear();
        let counts = reader.await.context("the extract task panicked")?;
        checker.await.context("the validate task panicked")?;
        staged.with_context(|| format!("cannot stage {}", source.file_name))?;
        let counts = counts?;
        let staged_at = started.elapsed().as_secs_f64();
        validate
            .check_sets(&mut tx, source.dataset)
            .await
            .with_context(|| {
                format!(
                    "cannot apply the key and reference rules to {}",
                    source.file_name
                )
            })?;
        let mut account = load
            .account(&mut tx, source.dataset)
            .await
            .with_context(|| format!("cannot count {}", source.file_name))?;
        account.read = counts.records;
        account.blank_lines = counts.blank_lines;
        if account.loaded + account.duplicate + account.rejected != account.read {
            bail!(
                "{}: accounting does not add up: {} read but {} loaded + {} duplicate + {} rejected; nothing was written",
                source.file_name,
                account.read,
                account.loaded,
                account.duplicate,
                account.rejected
            );
        }
        tracing::info!(
            file = %source.file_name,
            read = account.read,
            accepted = account.loaded,
            duplicate = account.duplicate,
            rejected = account.rejected,
            staged_seconds = staged_at,
            seconds = started.elapsed().as_secs_f64(),
            "validated"
        );
        accounts.push(account);
    }
    let ratio_problems: Vec<String> = accounts
        .iter()
        .filter(|a| a.read > 0 && a.rejected as f64 / a.read as f64 > validate.max_reject_ratio())
        .map(|a| {
            format!(
                "{}: {} of {} lines rejected ({:.1}%)",
                a.file,
                a.rejected,
                a.read,
                100.0 * a.rejected as f64 / a.read as f64
            )
        })
        .collect();
    if !ratio_problems.is_empty() {
        let samples = sample_reasons(&mut tx).await.unwrap_or_default();
        bail!(
            "too many rejected lines, above max_reject_ratio {}; nothing was written (is the data directory right?)\n  {}\n  first reasons:\n    {}",
            validate.max_reject_ratio(),
            ratio_problems.join("\n  "),
            samples.join("\n    ")
        );
    }
    let mut counts = RunCounts {
        read: accounts.iter().map(|a| a.read as i64).sum(),
        loaded: accounts.iter().map(|a| a.loaded as i64).sum(),
        duplicate: accounts.iter().map(|a| a.duplicate as i64).sum(),
        rejected: accounts.iter().map(|a| a.rejected as i64).sum(),
        details: None,
    };
    if write {
        load.merge(&mut tx, run_id, &mut accounts)
            .await
            .context("cannot merge the staged rows")?;
        counts.details = Some(serde_json::to_value(&accounts)?);
        ledger::succeed_in(&mut tx, run_id, &counts).await?;
        tx.commit().await.context("cannot commit the load")?;
    } else {
        counts.details = Some(serde_json::to_value(&accounts)?);
        tx.rollback().await.ok();
    }
    Ok((accounts, counts))
}

async fn sample_reasons(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT source_file, line_number, reason FROM staging_rejects ORDER BY dataset, line_number LIMIT 5")
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(f, l, r)| format!("{f} line {l}: {r}"))
        .collect())
}

/// Computes `stage` over `days`, one transaction per chunk of days.
pub async fn run_aggregate(db: &Db, stage: &PlannedStage, days: Days) -> Result<AggregateReport> {
    let aggregate = built(stage, |s| match s {
        Stage::Aggregate(a) => Some(a),
        _ => None,
    })?;
    let started = Instant::now();
    let range = match days {
        Days::Range(range) => Some(range),
        Days::All => {
            let mut conn = db.pool.acquire().await?;
            aggregate
                .data_days(&mut conn)
                .await
                .context("cannot read the first and last purchase day")?
        }
    };
    let Some(range) = range else {
        tracing::info!(stage = %stage.name, "no orders are loaded; nothing to compute");
        return Ok(AggregateReport {
            stage: stage.name.clone(),
            days: None,
            rows: 0,
            seconds: 0.0,
        });
    };
    let (run_date, span) = if range.start == range.end {
        (Some(range.start), None)
    } else {
        (None, Some((range.start, range.end)))
    };
    let run = ledger::open(db, stage, run_date, span).await?;
    let bar = progress_bar(range.len(), &stage.name);
    let mut rows = 0;
    let result: Result<()> = async {
        for chunk in chunks(range, aggregate.chunk_days()) {
            let mut tx = db.pool.begin().await?;
            let report = aggregate
                .compute(&mut tx, chunk, run.id, &stage.name, &stage.fingerprint)
                .await
                .with_context(|| format!("cannot compute {chunk}"))?;
            tx.commit()
                .await
                .with_context(|| format!("cannot commit {chunk}"))?;
            rows += report.rows;
            bar.inc(report.days);
            tracing::debug!(stage = %stage.name, days = %chunk, rows = report.rows, "computed");
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            run.succeed(&RunCounts {
                loaded: rows as i64,
                ..RunCounts::default()
            })
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(stage = %stage.name, days = %range, rows, seconds, "computed");
            Ok(AggregateReport {
                stage: stage.name.clone(),
                days: Some(range),
                rows,
                seconds,
            })
        }
        Err(e) => {
            run.fail(&format!("{e:#}")).await;
            Err(e)
        }
    }
}

/// Splits `range` into consecutive chunks of at most `size` days.
pub fn chunks(range: DayRange, size: u32) -> Vec<DayRange> {
    let size = i64::from(size.max(1));
    let mut out = Vec::new();
    let mut start = range.start;
    while start <= range.end {
        let end = (start + chrono::Duration::days(size - 1)).min(range.end);
        out.push(DayRange::new(start, end));
        start = end + chrono::Duration::days(1);
    }
    out
}

/// Parses `A..B` (inclusive) or a single day.
pub fn parse_range(text: &str) -> Result<DayRange, String> {
    let day = |s: &str| {
        s.trim()
            .parse::<NaiveDate>()
            .map_err(|_| format!("\"{}\" is not a date (expected YYYY-MM-DD)", s.trim()))
    };
    let range = match text.split_once("..") {
        Some((a, b)) => DayRange::new(day(a)?, day(b)?),
        None => {
            let d = day(text)?;
            DayRange::new(d, d)
        }
    };
    if range.end < range.start {
        return Err(format!("range {text} ends before it starts"));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn chunks_cover_the_range_exactly() {
        let c = chunks(DayRange::new(d("2017-01-01"), d("2017-01-10")), 4);
        assert_eq!(
            c,
            vec![
                DayRange::new(d("2017-01-01"), d("2017-01-04")),
                DayRange::new(d("2017-01-05"), d("2017-01-08")),
                DayRange::new(d("2017-01-09"), d("2017-01-10")),
            ]
        );
        assert_eq!(
            chunks(DayRange::new(d("2017-01-01"), d("2017-01-01")), 31).len(),
            1
        );
    }

    #[test]
    fn ranges_parse_inclusively() {
        assert_eq!(parse_range("2017-01-01..2017-01-31").unwrap().len(), 31);
        assert_eq!(parse_range("2017-01-05").unwrap().len(), 1);
        assert_eq!(
            parse_range("2017-02-01..2017-01-01").unwrap_err(),
            "range 2017-02-01..2017-01-01 ends before it starts"
        );
        assert_eq!(
            parse_range("2017-1-x..2017-01-01").unwrap_err(),
            "\"2017-1-x\" is not a date (expected YYYY-MM-DD)"
        );
    }
}
