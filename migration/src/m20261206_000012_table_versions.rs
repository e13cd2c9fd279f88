//! `table_versions`: a version per shop table that every statement writing the table changes (a
//! statement-level trigger), so that an engine keeping a copy of a table elsewhere (the Parquet
//! snapshot of `engine = "ballista"`) knows when the copy is still the table; and
//! `aggregate_days.engine`, what computed each day.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000012_table_versions.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000012_table_versions.down.sql"),
        )
        .await
    }
}
