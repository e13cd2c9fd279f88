//! What each shop table holds: the file a load last read into it (`loaded_files`, one row per
//! table), so that a later load may skip a file whose content the table is known to hold.
//!
//! The rule, which [`LoadedFile::holds`] states and the runner applies while holding the load lock:
//! a file is not read again only when the latest committed load into its table read bytes of the
//! same size and BLAKE3 hash, under the same ingest options, with no line rejected, checked against a
//! run time no later than now (validation only grows more lenient as the run time moves on), and no
//! write to the table came after that load. The last point needs no check here: every statement that
//! writes a shop table, the load's own included, deletes the table's row through a trigger
//! (migration `m20261206_000008`), and only a load that read the file records it again, after its
//! merge, in its own transaction. A skipped file's row is written back as it was.

use chrono::NaiveDateTime;
use olist::Dataset;
use sqlx::{PgConnection, Row};

use crate::core::digest::FileDigest;
use crate::core::roles::DatasetAccount;
use crate::core::sql_file;

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/loaded_files.sql" {
        read_all,
        record,
    }
}

/// The file a table holds, as the load that read it recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedFile {
    /// The table's dataset.
    pub dataset: Dataset,
    /// The load run that read it (its `pipeline_runs.id`).
    pub run_id: i64,
    /// The load stage's name.
    pub stage_name: String,
    /// The size and BLAKE3 hash of the bytes read.
    pub digest: FileDigest,
    /// The fingerprint of the ingest options the lines were checked under.
    pub rules: String,
    /// The run time the lines were checked against (the upper bound of event timestamps).
    pub checked_at: NaiveDateTime,
    /// The load's accounting of the file.
    pub account: DatasetAccount,
}

impl LoadedFile {
    /// Whether the table holds exactly what loading a file with `digest` under `rules` at
    /// `run_time` would give, as far as this record can tell: see the module's documentation.
    #[must_use]
    pub fn holds(&self, digest: &FileDigest, rules: &str, run_time: NaiveDateTime) -> bool {
        self.may_hold(digest.bytes, rules, run_time) && self.digest == *digest
    }

    /// Whether a file of `bytes` bytes could be the one recorded: a cheap test before hashing it.
    #[must_use]
    pub fn may_hold(&self, bytes: u64, rules: &str, run_time: NaiveDateTime) -> bool {
        self.digest.bytes == bytes
            && self.rules == rules
            && self.account.rejected == 0
            && self.checked_at <= run_time
    }
}

/// Every table's record, read in the caller's transaction (which holds the load lock, so it is the
/// latest committed state and no load can change it before the caller commits).
pub async fn read_all(conn: &mut PgConnection) -> Result<Vec<LoadedFile>, sqlx::Error> {
    let rows = sqlx::query(SQL.read_all).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            // A row whose table or accounting this version does not know is no proof of anything.
            let dataset = Dataset::from_name(row.get::<String, _>(0).as_str())?;
            let account = serde_json::from_value(row.get(7)).ok()?;
            Some(LoadedFile {
                dataset,
                run_id: row.get(1),
                stage_name: row.get(2),
                digest: FileDigest {
                    bytes: row.get::<i64, _>(3) as u64,
                    blake3: row.get(4),
                },
                rules: row.get(5),
                checked_at: row.get(6),
                account,
            })
        })
        .collect())
}

/// Records `file` as what its table holds, replacing the table's row. Run it after the load's
/// merge, in the load's transaction.
pub async fn record(conn: &mut PgConnection, file: &LoadedFile) -> Result<(), sqlx::Error> {
    sqlx::query(SQL.record)
        .bind(file.dataset.table())
        .bind(file.run_id)
        .bind(&file.stage_name)
        .bind(&file.account.file)
        .bind(file.digest.bytes as i64)
        .bind(&file.digest.blake3)
        .bind(&file.rules)
        .bind(file.checked_at)
        .bind(serde_json::to_value(&file.account).unwrap_or_default())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn loaded() -> LoadedFile {
        LoadedFile {
            dataset: Dataset::Orders,
            run_id: 7,
            stage_name: "load".to_owned(),
            digest: FileDigest {
                bytes: 100,
                blake3: "ab".repeat(32),
            },
            rules: "r1".to_owned(),
            checked_at: at("2026-12-01 10:00:00"),
            account: DatasetAccount {
                read: 3,
                loaded: 3,
                ..DatasetAccount::default()
            },
        }
    }

    #[test]
    fn a_file_is_held_only_with_the_same_bytes_rules_no_reject_and_no_earlier_run_time() {
        let file = loaded();
        let same = file.digest.clone();
        let now = at("2026-12-02 00:00:00");
        assert!(file.holds(&same, "r1", now));
        assert!(file.may_hold(100, "r1", now));
        // Same size, other content.
        let other = FileDigest {
            bytes: 100,
            blake3: "cd".repeat(32),
        };
        assert!(!file.holds(&other, "r1", now));
        assert!(!file.may_hold(101, "r1", now));
        // Other options (any stage name, any config: only what the options say counts).
        assert!(!file.holds(&same, "r2", now));
        // A line was rejected: reading again may accept it now (its reference may have arrived).
        let mut rejected = loaded();
        rejected.account.rejected = 1;
        assert!(!rejected.holds(&same, "r1", now));
        // An earlier run time is stricter: a line accepted then may be rejected now.
        assert!(!file.holds(&same, "r1", at("2026-11-30 00:00:00")));
    }
}
