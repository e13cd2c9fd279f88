//! Running a plan: the ingest chain (extract → validate → load, joined by bounded channels) in one
//! transaction, then each aggregate over the selected days, chunk by chunk.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use olist::Dataset;
use stages::core::digest::{FileDigest, digest_file};
use stages::core::loaded_files::{self, LoadedFile};
use stages::core::record::ValidatedBatch;
use stages::entities::pipeline_run::{RunKind, RunStatus};
use stages::{
    Aggregate, AggregateRun, ChunkReport, DatasetAccount, DayRange, Extract, Load, Role, Source,
    Stage, StageContext, Staleness, Validate,
};
use tokio::sync::mpsc;

use crate::db::Db;
use crate::ledger::{self, RunCounts, RunSubject};
use crate::plan::{Plan, PlannedStage};
use crate::reports::ranges_json;

/// Which days an aggregate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Days {
    /// What is not up to date: the days of the data's range never computed, and those the last run
    /// failed to compute (plain `run`; with the stale days, unless `--skip-stale`).
    Due,
    /// Every day from the first to the last purchase day in the data (`run --full-refresh`).
    All,
    /// These days.
    Range(DayRange),
}

/// What `run` is asked to do beyond the stages.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// The days asked for.
    pub days: Days,
    /// Whether to recompute the stale days too (the default; `--skip-stale` turns it off).
    pub stale: bool,
    /// Whether to read every file even when its content was loaded before (`--force-load`).
    pub force_load: bool,
}

/// What one `run` did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The ledger id of the invocation (`pipeline_runs.id`, `kind = 'run'`).
    pub run_id: i64,
    /// `succeeded` or `failed`.
    pub status: &'static str,
    /// Per-dataset accounting of the ingest, if it ran.
    pub datasets: Vec<DatasetAccount>,
    /// Whether the ingest wrote (false for a validate-only run or no ingest).
    pub loaded: bool,
    /// Per aggregate stage run.
    pub aggregates: Vec<AggregateReport>,
    /// Seconds taken.
    pub seconds: f64,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Whether it failed because the connection to the database was lost (worth retrying).
    pub connection_lost: bool,
}

/// Whether `error` comes from losing (or not getting) a connection to the database.
pub fn is_connection_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        })
    })
}

/// What one aggregate stage run did.
#[derive(Debug, Clone, Default)]
pub struct AggregateReport {
    /// The stage.
    pub stage: String,
    /// The stage run's ledger id.
    pub run_id: i64,
    /// The days asked for (`None` when no orders are loaded and none were asked, and for a plain
    /// `run`, which computes what is due).
    pub days_requested: Option<DayRange>,
    /// With a plain `run`: the days of the data's range that were never computed, or that the last
    /// run failed to compute, computed now, ascending.
    pub days_due: Vec<NaiveDate>,
    /// With a plain `run`: the first and last day of the data, all of them now computed unless
    /// some failed.
    pub data_days: Option<DayRange>,
    /// Stale days recomputed beyond those asked, ascending.
    pub days_stale: Vec<NaiveDate>,
    /// Of those, the days recomputed whole (computed with other options, or under a bulk change).
    pub days_stale_whole: usize,
    /// People whose rows were recomputed on stale days.
    pub people_refreshed: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Days that could not be computed, with why.
    pub days_failed: Vec<FailedDay>,
    /// Stale days left as they are (with `--skip-stale`), ascending.
    pub days_stale_left: Vec<NaiveDate>,
    /// Seconds taken.
    pub seconds: f64,
}

/// A day an aggregate could not compute.
#[derive(Debug, Clone)]
pub struct FailedDay {
    /// The day.
    pub day: NaiveDate,
    /// Why.
    pub error: String,
}

impl RunReport {
    /// The machine-readable run record (`run --format json`); its keys are an interface.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "status": self.status,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "loaded": self.loaded,
            "datasets": self.datasets.iter().map(|a| serde_json::json!({
                "unchanged_since_run": a.unchanged_since,
                "dataset": a.dataset,
                "file": a.file,
                "read": a.read,
                "loaded": a.loaded,
                "inserted": a.inserted,
                "updated": a.updated,
                "duplicate": a.duplicate,
                "rejected": a.rejected,
                "blank_lines": a.blank_lines,
            })).collect::<Vec<_>>(),
            "aggregates": self.aggregates.iter().map(AggregateReport::to_json).collect::<Vec<_>>(),
            "error": self.error,
        })
    }
}

