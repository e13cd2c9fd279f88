//! A row of `aggregate_days`: one day an aggregate stage computed, with what it reflects.

use sea_orm::entity::prelude::*;

/// One computed day of one aggregate stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "aggregate_days")]
pub struct Model {
    /// The stage's name in `pipeline.toml`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stage_name: String,
    /// The day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// The options fingerprint the day was computed with.
    pub config_fingerprint: String,
    /// The stage run that last wrote the day.
    pub run_id: i64,
    /// When it was last written.
    pub computed_at: DateTimeWithTimeZone,
    /// Every `order_changes` row with an id up to this one is reflected in the day.
    pub changes_seen: i64,
    /// Rows the day holds.
    pub rows: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
