//! A row of `rejected_rows`: a quarantined input line.

use sea_orm::entity::prelude::*;

/// One rejected input line with the reason.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_rows")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The load run.
    pub run_id: i64,
    /// `customers`, `products`, `orders` or `order_items`.
    pub dataset: String,
    /// The file's name.
    pub source_file: String,
    /// 1-based physical line (the header is line 1).
    pub line_number: i64,
    /// The line as read.
    pub raw_line: String,
    /// Why it was rejected.
    pub reason: String,
    /// When.
    pub rejected_at: DateTimeWithTimeZone,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
