//! Erasing a person (`pipeline erase`), as the aggregates see it: a person's ids, and what each
//! aggregate does about them ([`crate::Aggregate::forget`]). An aggregate whose rows hold a
//! person's key deletes those rows; one whose rows only sum over people (per product, per day) has
//! the days the person's orders were on recomputed, by its own `compute`.

use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::core::sql_file;

sql_file::statements! {
    /// This module's statements (see [`crate::core::sql_file`]).
    static SQL: Statements = "core/erasure.sql" {
        computed_among,
        record_erased_rows,
    }
}

/// The ids of a person being erased. Read from the tables before their rows are deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    /// The person: `customer_unique_id`.
    pub person: String,
    /// Every `customer_id` of the person (Olist issues one per order).
    pub customer_ids: Vec<String>,
    /// The days the person's rows of the aggregates may be on, ascending: the purchase days of
    /// their orders, and the days of their pending changes (`order_changes`), whose staleness goes
    /// with those rows.
    pub days: Vec<NaiveDate>,
}

impl Person {
    /// Every key a row of the person can hold: the person and each customer id (an aggregate keyed
    /// by `customer_id` holds those; earlier days may hold the other key).
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        std::iter::once(self.person.clone())
            .chain(self.customer_ids.iter().cloned())
            .collect()
    }
}

/// What [`crate::Aggregate::forget`] did and leaves to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Rows of the person deleted.
    pub rows: u64,
    /// Computed days whose rows sum over the person with other people: the caller recomputes them
    /// whole (with [`crate::Aggregate::compute`]) once the person's orders are gone. Ascending.
    pub recompute: Vec<NaiveDate>,
}

/// The days of `days` that `stage` has computed, ascending.
pub async fn computed_among(
    conn: &mut PgConnection,
    stage: &str,
    days: &[NaiveDate],
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(SQL.computed_among)
        .bind(stage)
        .bind(days)
        .fetch_all(conn)
        .await
}

/// Takes the rows an erasure deleted from the computed days of `stage` (`deleted`: per day).
pub async fn record_erased_rows(
    conn: &mut PgConnection,
    stage: &str,
    deleted: &[(NaiveDate, i64)],
) -> Result<(), sqlx::Error> {
    let (days, rows): (Vec<NaiveDate>, Vec<i64>) = deleted.iter().copied().unzip();
    sqlx::query(SQL.record_erased_rows)
        .bind(stage)
        .bind(days)
        .bind(rows)
        .execute(conn)
        .await?;
    Ok(())
}