impl AggregateReport {
    /// Days computed in all: those asked plus the stale ones.
    pub fn days_computed(&self) -> u64 {
        self.days_requested.map_or(0, |r| r.len())
            + self.days_due.len() as u64
            + self.days_stale.len() as u64
            - self.days_failed.len() as u64
    }

    /// Whether the run found nothing to compute.
    pub fn nothing_to_do(&self) -> bool {
        self.days_requested.is_none()
            && self.days_due.is_empty()
            && self.days_stale.is_empty()
            && self.days_failed.is_empty()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "stage": self.stage,
            "run_id": self.run_id,
            "days_requested": self.days_requested.map(|r| r.to_string()),
            "days_requested_count": self.days_requested.map_or(0, |r| r.len()),
            "days_due": ranges_json(&self.days_due),
            "days_due_count": self.days_due.len(),
            "data_days": self.data_days.map(|r| r.to_string()),
            "days_stale": ranges_json(&self.days_stale),
            "days_stale_count": self.days_stale.len(),
            "days_stale_whole": self.days_stale_whole,
            "people_refreshed": self.people_refreshed,
            "days_computed": self.days_computed(),
            "rows_written": self.rows_written,
            "days_failed": self.days_failed.iter().map(|f| serde_json::json!({"day": f.day, "error": f.error})).collect::<Vec<_>>(),
            "days_stale_left": ranges_json(&self.days_stale_left),
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
        })
    }
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

/// The fingerprint of a whole plan (every stage's), for the invocation's ledger row.
fn plan_fingerprint(plan: &Plan) -> String {
    combined_fingerprint(
        plan.stages
            .iter()
            .map(|s| (s.name.as_str(), s.fingerprint.as_str())),
    )
}

/// SHA-256 over `(label, fingerprint)` pairs, as 16 hex digits like a stage's own fingerprint.
fn combined_fingerprint<'a>(parts: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (label, fingerprint) in parts {
        hash.update(label.as_bytes());
        hash.update([0]);
        hash.update(fingerprint.as_bytes());
        hash.update([0]);
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the selected stages of `plan` (all when `selected` is empty) under one invocation row of
/// the ledger. The report is returned even when the run failed, with the error in it.
pub async fn run(db: &Db, plan: &Plan, selected: &[String], options: RunOptions) -> RunReport {
    let started = Instant::now();
    let fingerprint = plan_fingerprint(plan);
    let asked = match options.days {
        Days::Range(range) => Some(range),
        Days::All | Days::Due => None,
    };
    let mut report = RunReport {
        status: RunStatus::Failed.as_str(),
        ..RunReport::default()
    };
    let invocation = match ledger::open(
        db,
        &RunSubject {
            kind: RunKind::Run,
            name: "pipeline",
            type_name: "run",
            fingerprint: &fingerprint,
            parent: None,
            days: asked,
        },
    )
    .await
    {
        Ok(run) => run,
        Err(e) => {
            report.connection_lost = is_connection_error(&e);
            report.error = Some(format!("{e:#}"));
            return report;
        }
    };
    report.run_id = invocation.id;
    let result = run_stages(db, plan, selected, options, invocation.id, &mut report).await;
    report.seconds = started.elapsed().as_secs_f64();
    let counts = line_counts(&report.datasets);
    match result {
        Ok(()) => {
            report.status = RunStatus::Succeeded.as_str();
            let details = Some(report.to_json());
            if let Err(e) = invocation.succeed(&RunCounts { details, ..counts }).await {
                report.status = RunStatus::Failed.as_str();
                report.error = Some(format!("{e:#}"));
            }
        }
        Err(e) => {
            report.connection_lost = is_connection_error(&e);
            report.error = Some(format!("{e:#}"));
            let details = Some(report.to_json());
            invocation
                .fail(&format!("{e:#}"), &RunCounts { details, ..counts })
                .await;
        }
    }
    report
}

