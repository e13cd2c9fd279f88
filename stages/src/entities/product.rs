//! A row of `products`.

use sea_orm::entity::prelude::*;

/// A product (Olist's misspelt `_lenght` columns are spelt correctly here).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    /// Key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: String,
    /// Category, when known.
    pub product_category_name: Option<String>,
    /// Characters in the product name.
    pub product_name_length: Option<i32>,
    /// Characters in the description.
    pub product_description_length: Option<i32>,
    /// Photos.
    pub product_photos_qty: Option<i32>,
    /// Weight in grams.
    pub product_weight_g: Option<i32>,
    /// Length in cm.
    pub product_length_cm: Option<i32>,
    /// Height in cm.
    pub product_height_cm: Option<i32>,
    /// Width in cm.
    pub product_width_cm: Option<i32>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
