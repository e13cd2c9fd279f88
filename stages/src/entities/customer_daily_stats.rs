//! A row of `customer_daily_stats`. Column names are a public interface; see the README.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One customer's statistics for one day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "customer_daily_stats")]
pub struct Model {
    /// The day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stat_date: Date,
    /// The customer key's value.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub customer_unique_id: String,
    /// Orders placed that day, any status.
    pub orders_count: i64,
    /// Of those, orders with an excluded status.
    pub canceled_orders_count: i64,
    /// Item rows of the kept orders.
    pub items_count: i64,
    /// Distinct products among those items.
    pub distinct_products: i64,
    /// Distinct sellers among those items.
    pub distinct_sellers: i64,
    /// Sum of item prices.
    #[sea_orm(column_type = "Decimal(Some((28, 2)))")]
    pub items_value: Decimal,
    /// Sum of freight.
    #[sea_orm(column_type = "Decimal(Some((28, 2)))")]
    pub freight_value: Decimal,
    /// `items_value` + `freight_value`.
    #[sea_orm(column_type = "Decimal(Some((28, 2)))")]
    pub total_spent: Decimal,
    /// `total_spent` per kept order; None without kept orders.
    #[sea_orm(column_type = "Decimal(Some((28, 2)))")]
    pub avg_order_value: Option<Decimal>,
    /// Earliest purchase that day.
    pub first_order_at: DateTime,
    /// Latest purchase that day.
    pub last_order_at: DateTime,
    /// Orders up to and including the day.
    pub lifetime_orders: i64,
    /// Spending up to and including the day.
    #[sea_orm(column_type = "Decimal(Some((28, 2)))")]
    pub lifetime_spent: Decimal,
    /// The customer's first purchase day.
    pub first_order_date: Date,
    /// Days since the previous purchase day.
    pub days_since_previous_order: Option<i32>,
    /// `lifetime_orders` >= 2.
    pub is_repeat_customer: bool,
    /// The run that wrote the row.
    pub run_id: i64,
    /// When.
    pub computed_at: DateTimeWithTimeZone,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