async fn run_stages(
    db: &Db,
    plan: &Plan,
    selected: &[String],
    options: RunOptions,
    invocation: i64,
    report: &mut RunReport,
) -> Result<()> {
    let chosen = |stage: &PlannedStage| selected.is_empty() || selected.contains(&stage.name);
    let ingest: Vec<&PlannedStage> = plan
        .stages
        .iter()
        .filter(|s| s.config.role() != Role::Aggregate)
        .collect();
    if ingest.iter().any(|s| chosen(s)) {
        let write = plan.with_role(Role::Load).any(chosen);
        let (accounts, loaded) =
            run_ingest(db, plan, write, options.force_load, invocation).await?;
        report.datasets = accounts;
        report.loaded = loaded;
    }
    for stage in plan.with_role(Role::Aggregate).filter(|s| chosen(s)) {
        let (aggregate, error) =
            run_aggregate(db, &plan.context(), stage, options, invocation).await;
        report.aggregates.push(aggregate);
        if let Some(error) = error {
            return Err(error);
        }
    }
    Ok(())
}

/// Extracts, validates and (when `write`) loads every dataset in one transaction.
async fn run_ingest(
    db: &Db,
    plan: &Plan,
    write: bool,
    force_load: bool,
    invocation: i64,
) -> Result<(Vec<DatasetAccount>, bool)> {
    let extract_stage = plan
        .with_role(Role::Extract)
        .next()
        .context("no extract stage is declared")?;
    let validate_stage = plan
        .with_role(Role::Validate)
        .next()
        .context("no validate stage is declared")?;
    let load_stage = plan
        .with_role(Role::Load)
        .next()
        .context("no load stage is declared")?;
    check_data_dir(&plan.data_dir)?;
    let ctx = plan.context();
    let (Stage::Extract(extract), Stage::Validate(validate), Stage::Load(load)) = (
        extract_stage.build(&ctx)?,
        validate_stage.build(&ctx)?,
        load_stage.build(&ctx)?,
    ) else {
        bail!("the ingest stages did not build in their roles");
    };
    let extract: Arc<dyn Extract> = Arc::from(extract);
    let validate: Arc<dyn Validate> = Arc::from(validate);

    // Every file is found and its header checked before anything is written.
    let mut sources = Vec::new();
    for dataset in Dataset::LOAD_ORDER {
        sources.push(extract.open(dataset).await?);
    }
    // Whether a file may be skipped is decided later, under the load lock (see `Skip`).
    let skip = Skip {
        rules: ingest_fingerprint(plan),
        run_time: ctx.run_time,
        allowed: write && !force_load,
    };

    let ledger_stage = if write { load_stage } else { validate_stage };
    let run = ledger::open(
        db,
        &RunSubject {
            kind: RunKind::Stage,
            name: &ledger_stage.name,
            type_name: &ledger_stage.type_name,
            fingerprint: &ledger_stage.fingerprint,
            parent: Some(invocation),
            days: None,
        },
    )
    .await?;
    let result = ingest_in_transaction(
        db,
        &sources,
        &skip,
        (extract, validate, load.as_ref()),
        (run.id, &load_stage.name),
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
            run.fail(
                &format!("{e:#}; nothing of it was written"),
                &RunCounts::default(),
            )
            .await;
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

/// The fingerprint of every option that decides what a file loads as: the extract, validate and
/// load stages'.
fn ingest_fingerprint(plan: &Plan) -> String {
    combined_fingerprint(
        plan.stages
            .iter()
            .filter(|s| s.config.role() != Role::Aggregate)
            .map(|s| (s.type_name.as_str(), s.fingerprint.as_str())),
    )
}

/// The ledger's line counts of an ingest: its files' accounts summed, without details.
fn line_counts(accounts: &[DatasetAccount]) -> RunCounts {
    RunCounts {
        read: accounts.iter().map(|a| a.read as i64).sum(),
        loaded: accounts.iter().map(|a| a.loaded as i64).sum(),
        duplicate: accounts.iter().map(|a| a.duplicate as i64).sum(),
        rejected: accounts.iter().map(|a| a.rejected as i64).sum(),
        details: None,
    }
}

/// The accounting shown for a file not read again: that of the load that read it.
fn unchanged_account(source: &Source, prior: &LoadedFile) -> DatasetAccount {
    tracing::info!(
        file = %source.file_name,
        since_run = prior.run_id,
        "unchanged since it was loaded; not read again"
    );
    DatasetAccount {
        inserted: 0,
        updated: 0,
        file: source.file_name.clone(),
        unchanged_since: Some(prior.run_id),
        ..prior.account.clone()
    }
}

/// Per source: what its table holds when that is what loading it would give, and the digest taken
/// to decide, if one was.
type Decision = (Option<LoadedFile>, Option<FileDigest>);

/// What decides whether a file may be skipped: the ingest options and the run time it would be
/// checked against, and whether skipping is allowed at all (not with `--force-load` nor in a dry run).
#[derive(Clone)]
struct Skip {
    rules: String,
    run_time: chrono::NaiveDateTime,
    allowed: bool,
}

impl Skip {
    /// [`Skip::unchanged`] for every source, the files hashed at the same time.
    async fn decide(&self, sources: &[Source], loaded: Vec<LoadedFile>) -> Result<Vec<Decision>> {
        let loaded = Arc::new(loaded);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, source) in sources.iter().enumerate() {
            let (skip, source, loaded) = (self.clone(), source.clone(), loaded.clone());
            tasks.spawn(async move { (index, skip.unchanged(&source, &loaded).await) });
        }
        let mut decisions: Vec<Option<Decision>> = vec![None; sources.len()];
        while let Some(done) = tasks.join_next().await {
            let (index, decision) = done.context("a file's hashing task panicked")?;
            decisions[index] = Some(decision?);
        }
        Ok(decisions.into_iter().flatten().collect())
    }

    /// What `source`'s table holds, when that is exactly what loading the file as it is now would
    /// give (see `stages::core::loaded_files`), else `None`; with the digest taken to decide, if one was.
    /// Run it under the load lock, so that the record read is the latest committed one and no
    /// other load can change the table before this one commits.
    async fn unchanged(
        &self,
        source: &Source,
        loaded: &[LoadedFile],
    ) -> Result<(Option<LoadedFile>, Option<FileDigest>)> {
        let Some(prior) = loaded.iter().find(|l| l.dataset == source.dataset) else {
            return Ok((None, None));
        };
        let cannot_read = || format!("{}: cannot read", source.path.display());
        let bytes = tokio::fs::metadata(&source.path)
            .await
            .with_context(cannot_read)?
            .len();
        if !prior.may_hold(bytes, &self.rules, self.run_time) {
            return Ok((None, None));
        }
        let started = Instant::now();
        let digest = digest_file(&source.path).await.with_context(cannot_read)?;
        tracing::debug!(file = %source.file_name, seconds = started.elapsed().as_secs_f64(), "hashed");
        let held = prior.holds(&digest, &self.rules, self.run_time);
        Ok((held.then(|| prior.clone()), Some(digest)))
    }
}

/// Streams one file through validation into the load's staging and applies the set rules:
/// its accounting, and the digest of the bytes actually read.
async fn ingest_file(
    tx: &mut sqlx::PgConnection,
    source: &Source,
    (extract, validate, load): (&Arc<dyn Extract>, &Arc<dyn Validate>, &dyn Load),
) -> Result<(DatasetAccount, FileDigest)> {
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
        tokio::spawn(async move {
            while let Some(batch) = record_rx.recv().await {
                let checked = validate.check_batch(&source, batch);
                if valid_tx.send(checked).await.is_err() {
                    break;
                }
            }
        })
    };
    let bar = progress_bar(0, &source.file_name);
    let staged = load
        .stage(tx, source, &mut valid_rx, &|lines| bar.inc(lines))
        .await;
    drop(valid_rx);
    bar.finish_and_clear();
    let counts = reader.await.context("the extract task panicked")?;
    checker.await.context("the validate task panicked")?;
    staged.with_context(|| format!("cannot stage {}", source.file_name))?;
    let counts = counts?;
    let staged_at = started.elapsed().as_secs_f64();
    let mut account = load.settle(tx, source.dataset).await.with_context(|| {
        format!(
            "cannot apply the key and reference rules to {}",
            source.file_name
        )
    })?;
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
    Ok((account, counts.digest))
}

