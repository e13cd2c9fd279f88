//! The temporary tables one load stages its rows in (dropped at the end of the load's transaction).
//! Their statements are in `stages/sql/load/` (see [`super::statements`]).

use olist::Dataset;
use sqlx::PgConnection;

use super::SQL;
use super::statements::LoadStatements;
use crate::core::Source;

/// Holds every rejected line of the load, with its dataset and (when readable) key.
pub const REJECTS_TABLE: &str = "staging_rejects";

/// Creates the staging tables in the current transaction and records which file each dataset is read from.
pub async fn create(conn: &mut PgConnection, sources: &[Source]) -> Result<(), sqlx::Error> {
    for dataset in Dataset::LOAD_ORDER {
        let sql = LoadStatements::of(dataset);
        sqlx::query(sql.create_staging).execute(&mut *conn).await?;
        sqlx::query(sql.create_changed).execute(&mut *conn).await?;
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
