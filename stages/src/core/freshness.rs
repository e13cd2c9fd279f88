//! What each computed day of an aggregate reflects, and which days could differ from a fresh
//! computation. Two tables hold it (see the migration `track_changes`):
//!
//! - `order_changes`, written by every load: the states (customer, person, purchase day) of each order
//!   it changed, before and after; or one bulk row (no customer) for "everyone from this day on";
//! - `aggregate_days`, written by the aggregates: per stage and day, the options fingerprint and
//!   `changes_seen`, the id up to which every change is reflected in the day.
//!
//! A computed day is stale when it was computed with other options, when a bulk change from that day
//! or earlier came after it, or when a change of a person who has rows or orders on it (from the
//! change's day on: the lifetime columns carry every later day) came after it. The first two make the
//! whole day stale; the last only that person's rows, which [`crate::core::Aggregate::refresh`] recomputes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::{Connection, PgConnection, Row};

use crate::core::days::DayRange;
use crate::core::roles::{AggregateRun, ChunkReport};
use crate::core::sql_file;

/// The name recorded for what `PostgreSQL` itself computed (see `aggregate_days.engine`).
pub const POSTGRES: &str = "postgres";

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/freshness.sql" {
        changes_high_water,
        record_days,
        record_refreshed_rows,
        record_changes_seen,
        changes_pending,
        whole_stale_days,
        changed_days,
        computed_days,
        row_keys,
        engines,
        prune_changes,
    }
}

/// The id of the latest change: what a computation reflects once it holds the shared load lock
/// (loads, which write changes, wait for it).
pub async fn changes_high_water(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(SQL.changes_high_water)
        .fetch_one(conn)
        .await
}

/// Records `days` (with their row counts) as computed by `run` (its stage, options fingerprint and
/// row key) on `engine`, reflecting every change up to `changes_seen`.
pub async fn record_days(
    conn: &mut PgConnection,
    run: &AggregateRun<'_>,
    engine: &str,
    changes_seen: i64,
    days: &[(NaiveDate, i64)],
) -> Result<(), sqlx::Error> {
    let (dates, rows): (Vec<NaiveDate>, Vec<i64>) = days.iter().copied().unzip();
    sqlx::query(SQL.record_days)
        .bind(run.stage_name)
        .bind(run.fingerprint)
        .bind(run.run_id)
        .bind(changes_seen)
        .bind(dates)
        .bind(rows)
        .bind(run.row_key)
        .bind(engine)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records every day of `days` as computed by `run` on `engine`, reflecting every change up to `changes_seen`,
/// with the rows `written` per day (a day absent from it holds none); returns the chunk's report.
pub async fn record_chunk(
    conn: &mut PgConnection,
    run: &AggregateRun<'_>,
    engine: &str,
    changes_seen: i64,
    days: DayRange,
    written: &BTreeMap<NaiveDate, i64>,
) -> Result<ChunkReport, sqlx::Error> {
    let counts: Vec<(NaiveDate, i64)> = days
        .start
        .iter_days()
        .take(days.len() as usize)
        .map(|d| (d, written.get(&d).copied().unwrap_or_default()))
        .collect();
    record_days(conn, run, engine, changes_seen, &counts).await?;
    Ok(ChunkReport {
        days: days.len(),
        rows: counts.iter().map(|(_, n)| *n).sum::<i64>() as u64,
    })
}

/// After a refresh that reflected every change up to `high_water` in each day it touched, marks the
/// other days of `stage` as reflecting them too, except days a pending bulk change makes stale whole.
/// `refreshed` are the days the refresh rewrote on `engine`, with how many rows each gained (or
/// lost).
pub async fn record_refresh(
    conn: &mut PgConnection,
    stage: &str,
    run_id: i64,
    engine: &str,
    high_water: i64,
    refreshed: &[(NaiveDate, i64)],
) -> Result<(), sqlx::Error> {
    let (dates, deltas): (Vec<NaiveDate>, Vec<i64>) = refreshed.iter().copied().unzip();
    sqlx::query(SQL.record_refreshed_rows)
        .bind(stage)
        .bind(run_id)
        .bind(dates)
        .bind(deltas)
        .bind(engine)
        .execute(&mut *conn)
        .await?;
    sqlx::query(SQL.record_changes_seen)
        .bind(stage)
        .bind(high_water)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a load recorded a change that some computed day of `stage` does not reflect yet: when
/// not, no person's rows are stale (whole-day staleness aside, see [`whole_stale_days`]).
pub async fn changes_pending(conn: &mut PgConnection, stage: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(SQL.changes_pending)
        .bind(stage)
        .fetch_one(conn)
        .await
}

/// The computed days of `stage` to recompute whole: computed with options other than `fingerprint`,
/// or under a bulk change that came after them.
pub async fn whole_stale_days(
    conn: &mut PgConnection,
    stage: &str,
    fingerprint: &str,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let rows = sqlx::query(SQL.whole_stale_days)
        .bind(stage)
        .bind(fingerprint)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The computed days of `stage` holding an order that a load changed after the day was computed
/// (the order's day before or after the change), ascending. Bulk changes are
/// [`whole_stale_days`]'.
pub async fn changed_days(
    conn: &mut PgConnection,
    stage: &str,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(SQL.changed_days)
        .bind(stage)
        .fetch_all(conn)
        .await
}

/// Every computed day of `stage`, ascending.
pub async fn computed_days(
    conn: &mut PgConnection,
    stage: &str,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(SQL.computed_days)
        .bind(stage)
        .fetch_all(conn)
        .await
}

/// Deletes from `order_changes` what every computed day of every stage (of any configuration on
/// this database) reflects already, keeping the latest change; returns how many went. Safe at any
/// time: a change is needed only by a computed day that has not seen it, and a day computed later
/// is computed whole. Under the shared load lock, so that no load's changes are half written.
pub async fn prune_changes(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    crate::core::locks::shared_load_lock(&mut tx).await?;
    let pruned = sqlx::query(SQL.prune_changes)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(pruned)
}

/// The keys the rows of `stage` hold ([`crate::Aggregate::row_key`]), over its computed days, in
/// order; none for days computed before the key was recorded.
pub async fn row_keys(conn: &mut PgConnection, stage: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(SQL.row_keys)
        .bind(stage)
        .fetch_all(conn)
        .await
}

/// What computed the days of `stage` (`aggregate_days.engine`: `postgres`, `datafusion`,
/// `ballista`, or `unrecorded`), with how many days each, by name.
pub async fn engines(
    conn: &mut PgConnection,
    stage: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(SQL.engines)
        .bind(stage)
        .fetch_all(conn)
        .await
}

/// The days of `days` (ascending) grouped into runs of consecutive days.
#[must_use]
pub fn consecutive_runs(days: &[NaiveDate]) -> Vec<DayRange> {
    let mut out: Vec<DayRange> = Vec::new();
    for &day in days {
        match out.last_mut() {
            Some(last) if last.end.succ_opt() == Some(day) => last.end = day,
            Some(last) if last.end >= day && last.start <= day => {}
            _ => out.push(DayRange::new(day, day)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_group_into_consecutive_runs() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let runs = consecutive_runs(&[
            d("2017-01-01"),
            d("2017-01-02"),
            d("2017-01-02"),
            d("2017-01-04"),
            d("2017-02-28"),
            d("2017-03-01"),
        ]);
        let text: Vec<String> = runs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "2017-01-01..2017-01-02",
                "2017-01-04",
                "2017-02-28..2017-03-01"
            ]
        );
        assert!(consecutive_runs(&[]).is_empty());
    }
}
