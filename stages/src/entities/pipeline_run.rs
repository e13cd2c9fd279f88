//! A row of `pipeline_runs`, the run ledger: one per stage run, plus one per day an aggregate computed
//! (with `parent_run_id` set and `run_date` the day).

use sea_orm::entity::prelude::*;

/// One stage run, or one computed day of an aggregate run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pipeline_runs")]
pub struct Model {
    /// The run id, referenced by `rejected_rows.run_id` and `customer_daily_stats.run_id`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// For a computed day, the aggregate run it belongs to.
    pub parent_run_id: Option<i64>,
    /// The stage's name in `pipeline.toml`.
    pub stage_name: String,
    /// The stage's type.
    pub stage_type: String,
    /// SHA-256 of the stage's options, to tell results of other options apart.
    pub config_fingerprint: String,
    /// The day, for a one-day run or a computed day.
    pub run_date: Option<Date>,
    /// First day of a range run.
    pub range_start: Option<Date>,
    /// Last day of a range run.
    pub range_end: Option<Date>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Start.
    pub started_at: DateTimeWithTimeZone,
    /// End.
    pub finished_at: Option<DateTimeWithTimeZone>,
    /// Data lines read.
    pub rows_read: i64,
    /// Lines loaded, or rows written by an aggregate.
    pub rows_loaded: i64,
    /// Exact duplicates skipped.
    pub rows_duplicate: i64,
    /// Lines rejected.
    pub rows_rejected: i64,
    /// Per-dataset accounting of a load.
    pub details: Option<Json>,
    /// Why the run failed.
    pub error: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
