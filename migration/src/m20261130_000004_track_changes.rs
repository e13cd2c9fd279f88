//! Daily operation: what each load changed, and what each aggregate day reflects.
//!
//! - `order_changes`: one row per state of an order that a load changed (the state before and the state
//!   after: the order's customer, that customer's person and the purchase day), so that an aggregate can
//!   recompute exactly the people and days a load touched. A row with a NULL customer stands for "every
//!   customer from this day on" (a load that changed a large part of the history).
//! - `aggregate_days`: for each aggregate stage and each day it computed, the options fingerprint, the
//!   run, the row count and `changes_seen`: every change with an id up to it is reflected in the day.
//! - `pipeline_runs.kind`: `run` (one `pipeline run` invocation), `stage` (one stage of it) or `day`
//!   (the per-day rows of earlier versions, kept as history).
//!
//! Replaces `order_day_changes`, whose day-level record could not say which later days of a person a
//! change made stale.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000004_track_changes.up.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_file(
            manager,
            include_str!("../sql/m20261130_000004_track_changes.down.sql"),
        )
        .await
    }
}
