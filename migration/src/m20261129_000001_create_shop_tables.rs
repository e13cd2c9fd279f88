//! The four shop datasets (Olist layout), typed, with their keys, references and the indexes the
//! per-day aggregate reads through. Column names are the CSV's, except Olist's misspelt
//! `product_name_lenght` / `product_description_lenght`, which become `product_name_length` /
//! `product_description_length`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000001_create_shop_tables.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261129_000001_create_shop_tables.down.sql"),
        )
        .await
    }
}
