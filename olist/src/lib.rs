//! The four datasets of the Olist layout: their files, columns, value kinds, keys and references, and
//! the order statuses. Every table and column name the stages put into SQL comes from here, a fixed
//! list in code, never from input; the generator writes its files from the same lists.
//!
//! This crate knows the shape of the data only: it depends on no database library, so what reads
//! or writes Olist files (the generator, the fuzz targets) can use it without the stages.

/// One of the four shop datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dataset {
    /// `olist_customers_dataset.csv` → `customers`.
    Customers,
    /// `olist_products_dataset.csv` → `products`.
    Products,
    /// `olist_orders_dataset.csv` → `orders`.
    Orders,
    /// `olist_order_items_dataset.csv` → `order_items`.
    OrderItems,
}

/// What a column's values must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An identifier: letters, digits, `-` and `_`, at most 64 characters.
    Id,
    /// Free text.
    Text,
    /// A postal code prefix: digits only.
    ZipPrefix,
    /// A two-letter state code.
    State,
    /// An event that has happened: `YYYY-MM-DD HH:MM:SS`, not later than the run time.
    EventTimestamp,
    /// A planned moment (estimated delivery, shipping limit): may lie ahead of the run time.
    PlannedTimestamp,
    /// One of Olist's order statuses ([`ORDER_STATUSES`]).
    Status,
    /// A non-negative amount with at most two decimals.
    Money,
    /// A 32-bit integer, not negative.
    Count,
    /// A positive 32-bit integer (item sequence numbers start at 1).
    Sequence,
}

/// Olist's order statuses: the values a [`Kind::Status`] column accepts.
pub const ORDER_STATUSES: [&str; 8] = [
    "created",
    "approved",
    "invoiced",
    "processing",
    "shipped",
    "delivered",
    "canceled",
    "unavailable",
];

/// One column: its header name in the CSV, its name in the table, its kind and whether a value is required.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The header name in Olist's files.
    pub csv: &'static str,
    /// Another header name accepted for the same column (a corrected spelling), if any.
    pub csv_alias: Option<&'static str>,
    /// The column in the table.
    pub table: &'static str,
    /// The SQL type of the column.
    pub sql_type: &'static str,
    /// What values must look like.
    pub kind: Kind,
    /// Whether an empty value rejects the line.
    pub required: bool,
}

const fn col(csv: &'static str, sql_type: &'static str, kind: Kind, required: bool) -> Column {
    Column {
        csv,
        csv_alias: None,
        table: csv,
        sql_type,
        kind,
        required,
    }
}

const CUSTOMERS: &[Column] = &[
    col("customer_id", "text", Kind::Id, true),
    col("customer_unique_id", "text", Kind::Id, true),
    col("customer_zip_code_prefix", "text", Kind::ZipPrefix, false),
    col("customer_city", "text", Kind::Text, false),
    col("customer_state", "text", Kind::State, false),
];

const PRODUCTS: &[Column] = &[
    col("product_id", "text", Kind::Id, true),
    col("product_category_name", "text", Kind::Text, false),
    Column {
        csv: "product_name_lenght",
        csv_alias: Some("product_name_length"),
        table: "product_name_length",
        sql_type: "integer",
        kind: Kind::Count,
        required: false,
    },
    Column {
        csv: "product_description_lenght",
        csv_alias: Some("product_description_length"),
        table: "product_description_length",
        sql_type: "integer",
        kind: Kind::Count,
        required: false,
    },
    col("product_photos_qty", "integer", Kind::Count, false),
    col("product_weight_g", "integer", Kind::Count, false),
    col("product_length_cm", "integer", Kind::Count, false),
    col("product_height_cm", "integer", Kind::Count, false),
    col("product_width_cm", "integer", Kind::Count, false),
];

const ORDERS: &[Column] = &[
    col("order_id", "text", Kind::Id, true),
    col("customer_id", "text", Kind::Id, true),
    col("order_status", "text", Kind::Status, true),
    col(
        "order_purchase_timestamp",
        "timestamp",
        Kind::EventTimestamp,
        true,
    ),
    col(
        "order_approved_at",
        "timestamp",
        Kind::EventTimestamp,
        false,
    ),
    col(
        "order_delivered_carrier_date",
        "timestamp",
        Kind::EventTimestamp,
        false,
    ),
    col(
        "order_delivered_customer_date",
        "timestamp",
        Kind::EventTimestamp,
        false,
    ),
    col(
        "order_estimated_delivery_date",
        "timestamp",
        Kind::PlannedTimestamp,
        false,
    ),
];