async fn ingest_in_transaction(
    db: &Db,
    sources: &[Source],
    skip: &Skip,
    (extract, validate, load): (Arc<dyn Extract>, Arc<dyn Validate>, &dyn Load),
    (run_id, load_name): (i64, &str),
    write: bool,
) -> Result<(Vec<DatasetAccount>, RunCounts)> {
    let mut tx = db
        .pool
        .begin()
        .await
        .context("cannot begin the load transaction")?;
    // From here on, no other load commits until this transaction ends.
    load.lock(&mut tx)
        .await
        .context("cannot take the load lock")?;
    let loaded = if skip.allowed {
        loaded_files::read_all(&mut tx)
            .await
            .context("cannot read which files the tables hold")?
    } else {
        Vec::new()
    };
    let decisions = skip.decide(sources, loaded).await?;
    if write && decisions.iter().all(|(unchanged, _)| unchanged.is_some()) {
        // Every table holds its file: nothing to stage or merge, and nothing is written to the
        // tables (their records in loaded_files stay as they are).
        let accounts: Vec<DatasetAccount> = sources
            .iter()
            .zip(&decisions)
            .filter_map(|(source, (unchanged, _))| {
                unchanged
                    .as_ref()
                    .map(|prior| unchanged_account(source, prior))
            })
            .collect();
        let counts = RunCounts {
            details: Some(serde_json::to_value(&accounts)?),
            ..line_counts(&accounts)
        };
        ledger::succeed_in(&mut tx, run_id, &counts).await?;
        tx.commit().await.context("cannot commit the load")?;
        return Ok((accounts, counts));
    }
    load.prepare(&mut tx, sources)
        .await
        .context("cannot create the staging tables")?;
    let mut accounts = Vec::new();
    let mut holds = Vec::new();
    for (source, (unchanged, seen)) in sources.iter().zip(decisions) {
        if let Some(prior) = unchanged {
            accounts.push(unchanged_account(source, &prior));
            holds.push(prior);
            continue;
        }
        let (mut account, digest) =
            ingest_file(&mut tx, source, (&extract, &validate, load)).await?;
        account.blake3 = Some(digest.blake3.clone());
        account.rules = Some(skip.rules.clone());
        // The file was hashed to decide, then read: both must be of the same bytes.
        if let Some(seen) = seen
            && seen != digest
        {
            bail!(
                "{}: the file changed while this run read it ({} bytes when hashed, {} read); nothing was written; run again once the export is complete",
                source.file_name,
                seen.bytes,
                digest.bytes
            );
        }
        holds.push(LoadedFile {
            dataset: source.dataset,
            run_id,
            stage_name: load_name.to_owned(),
            digest,
            rules: skip.rules.clone(),
            checked_at: skip.run_time,
            account: account.clone(),
        });
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
    let mut counts = line_counts(&accounts);
    if write {
        load.merge(&mut tx, run_id, &mut accounts)
            .await
            .context("cannot merge the staged rows")?;
        // What each table now holds, recorded after the merge (whose writes clear the records) and
        // before the commit. Without `skip` (`--force-load`) the records are written all the same,
        // with the options of this run, so that the next run may skip.
        for mut held in holds {
            if held.run_id == run_id
                && let Some(account) = accounts.iter().find(|a| a.dataset == held.account.dataset)
            {
                held.account = DatasetAccount {
                    unchanged_since: None,
                    ..account.clone()
                };
            }
            loaded_files::record(&mut tx, &held)
                .await
                .context("cannot record which files the tables hold")?;
        }
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

/// Whether a failed computation is the data's fault (a value out of range, a division by zero, a
/// limit exceeded), so that its days are tried one by one, rather than the connection's or the server's.
fn is_data_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
        _ => false,
    }
}

/// Computes `days` whole in one transaction.
async fn compute_days(
    db: &Db,
    aggregate: &dyn Aggregate,
    days: DayRange,
    run: &AggregateRun<'_>,
) -> Result<ChunkReport, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let report = aggregate.compute(&mut tx, days, run).await?;
    tx.commit().await?;
    Ok(report)
}

