//! Creates `product_daily_stats`, the table of the `product_daily_stats` aggregate stage: per day and
//! product, what was sold.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[r"CREATE TABLE product_daily_stats (
        stat_date date NOT NULL,
        product_id text NOT NULL,
        orders_count bigint NOT NULL,
        items_count bigint NOT NULL,
        items_value numeric(28,2) NOT NULL,
        freight_value numeric(28,2) NOT NULL,
        customers_count bigint NOT NULL,
        run_id bigint NOT NULL,
        computed_at timestamptz NOT NULL,
        PRIMARY KEY (stat_date, product_id)
    )"];

const DOWN: &[&str] = &["DROP TABLE product_daily_stats"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, DOWN).await
    }
}
