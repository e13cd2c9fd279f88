//! The ingest: every file extracted, validated and loaded in one transaction, under the load lock.
//! Its steps, in order: decide which files are unchanged ([`skip`]), stream the others through
//! validation into the load's staging and check the share of rejected lines ([`files`]), then merge
//! and record what the tables hold ([`merge`]).

mod files;
mod merge;
mod skip;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use olist::Dataset;
use stages::entities::pipeline_run::RunKind;
use stages::{DatasetAccount, Extract, Load, Role, Source, Stage, Validate};

use super::combined_fingerprint;
use crate::db::Db;
use crate::ledger::{self, RunCounts, RunSubject};
use crate::plan::Plan;
use skip::Skip;

/// The three ingest stages of a run, built.
struct Chain {
    extract: Arc<dyn Extract>,
    validate: Arc<dyn Validate>,
    load: Box<dyn Load>,
}

/// Extracts, validates and (when `write`) loads every dataset in one transaction.
pub(super) async fn run(
    db: &Db,
    plan: &Plan,
    write: bool,
    (force_load, allow_deletes): (bool, bool),
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
    let ctx = stages::StageContext {
        allow_deletes,
        ..plan.context()
    };
    let (Stage::Extract(extract), Stage::Validate(validate), Stage::Load(load)) = (
        extract_stage.build(&ctx)?,
        validate_stage.build(&ctx)?,
        load_stage.build(&ctx)?,
    ) else {
        bail!("the ingest stages did not build in their roles");
    };
    let chain = Chain {
        extract: Arc::from(extract),
        validate: Arc::from(validate),
        load,
    };

    // Every file is found and its header checked before anything is written.
    let mut sources = Vec::new();
    for dataset in Dataset::LOAD_ORDER {
        sources.push(chain.extract.open(dataset).await?);
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
    let result = in_transaction(
        db,
        &sources,
        &skip,
        &chain,
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
            .filter(|s| s.role != Role::Aggregate)
            .map(|s| (s.type_name.as_str(), s.fingerprint.as_str())),
    )
}

/// The ledger's line counts of an ingest: its files' accounts summed, without details.
pub(super) fn line_counts(accounts: &[DatasetAccount]) -> RunCounts {
    RunCounts {
        read: accounts.iter().map(|a| a.read as i64).sum(),
        loaded: accounts.iter().map(|a| a.loaded as i64).sum(),
        duplicate: accounts.iter().map(|a| a.duplicate as i64).sum(),
        rejected: accounts.iter().map(|a| a.rejected as i64).sum(),
        details: None,
    }
}

/// The ingest's transaction: under the load lock, the unchanged files are found, the others read
/// into the staging, and (when `write`) merged and recorded with the ledger row `run_id` closed, all
/// committed together; without `write` (a dry run) everything is rolled back.
async fn in_transaction(
    db: &Db,
    sources: &[Source],
    skip: &Skip,
    chain: &Chain,
    (run_id, load_name): (i64, &str),
    write: bool,
) -> Result<(Vec<DatasetAccount>, RunCounts)> {
    let mut tx = db
        .pool
        .begin()
        .await
        .context("cannot begin the load transaction")?;
    // From here on, no other load commits until this transaction ends.
    chain
        .load
        .lock(&mut tx)
        .await
        .context("cannot take the load lock")?;
    let decisions = skip.decide_under_lock(&mut tx, sources).await?;
    if write && decisions.iter().all(|(unchanged, _)| unchanged.is_some()) {
        return merge::commit_unchanged(tx, sources, &decisions, run_id).await;
    }
    chain
        .load
        .prepare(&mut tx, sources)
        .await
        .context("cannot create the staging tables")?;
    let (mut accounts, holds) = files::stage_files(
        &mut tx,
        sources,
        decisions,
        skip,
        chain,
        (run_id, load_name),
    )
    .await?;
    // Deletes first: a truncated parent file also makes its children's lines refer to nothing.
    files::check_delete_ratio(&accounts, chain.load.max_delete_ratio())?;
    files::check_reject_ratio(&mut tx, &accounts, chain.validate.max_reject_ratio()).await?;
    let mut counts = line_counts(&accounts);
    if write {
        merge::merge_and_commit(
            tx,
            chain.load.as_ref(),
            run_id,
            &mut accounts,
            holds,
            &mut counts,
        )
        .await?;
    } else {
        counts.details = Some(serde_json::to_value(&accounts)?);
        tx.rollback().await.ok();
    }
    Ok((accounts, counts))
}
