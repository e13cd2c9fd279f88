//! `SeaORM` entities of the pipeline's tables (the schema itself lives in the `migration` crate).

pub mod aggregate_day;
pub mod customer;
pub mod customer_daily_stats;
pub mod order;
pub mod order_item;
pub mod pipeline_run;
pub mod product;
pub mod rejected_row;