const ORDER_ITEMS: &[Column] = &[
    col("order_id", "text", Kind::Id, true),
    col("order_item_id", "integer", Kind::Sequence, true),
    col("product_id", "text", Kind::Id, true),
    col("seller_id", "text", Kind::Id, true),
    col(
        "shipping_limit_date",
        "timestamp",
        Kind::PlannedTimestamp,
        true,
    ),
    col("price", "numeric(12,2)", Kind::Money, true),
    col("freight_value", "numeric(12,2)", Kind::Money, true),
];

/// A reference from one dataset's column to another dataset's key.
#[derive(Clone, Copy, Debug)]
pub struct Reference {
    /// The referring column (same name in both tables).
    pub column: &'static str,
    /// The dataset referred to.
    pub target: Dataset,
}

impl Dataset {
    /// The order datasets are loaded in: referred-to before referring.
    pub const LOAD_ORDER: [Dataset; 4] = [
        Dataset::Customers,
        Dataset::Products,
        Dataset::Orders,
        Dataset::OrderItems,
    ];

    /// The dataset's name, which is also its table's.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Customers => "customers",
            Dataset::Products => "products",
            Dataset::Orders => "orders",
            Dataset::OrderItems => "order_items",
        }
    }

    /// The dataset named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Dataset> {
        Self::LOAD_ORDER.into_iter().find(|d| d.name() == name)
    }

    /// The table rows are loaded into.
    #[must_use]
    pub fn table(self) -> &'static str {
        self.name()
    }

    /// Olist's file name for the dataset.
    #[must_use]
    pub fn default_file(self) -> &'static str {
        match self {
            Dataset::Customers => "olist_customers_dataset.csv",
            Dataset::Products => "olist_products_dataset.csv",
            Dataset::Orders => "olist_orders_dataset.csv",
            Dataset::OrderItems => "olist_order_items_dataset.csv",
        }
    }

    /// The dataset's columns, in table order.
    #[must_use]
    pub fn columns(self) -> &'static [Column] {
        match self {
            Dataset::Customers => CUSTOMERS,
            Dataset::Products => PRODUCTS,
            Dataset::Orders => ORDERS,
            Dataset::OrderItems => ORDER_ITEMS,
        }
    }

    /// The columns of the primary key.
    #[must_use]
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Dataset::Customers => &["customer_id"],
            Dataset::Products => &["product_id"],
            Dataset::Orders => &["order_id"],
            Dataset::OrderItems => &["order_id", "order_item_id"],
        }
    }

    /// The references the dataset's rows must satisfy.
    #[must_use]
    pub fn references(self) -> &'static [Reference] {
        match self {
            Dataset::Customers | Dataset::Products => &[],
            Dataset::Orders => &[Reference {
                column: "customer_id",
                target: Dataset::Customers,
            }],
            Dataset::OrderItems => &[
                Reference {
                    column: "order_id",
                    target: Dataset::Orders,
                },
                Reference {
                    column: "product_id",
                    target: Dataset::Products,
                },
            ],
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_references_name_existing_columns() {
        for dataset in Dataset::LOAD_ORDER {
            let names: Vec<&str> = dataset.columns().iter().map(|c| c.table).collect();
            for key in dataset.key() {
                assert!(names.contains(key), "{dataset}: key {key}");
            }
            for reference in dataset.references() {
                assert!(names.contains(&reference.column));
                assert!(
                    reference
                        .target
                        .columns()
                        .iter()
                        .any(|c| c.table == reference.column)
                );
                assert!(
                    Dataset::LOAD_ORDER
                        .iter()
                        .position(|d| *d == reference.target)
                        < Dataset::LOAD_ORDER.iter().position(|d| *d == dataset),
                    "{dataset} must load after {}",
                    reference.target
                );
            }
        }
    }

    #[test]
    fn misspelt_olist_headers_map_to_correct_columns() {
        let products = Dataset::Products.columns();
        assert!(
            products
                .iter()
                .any(|c| c.csv == "product_name_lenght" && c.table == "product_name_length")
        );
        assert!(products.iter().all(|c| !c.table.contains("lenght")));
    }
}
