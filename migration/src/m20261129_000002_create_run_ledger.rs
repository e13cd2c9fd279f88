//! The run ledger (`pipeline_runs`), the quarantine of bad input lines (`rejected_rows`) and the
//! record of which purchase days each load changed (`order_day_changes`, for staleness).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000002_create_run_ledger.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000002_create_run_ledger.down.sql"),
        )
        .await
    }
}
