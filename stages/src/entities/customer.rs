//! A row of `customers`: one per `customer_id`, which Olist issues per order.

use sea_orm::entity::prelude::*;

/// A customer id with the person (`customer_unique_id`) behind it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// Issued per order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    /// The person.
    pub customer_unique_id: String,
    /// Postal code prefix.
    pub customer_zip_code_prefix: Option<String>,
    /// City.
    pub customer_city: Option<String>,
    /// Two-letter state code.
    pub customer_state: Option<String>,
}

/// No relations are navigated through the ORM; the aggregate is SQL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
