//! `customer_daily_stats.customer_unique_id` in the `C` collation: its keys are sorted byte by
//! byte, which `PostgreSQL` does several times faster than in a language's collation (it can
//! compare abbreviated keys), and that sort is most of what a full refresh spends building the
//! primary key and the customer index. Equality is unchanged (every collation here is
//! deterministic); an ordering by the key is byte order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261207_000013_customer_keys_in_byte_order.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261207_000013_customer_keys_in_byte_order.down.sql"),
        )
        .await
    }
}
