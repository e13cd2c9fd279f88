//! Which files need not be read again: those whose content their table is known to hold (see
//! `stages::core::loaded_files`: same size and BLAKE3 hash as the bytes the latest load into that table
//! read, same options, nothing written to the table since). Decided under the load lock; a file is
//! hashed only when its size and options could match.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use stages::DatasetAccount;
use stages::Source;
use stages::core::digest::{FileDigest, digest_file};
use stages::core::loaded_files::{self, LoadedFile};

/// The accounting shown for a file not read again: that of the load that read it.
pub(super) fn unchanged_account(source: &Source, prior: &LoadedFile) -> DatasetAccount {
    tracing::info!(
        file = %source.file_name,
        since_run = prior.run_id,
        "unchanged since it was loaded; not read again"
    );
    DatasetAccount {
        inserted: 0,
        updated: 0,
        deleted: 0,
        table_rows: None,
        file: source.file_name.clone(),
        unchanged_since: Some(prior.run_id),
        ..prior.account.clone()
    }
}

/// Per source: what its table holds when that is what loading it would give, and the digest taken
/// to decide, if one was.
pub(super) type Decision = (Option<LoadedFile>, Option<FileDigest>);

/// What decides whether a file may be skipped: the ingest options and the run time it would be
/// checked against, and whether skipping is allowed at all (not with `--force-load` nor in a dry run).
#[derive(Clone)]
pub(super) struct Skip {
    /// The fingerprint of the ingest's options.
    pub rules: String,
    /// The run time the lines are checked against.
    pub run_time: chrono::NaiveDateTime,
    /// Whether a file may be skipped at all.
    pub allowed: bool,
}

impl Skip {
    /// Reads what the tables hold (when skipping is allowed), then decides for every source.
    /// Run it under the load lock, so that the records read are the latest committed ones and no
    /// other load can change a table before this one commits.
    pub(super) async fn decide_under_lock(
        &self,
        tx: &mut sqlx::PgConnection,
        sources: &[Source],
    ) -> Result<Vec<Decision>> {
        let loaded = if self.allowed {
            loaded_files::read_all(tx)
                .await
                .context("cannot read which files the tables hold")?
        } else {
            Vec::new()
        };
        self.decide(sources, loaded).await
    }

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
