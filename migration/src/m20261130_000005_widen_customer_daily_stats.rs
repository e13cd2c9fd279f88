//! Widens `customer_daily_stats` so that no accepted input can overflow it. Its sums add up item
//! prices over a day and over a person's whole history, and its counts count rows; neither is bounded
//! by any one line's value. Each money column becomes `numeric(28,2)`: a sum over every item the
//! database can hold (each at most 9999999999.99 of price plus as much freight) stays below 10^26, and
//! 28 digits still fit the decimal type the reports read it into. Each count becomes `bigint`, which no
//! table's number of rows can reach.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000005_widen_customer_daily_stats.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000005_widen_customer_daily_stats.down.sql"),
        )
        .await
    }
}
