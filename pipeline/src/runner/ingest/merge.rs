//! The end of the ingest's transaction: the staged rows merged into the tables, what each table now
//! holds recorded in `loaded_files`, and the load's ledger row closed, all in one commit.

use anyhow::{Context, Result};
use sqlx::{Postgres, Transaction};
use stages::core::loaded_files::{self, LoadedFile};
use stages::{DatasetAccount, Load, Source};

use super::line_counts;
use super::skip::{Decision, unchanged_account};
use crate::ledger::{self, RunCounts};

/// When every table holds its file: nothing to stage or merge, and nothing is written to the
/// tables (their records in `loaded_files` stay as they are); the ledger row `run_id` is closed
/// with the accounts of the loads that read the files.
pub(super) async fn commit_unchanged(
    mut tx: Transaction<'_, Postgres>,
    sources: &[Source],
    decisions: &[Decision],
    run_id: i64,
) -> Result<(Vec<DatasetAccount>, RunCounts)> {
    let accounts: Vec<DatasetAccount> = sources
        .iter()
        .zip(decisions)
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
    Ok((accounts, counts))
}

/// Merges the staged rows (filling `inserted` and `updated` into `accounts`), records what each
/// table now holds (`holds`), closes the ledger row `run_id` with `counts` and the accounts, and
/// commits.
pub(super) async fn merge_and_commit(
    mut tx: Transaction<'_, Postgres>,
    load: &dyn Load,
    run_id: i64,
    accounts: &mut [DatasetAccount],
    holds: Vec<LoadedFile>,
    counts: &mut RunCounts,
) -> Result<()> {
    load.merge(&mut tx, run_id, accounts)
        .await
        .context("cannot merge the staged rows")?;
    // What each table now holds, recorded after the merge (whose writes clear the records) and
    // before the commit. Without `skip` (`--force-load`) the records are written all the same,
    // with the options of this run, so that the next run may skip.
    for mut held in holds {
        // A table whose file was not read but lost rows to a delete elsewhere (rows that referred
        // to a deleted row) no longer holds that file: its record stays cleared, so the next run
        // reads the file again.
        if held.run_id != run_id
            && accounts
                .iter()
                .any(|a| a.dataset == held.account.dataset && a.deleted > 0)
        {
            continue;
        }
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
    counts.details = Some(serde_json::to_value(&*accounts)?);
    ledger::succeed_in(&mut tx, run_id, counts).await?;
    tx.commit().await.context("cannot commit the load")?;
    Ok(())
}
