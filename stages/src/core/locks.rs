//! Advisory locks that serialise work on the same data: loads merge one at a time and never while a
//! day is being computed; two computations of the same day wait for each other. Locks are always
//! taken in the same order (load lock, then days ascending), so they cannot deadlock.

use chrono::NaiveDate;
use sqlx::PgConnection;

/// Lock class of the load/aggregate lock.
const LOAD_CLASS: i32 = 0x5049_0001;
/// Lock class of per-day locks.
const DAY_CLASS: i32 = 0x5049_0002;
/// Lock class of the lock that marks a ledger row's run as alive.
pub const RUN_CLASS: i32 = 0x5049_0003;
/// Lock class of the migration lock.
pub const MIGRATE_CLASS: i32 = 0x5049_0004;

/// Takes the load lock exclusively until the end of the transaction.
pub async fn exclusive_load_lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(LOAD_CLASS)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the load lock shared until the end of the transaction: aggregates run together, not during a merge.
pub async fn shared_load_lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1, 0)")
        .bind(LOAD_CLASS)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks every day from `start` to `end` (ascending) until the end of the transaction.
pub async fn day_locks(
    conn: &mut PgConnection,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock($1, (d - DATE '2000-01-01')))
           FROM (SELECT d::date AS d FROM generate_series($2::date, $3::date, interval '1 day') d ORDER BY 1) days",
    )
    .bind(DAY_CLASS)
    .bind(start)
    .bind(end)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks each of `days` (sorted ascending here) until the end of the transaction.
pub async fn day_set_locks(conn: &mut PgConnection, days: &[NaiveDate]) -> Result<(), sqlx::Error> {
    let mut days = days.to_vec();
    days.sort_unstable();
    days.dedup();
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock($1, (d - DATE '2000-01-01')))
           FROM (SELECT d FROM unnest($2::date[]) d ORDER BY 1) days",
    )
    .bind(DAY_CLASS)
    .bind(days)
    .execute(conn)
    .await?;
    Ok(())
}
