//! The temporary tables one load stages its rows in (dropped at the end of the load's transaction).
//! Their statements are in `stages/sql/load/` (see [`super::statements`]).

use olist::Dataset;
use sqlx::PgConnection;

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
    sqlx::query(
        "CREATE TEMP TABLE staging_rejects (dataset text NOT NULL, source_file text NOT NULL, line_number bigint NOT NULL, raw_line text NOT NULL, reason text NOT NULL, key text) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("CREATE TEMP TABLE staging_files (dataset text PRIMARY KEY, source_file text NOT NULL) ON COMMIT DROP")
        .execute(&mut *conn)
        .await?;
    for source in sources {
        sqlx::query("INSERT INTO staging_files (dataset, source_file) VALUES ($1, $2)")
            .bind(source.dataset.name())
            .bind(&source.file_name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
