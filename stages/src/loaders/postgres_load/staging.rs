//! The temporary tables one load stages its rows in (dropped at the end of the load's transaction).
//! Their statements are in `stages/sql/load/` (see [`super::statements`]).

use olist::Dataset;
use sqlx::PgConnection;

use super::SQL;
use super::statements::LoadStatements;
use crate::core::Source;

/// Holds every rejected line of the load, with its dataset and (when readable) key.
pub const REJECTS_TABLE: &str = "staging_rejects";

/// The temporary table `dataset`'s rows are staged in during a load.
#[must_use]
pub fn staging_table(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Customers => "staging_customers",
        Dataset::Products => "staging_products",
        Dataset::Orders => "staging_orders",
        Dataset::OrderItems => "staging_order_items",
    }
}

/// The temporary table listing the staged lines of `dataset` that differ from the stored rows (new
/// keys or other content) during a load into tables that hold rows.
#[must_use]
pub fn changed_table(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Customers => "staging_customers_changed",
        Dataset::Products => "staging_products_changed",
        Dataset::Orders => "staging_orders_changed",
        Dataset::OrderItems => "staging_order_items_changed",
    }
}

/// The temporary table listing the keys of the stored rows of `dataset` this load deletes
/// (`deletes = "snapshot"`; empty otherwise).
#[must_use]
pub fn deleted_table(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Customers => "staging_customers_deleted",
        Dataset::Products => "staging_products_deleted",
        Dataset::Orders => "staging_orders_deleted",
        Dataset::OrderItems => "staging_order_items_deleted",
    }
}

/// Creates the staging tables in the current transaction and records which file each dataset is read from.
pub async fn create(conn: &mut PgConnection, sources: &[Source]) -> Result<(), sqlx::Error> {
    for dataset in Dataset::LOAD_ORDER {
        let sql = LoadStatements::of(dataset);
        sqlx::query(sql.create_staging).execute(&mut *conn).await?;
        sqlx::query(sql.create_changed).execute(&mut *conn).await?;
        sqlx::query(sql.create_deleted).execute(&mut *conn).await?;
    }
    sqlx::query(SQL.create_rejects).execute(&mut *conn).await?;
    sqlx::query(SQL.create_files).execute(&mut *conn).await?;
    for source in sources {
        sqlx::query(SQL.record_file)
            .bind(source.dataset.name())
            .bind(&source.file_name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
