//! `loaded_files`: for each shop table, the file whose content it holds, so that a load may skip a
//! file only when the table is known to hold exactly what loading it would give.
//!
//! One row per table, written by the load that read the file, in the load's own transaction: the
//! BLAKE3 hash and size of the bytes the load actually read (not of what was seen before reading), the
//! fingerprint of the ingest options, the run time the lines were checked against, and the load's
//! accounting. Any other write to the table (an `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE` that is
//! not followed by the load's own record in the same transaction: a hand edit, a delete, an erase)
//! removes the row through a statement trigger, so the next load reads the file again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000008_track_loaded_files.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000008_track_loaded_files.down.sql"),
        )
        .await
    }
}
