//! `postgres_load`: stages valid rows with `COPY ... FROM STDIN` into temporary tables, then merges
//! them into the tables with one upsert per dataset, all in the caller's single transaction, so a
//! failed load leaves the previous state as it was. Loading the same files again changes nothing;
//! a newer export updates the rows that changed. Loads never delete rows.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::dataset::Dataset;
use crate::locks;
use crate::record::ValidatedBatch;
use crate::{DatasetAccount, Load, Problem, Role, Source, Stage, StageConfig, staging};

/// Options of the `postgres_load` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostgresLoadConfig {
    /// How long the merge waits for a concurrent load or backfill to finish before failing, seconds.
    #[serde(default = "default_lock_timeout_secs")]
    pub lock_timeout_secs: u64,
}

fn default_lock_timeout_secs() -> u64 {
    600
}

impl Default for PostgresLoadConfig {
    fn default() -> Self {
        Self {
            lock_timeout_secs: default_lock_timeout_secs(),
        }
    }
}

#[typetag::serde(name = "postgres_load")]
impl StageConfig for PostgresLoadConfig {
    fn role(&self) -> Role {
        Role::Load
    }

    fn about(&self) -> &'static str {
        "loads valid rows into PostgreSQL (COPY into staging, then one upsert per table, one transaction)"
    }

    fn check(&self) -> Vec<Problem> {
        if self.lock_timeout_secs == 0 {
            vec![Problem::new(
                "lock_timeout_secs",
                "must be at least 1, got 0",
            )]
        } else {
            Vec::new()
        }
    }

    fn build(&self) -> Stage {
        Stage::Load(Box::new(PostgresLoad {
            config: self.clone(),
        }))
    }
}

/// The runtime `postgres_load` stage.
pub struct PostgresLoad {
    config: PostgresLoadConfig,
}

impl PostgresLoad {
    /// The stage with `config`.
    pub fn new(config: PostgresLoadConfig) -> Self {
        Self { config }
    }
}

/// Appends `value` to `out` in COPY's text format (tab-separated, `\N` for NULL, backslash escapes).
pub fn push_copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
            _ => out.push(b),
        }
    }
}

async fn copy_in(
    conn: &mut PgConnection,
    statement: &str,
    data: Vec<u8>,
) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(data).await {
        copy.abort(e.to_string()).await.ok();
        return Err(e);
    }
    copy.finish().await?;
    Ok(())
}

#[async_trait]
impl Load for PostgresLoad {
    async fn prepare(
        &self,
        conn: &mut PgConnection,
        sources: &[Source],
    ) -> Result<(), sqlx::Error> {
        staging::create(conn, sources).await
    }

    async fn stage(
        &self,
        conn: &mut PgConnection,
        source: &Source,
        batch: ValidatedBatch,
    ) -> Result<(), sqlx::Error> {
        let dataset = source.dataset;
        if !batch.rows.is_empty() {
            let mut data = Vec::with_capacity(batch.rows.len() * 256);
            for row in &batch.rows {
                data.extend_from_slice(row.line.to_string().as_bytes());
                data.push(b'\t');
                push_copy_field(&mut data, Some(&row.raw));
                for value in &row.values {
                    data.push(b'\t');
                    push_copy_field(&mut data, value.as_deref());
                }
                data.push(b'\n');
            }
            let statement = format!(
                "COPY {} (line_number, raw_line, {}) FROM STDIN",
                dataset.staging_table(),
                dataset.column_list()
            );
            copy_in(conn, &statement, data).await?;
        }
        if !batch.rejections.is_empty() {
            let mut data = Vec::with_capacity(batch.rejections.len() * 256);
            for rejection in &batch.rejections {
                push_copy_field(&mut data, Some(dataset.name()));
                data.push(b'\t');
                push_copy_field(&mut data, Some(&source.file_name));
                data.push(b'\t');
                data.extend_from_slice(rejection.line.to_string().as_bytes());
                data.push(b'\t');
                push_copy_field(&mut data, Some(&rejection.raw));
                data.push(b'\t');
                push_copy_field(&mut data, Some(&rejection.reason));
                data.push(b'\t');
                push_copy_field(&mut data, rejection.key.as_deref());
                data.push(b'\n');
            }
            copy_in(
                conn,
                "COPY staging_rejects (dataset, source_file, line_number, raw_line, reason, key) FROM STDIN",
                data,
            )
            .await?;
        }
        Ok(())
    }

