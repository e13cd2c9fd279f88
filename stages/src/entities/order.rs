//! A row of `orders`.

use sea_orm::entity::prelude::*;

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    /// The per-order customer id.
    pub customer_id: String,
    /// One of Olist's statuses.
    pub order_status: String,
    /// When the order was placed; its calendar date is the order's day.
    pub order_purchase_timestamp: DateTime,
    /// Payment approval.
    pub order_approved_at: Option<DateTime>,
    /// Handed to the carrier.
    pub order_delivered_carrier_date: Option<DateTime>,
    /// Delivered to the customer.
    pub order_delivered_customer_date: Option<DateTime>,
    /// Estimated delivery.
    pub order_estimated_delivery_date: Option<DateTime>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