/// The first and last purchase day in the data.
async fn data_days_of(db: &Db, aggregate: &dyn Aggregate) -> Result<Option<DayRange>> {
    let mut conn = db.pool.acquire().await?;
    aggregate
        .data_days(&mut conn)
        .await
        .context("cannot read the first and last purchase day")
}

/// The days a run of `stage` computes whole: those asked (`--date`, `--range`, or every day of the
/// data with `--full-refresh`), or, for a plain run, the days due (the data's days never computed,
/// and those the last run failed to compute, ascending); and the stale days.
async fn choose_days(
    db: &Db,
    aggregate: &dyn Aggregate,
    stage: &PlannedStage,
    options: RunOptions,
) -> Result<(Option<DayRange>, Vec<NaiveDate>, Staleness, bool)> {
    // Read before the connection below is taken: a run holds few (`database.max_connections`).
    let failed = match options.days {
        Days::Due => ledger::failed_days(db, &stage.name).await?,
        _ => None,
    };
    let mut conn = db.pool.acquire().await?;
    let data_days = match options.days {
        Days::Range(_) => None,
        Days::All | Days::Due => aggregate
            .data_days(&mut conn)
            .await
            .context("cannot read the first and last purchase day")?,
    };
    let (asked, due) = match options.days {
        Days::Range(range) => (Some(range), Vec::new()),
        Days::All => (data_days, Vec::new()),
        Days::Due => {
            let mut due = Vec::new();
            if let Some(data) = data_days {
                let computed: std::collections::BTreeSet<NaiveDate> =
                    stages::core::freshness::computed_days(&mut conn, &stage.name)
                        .await
                        .context("cannot read the computed days")?
                        .into_iter()
                        .collect();
                due.extend(
                    data.start
                        .iter_days()
                        .take(data.len() as usize)
                        .filter(|d| !computed.contains(d)),
                );
            }
            if let Some((failed, _)) = failed {
                due.extend(failed);
            }
            due.sort_unstable();
            due.dedup();
            (None, due)
        }
    };
    // A run that refreshes the partial days anyway learns them from the refresh; finding them
    // here would cost as much again. Whether there is anything to refresh at all is cheap to know.
    let (stale, pending) = if options.stale {
        let whole = aggregate
            .whole_stale(&mut conn, &stage.name, &stage.fingerprint)
            .await
            .context("cannot find the stale days")?;
        let pending = stages::core::freshness::changes_pending(&mut conn, &stage.name)
            .await
            .context("cannot find the pending changes")?;
        (
            Staleness {
                whole,
                partial: Vec::new(),
            },
            pending,
        )
    } else {
        let stale = aggregate
            .stale(&mut conn, &stage.name, &stage.fingerprint)
            .await
            .context("cannot find the stale days")?;
        (stale, false)
    };
    Ok((asked, due, stale, pending))
}

