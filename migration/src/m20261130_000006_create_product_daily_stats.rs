//! Creates `product_daily_stats`, the table of the `product_daily_stats` aggregate stage: per day and
//! product, what was sold.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000006_create_product_daily_stats.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000006_create_product_daily_stats.down.sql"),
        )
        .await
    }
}
