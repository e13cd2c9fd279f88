//! Keys, indexes and references dropped before a bulk write and built again after it, in the
//! writer's transaction, as `pg_restore` does: a key built once over the rows costs a fraction of a
//! key kept up to date row by row. A first load rebuilds the four shop tables' this way; an
//! aggregate that replaces every row of its table rebuilds its table's.
//!
//! The migrations stay the only definition: `PostgreSQL` itself writes the statements from its
//! catalog (`pg_get_constraintdef`, `pg_get_indexdef`, names quoted by `format('%I')`) into the
//! temporary table `rebuilt_keys`, and runs them from there: step 1 the primary keys and unique
//! constraints, 2 the other indexes, 3 the references. Dropping is transactional: a run that fails
//! or is killed before it commits leaves every key as it was.

use std::time::Duration;

use sqlx::PgConnection;

use crate::core::sql_file;

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/keys.sql" {
        create_rebuilt_keys,
        record_keys,
        drop_keys,
        set_maintenance_work_mem,
        restore_keys,
        savepoint,
        lock_within,
        keep_lock,
        reset_lock_timeout,
        lock_timeout,
        give_up_lock,
    }
}

/// Records the definitions of `tables`' keys, indexes and references, then drops them (references,
/// then indexes, then keys). The caller holds the locks that keep other writers out.
pub async fn drop_all(conn: &mut PgConnection, tables: &[&str]) -> Result<(), sqlx::Error> {
    sqlx::query(SQL.create_rebuilt_keys)
        .execute(&mut *conn)
        .await?;
    sqlx::query(SQL.record_keys)
        .bind(tables)
        .execute(&mut *conn)
        .await?;
    sqlx::query(SQL.drop_keys).execute(&mut *conn).await?;
    Ok(())
}

/// Builds what [`drop_all`] dropped: keys and indexes, then references, each checked in one pass;
/// logs how long it took.
pub async fn restore(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let started = std::time::Instant::now();
    sqlx::query(SQL.set_maintenance_work_mem)
        .execute(&mut *conn)
        .await?;
    sqlx::query(SQL.restore_keys).execute(&mut *conn).await?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "built the keys, indexes and references"
    );
    Ok(())
}

/// Runs `lock` (a `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` of the caller's) waiting at most
/// `within`; returns whether the lock is held. When it is not (a reader held the table longer), the
/// transaction goes on as before the call, without the lock: the caller writes the ordinary way
/// rather than queue every reader behind its wait.
pub async fn try_lock(
    conn: &mut PgConnection,
    lock: &'static str,
    within: Duration,
) -> Result<bool, sqlx::Error> {
    let before: String = sqlx::query_scalar(SQL.lock_timeout)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(SQL.savepoint).execute(&mut *conn).await?;
    let wait = format!("{}ms", within.as_millis().max(1));
    sqlx::query(SQL.lock_within)
        .bind(&wait)
        .execute(&mut *conn)
        .await?;
    match sqlx::query(lock).execute(&mut *conn).await {
        Ok(_) => {
            sqlx::query(SQL.keep_lock).execute(&mut *conn).await?;
            sqlx::query(SQL.reset_lock_timeout)
                .bind(&before)
                .execute(&mut *conn)
                .await?;
            Ok(true)
        }
        Err(error) if is_lock_timeout(&error) => {
            sqlx::query(SQL.give_up_lock).execute(&mut *conn).await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// Whether `error` is `PostgreSQL`'s `lock_not_available` (a `lock_timeout` that expired).
fn is_lock_timeout(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .is_some_and(|code| code == "55P03")
}
