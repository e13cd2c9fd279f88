//! `customer_daily_stats`: one row per (day, customer) with at least one order that day. Its column
//! names are a public interface (analysts query them), see the README for each definition.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000003_create_customer_daily_stats.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000003_create_customer_daily_stats.down.sql"),
        )
        .await
    }
}
