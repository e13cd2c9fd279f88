//! Advisory locks that serialise work on the same data: loads merge one at a time and never while a
//! day is being computed; two computations of the same day wait for each other. Locks are always
//! taken in the same order (load lock, then days ascending), so they cannot deadlock.

use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::core::sql_file;

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/locks.sql" {
        exclusive_load_lock,
        shared_load_lock,
        day_locks,
        day_set_locks,
    }
}

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
    sqlx::query(SQL.exclusive_load_lock)
        .bind(LOAD_CLASS)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the load lock shared until the end of the transaction: aggregates run together, not during a merge.
pub async fn shared_load_lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(SQL.shared_load_lock)
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
    sqlx::query(SQL.day_locks)
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
    sqlx::query(SQL.day_set_locks)
        .bind(DAY_CLASS)
        .bind(days)
        .execute(conn)
        .await?;
    Ok(())
}