/// Computes `stage`: the days asked, then (unless `options.stale` is off) every stale day: days
/// computed with other options or under a bulk change are recomputed whole, chunk by chunk; then the
/// rows of the people a load changed are recomputed on every computed day, in one transaction. A
/// chunk that fails on its data is retried day by day, so one bad day fails alone and names itself.
/// Returns the report, and the error that failed the stage run, if any.
pub async fn run_aggregate(
    db: &Db,
    ctx: &StageContext,
    stage: &PlannedStage,
    options: RunOptions,
    invocation: i64,
) -> (AggregateReport, Option<anyhow::Error>) {
    let mut report = AggregateReport {
        stage: stage.name.clone(),
        ..AggregateReport::default()
    };
    let started = Instant::now();
    let aggregate = match stage.build(ctx) {
        Ok(Stage::Aggregate(a)) => a,
        Ok(_) => {
            return (
                report,
                Some(anyhow!("stage \"{}\" is not an aggregate", stage.name)),
            );
        }
        Err(e) => return (report, Some(e)),
    };
    // Which days: those asked (or, for a plain run, those due), and the stale ones.
    let plan = choose_days(db, aggregate.as_ref(), stage, options).await;
    let (asked, due, stale, pending) = match plan {
        Ok(p) => p,
        Err(e) => return (report, Some(e)),
    };
    report.days_requested = asked;
    report.days_due.clone_from(&due);
    let in_asked = |d: &NaiveDate| {
        asked.is_some_and(|r| r.start <= *d && *d <= r.end) || due.binary_search(d).is_ok()
    };
    if !options.stale {
        report.days_stale_left = stale.days().into_iter().filter(|d| !in_asked(d)).collect();
    }
    let nothing_stale = stale.days().is_empty() && !pending;
    if asked.is_none() && due.is_empty() && (!options.stale || nothing_stale) {
        tracing::info!(stage = %stage.name, "every day is computed and none is stale; nothing to compute");
        report.data_days = data_days_of(db, aggregate.as_ref()).await.ok().flatten();
        return (report, None);
    }
    let run = match ledger::open(
        db,
        &RunSubject {
            kind: RunKind::Stage,
            name: &stage.name,
            type_name: &stage.type_name,
            fingerprint: &stage.fingerprint,
            parent: Some(invocation),
            days: asked,
        },
    )
    .await
    {
        Ok(run) => run,
        Err(e) => return (report, Some(e)),
    };
    report.run_id = run.id;
    let context = AggregateRun {
        run_id: run.id,
        stage_name: &stage.name,
        fingerprint: &stage.fingerprint,
    };

    // The days computed whole: those asked or due, and (unless skipped) the whole-day stale ones.
    let mut whole: Vec<NaiveDate> = asked
        .map(|r| r.start.iter_days().take(r.len() as usize).collect())
        .unwrap_or_default();
    whole.extend(&due);
    let whole_stale: Vec<NaiveDate> = if options.stale {
        stale
            .whole
            .iter()
            .copied()
            .filter(|d| !in_asked(d))
            .collect()
    } else {
        Vec::new()
    };
    whole.extend(&whole_stale);
    whole.sort_unstable();
    whole.dedup();
    let bar = progress_bar(whole.len() as u64, &stage.name);
    let result: Result<()> = async {
        for range in stages::core::freshness::consecutive_runs(&whole) {
            for chunk in chunks(range, aggregate.chunk_days()) {
                match compute_days(db, aggregate.as_ref(), chunk, &context).await {
                    Ok(done) => {
                        report.rows_written += done.rows;
                        bar.inc(done.days);
                        tracing::debug!(stage = %stage.name, days = %chunk, rows = done.rows, "computed");
                    }
                    Err(e) if is_data_error(&e) => {
                        // One bad day must not sink its chunk: try the days one by one.
                        for day in chunk.start.iter_days().take(chunk.len() as usize) {
                            let one = DayRange::new(day, day);
                            match compute_days(db, aggregate.as_ref(), one, &context).await {
                                Ok(done) => report.rows_written += done.rows,
                                Err(e) if is_data_error(&e) => {
                                    tracing::error!(stage = %stage.name, %day, error = %e, "cannot compute the day");
                                    report.days_failed.push(FailedDay {
                                        day,
                                        error: e.to_string(),
                                    });
                                }
                                Err(e) => {
                                    return Err(anyhow::Error::new(e)
                                        .context(format!("cannot compute {day}")));
                                }
                            }
                            bar.inc(1);
                        }
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!("cannot compute {chunk}")));
                    }
                }
            }
        }
        if options.stale {
            let mut tx = db.pool.begin().await?;
            let refreshed = aggregate
                .refresh(&mut tx, &context)
                .await
                .context("cannot recompute the stale days")?;
            tx.commit()
                .await
                .context("cannot commit the stale days")?;
            report.rows_written += refreshed.rows;
            report.people_refreshed = refreshed.people;
            let mut stale_days = whole_stale.clone();
            stale_days.extend(refreshed.days.iter().filter(|d| !in_asked(d)));
            stale_days.sort_unstable();
            stale_days.dedup();
            report.days_stale = stale_days;
            report.days_stale_whole = whole_stale.len();
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    report.seconds = started.elapsed().as_secs_f64();
    let result = result.and_then(|()| {
        if report.days_failed.is_empty() {
            Ok(())
        } else {
            let days: Vec<String> = report
                .days_failed
                .iter()
                .map(|f| format!("{}: {}", f.day, f.error))
                .collect();
            Err(anyhow::anyhow!(
                "{} day(s) could not be computed; the other days were:\n  {}",
                report.days_failed.len(),
                days.join("\n  ")
            ))
        }
    });
    let counts = RunCounts {
        loaded: report.rows_written as i64,
        details: Some(serde_json::json!({
            "days_requested": report.days_requested.map(|r| r.to_string()),
            "days_stale": ranges_json(&report.days_stale),
            "people_refreshed": report.people_refreshed,
            "failed_days": report.days_failed.iter().map(|f| f.day).collect::<Vec<_>>(),
        })),
        ..RunCounts::default()
    };
    match result {
        Ok(()) => {
            tracing::info!(
                stage = %stage.name,
                days = %asked.map_or_else(|| "-".into(), |r| r.to_string()),
                stale_days = report.days_stale.len(),
                people_refreshed = report.people_refreshed,
                rows = report.rows_written,
                seconds = report.seconds,
                "computed"
            );
            match run.succeed(&counts).await {
                Ok(()) => (report, None),
                Err(e) => (report, Some(e)),
            }
        }
        Err(e) => {
            run.fail(&format!("{e:#}"), &counts).await;
            (report, Some(e))
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
    let range = if let Some((a, b)) = text.split_once("..") {
        DayRange::new(day(a)?, day(b)?)
    } else {
        let d = day(text)?;
        DayRange::new(d, d)
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
