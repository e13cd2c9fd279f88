//! Schema migrations of the pipeline database: the source of truth for every table.
//!
//! One file per change, `mYYYYMMDD_HHMMSS_<what>.rs` (why), its statements in
//! `migration/sql/<same name>.up.sql` and `.down.sql` (what). The pipeline applies
//! pending migrations before every run; `pipeline migrate` applies them on demand.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_shop_tables;
mod m20261129_000002_create_run_ledger;
mod m20261129_000003_create_customer_daily_stats;
mod m20261130_000004_track_changes;
mod m20261130_000005_widen_customer_daily_stats;
mod m20261130_000006_create_product_daily_stats;
mod m20261130_000007_unlink_stats_rows_from_runs;
mod m20261206_000008_track_loaded_files;
mod m20261206_000009_reject_rule;
mod m20261206_000010_record_row_keys;
mod m20261206_000011_erasures;
mod m20261206_000012_table_versions;
mod m20261207_000013_customer_keys_in_byte_order;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_shop_tables::Migration),
            Box::new(m20261129_000002_create_run_ledger::Migration),
            Box::new(m20261129_000003_create_customer_daily_stats::Migration),
            Box::new(m20261130_000004_track_changes::Migration),
            Box::new(m20261130_000005_widen_customer_daily_stats::Migration),
            Box::new(m20261130_000006_create_product_daily_stats::Migration),
            Box::new(m20261130_000007_unlink_stats_rows_from_runs::Migration),
            Box::new(m20261206_000008_track_loaded_files::Migration),
            Box::new(m20261206_000009_reject_rule::Migration),
            Box::new(m20261206_000010_record_row_keys::Migration),
            Box::new(m20261206_000011_erasures::Migration),
            Box::new(m20261206_000012_table_versions::Migration),
            Box::new(m20261207_000013_customer_keys_in_byte_order::Migration),
        ]
    }
}

/// Runs a migration step: the statements of its file under `migration/sql/`, in order, in the
/// migration's transaction.
async fn execute_file(manager: &SchemaManager<'_>, statements: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(statements)
        .await
        .map(drop)
}
