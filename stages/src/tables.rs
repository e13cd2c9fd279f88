//! Reads of the loaded tables that several stages and commands share.

use sqlx::{PgConnection, Row};

use crate::DayRange;

/// The first and last purchase day of the loaded orders, if any.
pub async fn purchase_days(conn: &mut PgConnection) -> Result<Option<DayRange>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT min(order_purchase_timestamp)::date, max(order_purchase_timestamp)::date FROM orders",
    )
    .fetch_one(conn)
    .await?;
    Ok(match (row.get(0), row.get(1)) {
        (Some(start), Some(end)) => Some(DayRange::new(start, end)),
        _ => None,
    })
}
