//! `aggregate_days.row_key`: what the rows of each computed day hold as their key, the source column
//! that fills it (`customer_unique_id`, or `customer_id` when `customer_daily_stats` runs with
//! `customer_key = "customer_id"`, `product_id`). The column `customer_daily_stats.customer_unique_id`
//! keeps its name either way (people query it); this says what it holds. Days computed before this
//! migration have none recorded (NULL) until they are computed again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000010_record_row_keys.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261206_000010_record_row_keys.down.sql"),
        )
        .await
    }
}
