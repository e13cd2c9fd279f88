//! A row of `order_items`.

use sea_orm::entity::prelude::*;

/// One item line of an order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_items")]
pub struct Model {
    /// The order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    /// 1, 2, ... within the order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_item_id: i32,
    /// The product.
    pub product_id: String,
    /// The seller.
    pub seller_id: String,
    /// Latest shipping time.
    pub shipping_limit_date: DateTime,
    /// Price.
    pub price: Decimal,
    /// Freight.
    pub freight_value: Decimal,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
