//! The schema is written in the migrations; the `SeaORM` entities and the datasets' column lists
//! mirror it. This test fails when they disagree: a column added, renamed, dropped or made nullable
//! in one place and not the others.

mod common;

use common::TestDb;
use migration::{Migrator, MigratorTrait};
use olist::Dataset;
use sea_orm::{ColumnTrait, EntityName, EntityTrait, IdenStatic, Iterable};
use stages::aggregates::product_daily_stats::entity as product_daily_stats;
use stages::entities::{
    aggregate_day, customer, customer_daily_stats, order, order_item, pipeline_run, product,
    rejected_row,
};

/// (column, nullable) of an entity, in declaration order.
fn entity_columns<E: EntityTrait>() -> Vec<(String, bool)> {
    E::Column::iter()
        .map(|c| (c.as_str().to_owned(), c.def().is_null()))
        .collect()
}

#[tokio::test]
async fn entities_datasets_and_migrations_describe_the_same_tables() {
    let db = TestDb::new().await;
    let orm = sea_orm::Database::connect(&db.url).await.unwrap();
    Migrator::up(&orm, None).await.unwrap();
    let mut conn = db.connect().await;
    let entities: Vec<(String, Vec<(String, bool)>)> = vec![
        (
            customer::Entity.table_name().to_owned(),
            entity_columns::<customer::Entity>(),
        ),
        (
            product::Entity.table_name().to_owned(),
            entity_columns::<product::Entity>(),
        ),
        (
            order::Entity.table_name().to_owned(),
            entity_columns::<order::Entity>(),
        ),
        (
            order_item::Entity.table_name().to_owned(),
            entity_columns::<order_item::Entity>(),
        ),
        (
            customer_daily_stats::Entity.table_name().to_owned(),
            entity_columns::<customer_daily_stats::Entity>(),
        ),
        (
            pipeline_run::Entity.table_name().to_owned(),
            entity_columns::<pipeline_run::Entity>(),
        ),
        (
            rejected_row::Entity.table_name().to_owned(),
            entity_columns::<rejected_row::Entity>(),
        ),
        (
            aggregate_day::Entity.table_name().to_owned(),
            entity_columns::<aggregate_day::Entity>(),
        ),
        (
            product_daily_stats::Entity.table_name().to_owned(),
            entity_columns::<product_daily_stats::Entity>(),
        ),
    ];
    for (table, columns) in &entities {
        let mut stored: Vec<(String, bool)> = sqlx::query_as::<_, (String, String)>(
            "SELECT column_name::text, is_nullable::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, nullable)| (name, nullable == "YES"))
        .collect();
        let mut declared = columns.clone();
        stored.sort();
        declared.sort();
        assert_eq!(
            declared, stored,
            "the entity of {table} and its migrations disagree (column, nullable)"
        );
    }
    // Each dataset loads exactly the columns of its table's entity.
    for dataset in Dataset::LOAD_ORDER {
        let (_, columns) = entities
            .iter()
            .find(|(t, _)| t == dataset.table())
            .unwrap_or_else(|| panic!("no entity for {}", dataset.table()));
        let mut loaded: Vec<&str> = dataset.columns().iter().map(|c| c.table).collect();
        let mut declared: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        loaded.sort_unstable();
        declared.sort_unstable();
        assert_eq!(
            loaded, declared,
            "dataset {dataset} and its entity disagree"
        );
    }
}
