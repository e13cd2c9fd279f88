//! Reading the files into the load's staging: each file not known to be unchanged is streamed
//! through extract → validate → `Load::stage` (bounded channels between them), its key and
//! reference rules applied; then the share of rejected lines of each file is checked.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use stages::core::digest::FileDigest;
use stages::core::loaded_files::LoadedFile;
use stages::core::record::ValidatedBatch;
use stages::{DatasetAccount, Source};
use tokio::sync::mpsc;

use super::Chain;
use super::skip::{Decision, Skip, unchanged_account};
use crate::runner::progress_bar;

stages::statements! {
    /// This module's statements, in `pipeline/sql/ingest.sql`.
    static SQL: Statements = "ingest.sql" {
        first_rejects,
    }
}

/// Stages every source not unchanged (see [`Decision`]): the accounts of all of them, in order, and
/// what each table will hold once merged (for `loaded_files`). Fails when a file changed between
/// the hashing that decided and the reading.
pub(super) async fn stage_files(
    tx: &mut sqlx::PgConnection,
    sources: &[Source],
    decisions: Vec<Decision>,
    skip: &Skip,
    chain: &Chain,
    (run_id, load_name): (i64, &str),
) -> Result<(Vec<DatasetAccount>, Vec<LoadedFile>)> {
    let mut accounts = Vec::new();
    let mut holds = Vec::new();
    for (source, (unchanged, seen)) in sources.iter().zip(decisions) {
        if let Some(prior) = unchanged {
            let mut account = unchanged_account(source, &prior);
            chain
                .load
                .settle_unread(tx, source.dataset, &mut account)
                .await
                .with_context(|| format!("cannot settle {}", source.file_name))?;
            accounts.push(account);
            holds.push(prior);
            continue;
        }
        let (mut account, digest) = ingest_file(tx, source, chain).await?;
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
    Ok((accounts, holds))
}

/// Streams one file through validation into the load's staging and applies the set rules:
/// its accounting, and the digest of the bytes actually read.
async fn ingest_file(
    tx: &mut sqlx::PgConnection,
    source: &Source,
    chain: &Chain,
) -> Result<(DatasetAccount, FileDigest)> {
    let load = chain.load.as_ref();
    let started = Instant::now();
    let (record_tx, mut record_rx) = mpsc::channel(4);
    let (valid_tx, mut valid_rx) = mpsc::channel::<ValidatedBatch>(4);
    let reader = {
        let extract = chain.extract.clone();
        let source = source.clone();
        tokio::spawn(async move { extract.stream(&source, record_tx).await })
    };
    let checker = {
        let validate = chain.validate.clone();
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
    if account.loaded + account.duplicate + account.rejected + account.erased != account.read {
        bail!(
            "{}: accounting does not add up: {} read but {} loaded + {} duplicate + {} rejected + {} erased; nothing was written",
            source.file_name,
            account.read,
            account.loaded,
            account.duplicate,
            account.rejected,
            account.erased
        );
    }
    tracing::info!(
        file = %source.file_name,
        read = account.read,
        accepted = account.loaded,
        duplicate = account.duplicate,
        rejected = account.rejected,
        erased = account.erased,
        staged_seconds = staged_at,
        seconds = started.elapsed().as_secs_f64(),
        "validated"
    );
    Ok((account, counts.digest))
}

/// Fails when a file has a larger share of rejected lines than `max_reject_ratio` (the usual cause
/// is the wrong file), naming the files and the first reasons.
pub(super) async fn check_reject_ratio(
    tx: &mut sqlx::PgConnection,
    accounts: &[DatasetAccount],
    max_reject_ratio: f64,
) -> Result<()> {
    let ratio_problems: Vec<String> = accounts
        .iter()
        .filter(|a| a.read > 0 && a.rejected as f64 / a.read as f64 > max_reject_ratio)
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
        let samples = sample_reasons(tx).await.unwrap_or_default();
        bail!(
            "too many rejected lines, above max_reject_ratio {}; nothing was written (is the data directory right?)\n  {}\n  first reasons:\n    {}",
            max_reject_ratio,
            ratio_problems.join("\n  "),
            samples.join("\n    ")
        );
    }
    Ok(())
}

/// Fails when a load would delete a larger share of a table's rows than `max_delete_ratio` (the
/// usual cause is a truncated export), naming the file, the table and the count. `None`: no guard
/// applies (loads that never delete, or `--allow-deletes`).
pub(super) fn check_delete_ratio(
    accounts: &[DatasetAccount],
    max_delete_ratio: Option<f64>,
) -> Result<()> {
    let Some(ratio) = max_delete_ratio else {
        return Ok(());
    };
    let refused: Vec<String> = accounts
        .iter()
        .filter_map(|a| {
            let rows = a.table_rows?;
            (a.deleted as f64 > ratio * rows as f64).then(|| {
                format!(
                    "{}: would delete {} of the {} rows of {} ({:.1}%)",
                    a.file,
                    a.deleted,
                    rows,
                    a.dataset,
                    100.0 * a.deleted as f64 / rows.max(1) as f64
                )
            })
        })
        .collect();
    if !refused.is_empty() {
        bail!(
            "too many deletes, above max_delete_ratio {ratio}; nothing was written (is an export truncated?)\n  {}\n  once the files are checked, run again with --allow-deletes",
            refused.join("\n  ")
        );
    }
    Ok(())
}

async fn sample_reasons(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as(SQL.first_rejects).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(f, l, r)| format!("{f} line {l}: {r}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(file: &str, deleted: u64, table_rows: Option<u64>) -> DatasetAccount {
        DatasetAccount {
            dataset: "orders".to_owned(),
            file: file.to_owned(),
            deleted,
            table_rows,
            ..DatasetAccount::default()
        }
    }

    #[test]
    fn the_delete_guard_refuses_past_its_ratio_and_names_file_table_and_count() {
        // At the ratio passes, past it refuses.
        assert!(check_delete_ratio(&[account("o.csv", 5, Some(100))], Some(0.05)).is_ok());
        let refused = check_delete_ratio(
            &[
                account("c.csv", 1, Some(100)),
                account("o.csv", 6, Some(100)),
            ],
            Some(0.05),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("o.csv: would delete 6 of the 100 rows of orders (6.0%)"),
            "{refused}"
        );
        assert!(!refused.contains("c.csv"), "{refused}");
        assert!(refused.contains("--allow-deletes"), "{refused}");
        // No guard (never deleting, or allowed), or nothing deleted: nothing to refuse.
        assert!(check_delete_ratio(&[account("o.csv", 60, Some(100))], None).is_ok());
        assert!(check_delete_ratio(&[account("o.csv", 0, None)], Some(0.0)).is_ok());
        // A ratio of 0 refuses any delete.
        assert!(check_delete_ratio(&[account("o.csv", 1, Some(1_000_000))], Some(0.0)).is_err());
    }
}