    async fn account(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
    ) -> Result<DatasetAccount, sqlx::Error> {
        // Temporary tables have no statistics until analysed; the set rules and merge join them.
        sqlx::query(AssertSqlSafe(format!(
            "ANALYZE {}",
            dataset.staging_table()
        )))
        .execute(&mut *conn)
        .await?;
        let counts = sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),
                    (SELECT count(*) FROM staging_rejects WHERE dataset = $1),
                    (SELECT source_file FROM staging_files WHERE dataset = $1)
               FROM {}",
            dataset.staging_table()
        )))
        .bind(dataset.name())
        .fetch_one(&mut *conn)
        .await?;
        Ok(DatasetAccount {
            dataset: dataset.name().to_owned(),
            file: counts.get::<Option<String>, _>(3).unwrap_or_default(),
            loaded: counts.get::<i64, _>(0) as u64,
            duplicate: counts.get::<i64, _>(1) as u64,
            rejected: counts.get::<i64, _>(2) as u64,
            ..DatasetAccount::default()
        })
    }

    async fn merge(
        &self,
        conn: &mut PgConnection,
        run_id: i64,
        accounts: &mut [DatasetAccount],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{}s'",
            self.config.lock_timeout_secs
        )))
        .execute(&mut *conn)
        .await?;
        locks::exclusive_load_lock(conn).await?;
        sqlx::query(CHANGED_DAYS_SQL)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
        for dataset in Dataset::LOAD_ORDER {
            let row = sqlx::query(AssertSqlSafe(upsert_sql(dataset)))
                .fetch_one(&mut *conn)
                .await?;
            if let Some(account) = accounts.iter_mut().find(|a| a.dataset == dataset.name()) {
                account.inserted = row.get::<i64, _>(0) as u64;
                account.updated = row.get::<i64, _>(1) as u64;
            }
        }
        sqlx::query(
            "INSERT INTO rejected_rows (run_id, dataset, source_file, line_number, raw_line, reason)
             SELECT $1, dataset, source_file, line_number, raw_line, reason FROM staging_rejects ORDER BY dataset, line_number",
        )
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The upsert of one dataset: inserts new keys, updates rows whose content changed, leaves equal rows
/// alone; returns (inserted, updated).
pub fn upsert_sql(dataset: Dataset) -> String {
    let table = dataset.table();
    let key = dataset.key();
    let columns = dataset.column_list();
    let non_key: Vec<&str> = dataset
        .columns()
        .iter()
        .map(|c| c.table)
        .filter(|c| !key.contains(c))
        .collect();
    let set: Vec<String> = non_key
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let old: Vec<String> = non_key.iter().map(|c| format!("{table}.{c}")).collect();
    let new: Vec<String> = non_key.iter().map(|c| format!("EXCLUDED.{c}")).collect();
    format!(
        "WITH merged AS (
             INSERT INTO {table} ({columns})
             SELECT {columns} FROM {staging} WHERE outcome IS NULL
             ON CONFLICT ({key}) DO UPDATE SET {set}
             WHERE ({old}) IS DISTINCT FROM ({new})
             RETURNING (xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
        staging = dataset.staging_table(),
        key = key.join(", "),
        set = set.join(", "),
        old = old.join(", "),
        new = new.join(", "),
    )
}

/// Records the purchase days whose statistics this load changes: days of new or changed orders (old
/// and new day), of orders with new or changed items, and of orders of customers whose person changed.
const CHANGED_DAYS_SQL: &str = r#"
INSERT INTO order_day_changes (day, run_id, changed_at)
SELECT day, $1, clock_timestamp() FROM (SELECT DISTINCT day FROM (
    SELECT s.order_purchase_timestamp::date AS day
      FROM staging_orders s LEFT JOIN orders o ON o.order_id = s.order_id
     WHERE s.outcome IS NULL
       AND (o.order_id IS NULL OR (o.customer_id, o.order_status, o.order_purchase_timestamp)
            IS DISTINCT FROM (s.customer_id, s.order_status, s.order_purchase_timestamp))
    UNION
    SELECT o.order_purchase_timestamp::date
      FROM staging_orders s JOIN orders o ON o.order_id = s.order_id
     WHERE s.outcome IS NULL
       AND (o.customer_id, o.order_status, o.order_purchase_timestamp)
           IS DISTINCT FROM (s.customer_id, s.order_status, s.order_purchase_timestamp)
    UNION
    SELECT coalesce(so.order_purchase_timestamp, o.order_purchase_timestamp)::date
      FROM staging_order_items si
      LEFT JOIN order_items oi ON oi.order_id = si.order_id AND oi.order_item_id = si.order_item_id
      LEFT JOIN staging_orders so ON so.order_id = si.order_id AND so.outcome IS NULL
      LEFT JOIN orders o ON o.order_id = si.order_id
     WHERE si.outcome IS NULL
       AND (oi.order_id IS NULL OR (oi.product_id, oi.seller_id, oi.price, oi.freight_value)
            IS DISTINCT FROM (si.product_id, si.seller_id, si.price, si.freight_value))
    UNION
    SELECT o.order_purchase_timestamp::date
      FROM staging_customers sc
      JOIN customers c ON c.customer_id = sc.customer_id
      JOIN orders o ON o.customer_id = c.customer_id
     WHERE sc.outcome IS NULL AND sc.customer_unique_id IS DISTINCT FROM c.customer_unique_id
) changed
WHERE day IS NOT NULL) days
ON CONFLICT DO NOTHING"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped() {
        let mut out = Vec::new();
        push_copy_field(&mut out, Some("a\tb\\c\nd\re\0"));
        out.push(b'\t');
        push_copy_field(&mut out, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\tb\\\\c\\nd\\re\u{FFFD}\t\\N"
        );
    }

    #[test]
    fn upsert_updates_only_changed_rows() {
        let sql = upsert_sql(Dataset::OrderItems);
        assert!(sql.contains(
            "ON CONFLICT (order_id, order_item_id) DO UPDATE SET product_id = EXCLUDED.product_id"
        ));
        assert!(sql.contains("WHERE (order_items.product_id, order_items.seller_id"));
        assert!(!sql.contains("order_item_id = EXCLUDED"));
    }
}
