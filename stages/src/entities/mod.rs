//! `SeaORM` entities of the tables the binary reads and writes through the ORM (the schema itself
//! lives in the `migration` crate). Each column declares the type the migrations give it
//! (`column_type` where the Rust type alone would say another, such as `varchar` for `text`), and
//! `pipeline/tests/schema.rs` compares every column, key and reference with the catalog.

pub mod customer_daily_stats;
pub mod pipeline_run;
