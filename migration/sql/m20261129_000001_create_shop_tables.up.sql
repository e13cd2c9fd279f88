-- The four shop datasets (Olist layout), typed, with their keys, references and the indexes the
-- per-day aggregate reads through. Column names are the CSV's, except Olist's misspelt
-- `product_name_lenght` / `product_description_lenght`, which become `product_name_length` /
-- `product_description_length`.

CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    customer_unique_id text NOT NULL,
    customer_zip_code_prefix text,
    customer_city text,
    customer_state text
);

CREATE INDEX customers_customer_unique_id_idx ON customers (customer_unique_id);

CREATE TABLE products (
    product_id text PRIMARY KEY,
    product_category_name text,
    product_name_length integer,
    product_description_length integer,
    product_photos_qty integer,
    product_weight_g integer,
    product_length_cm integer,
    product_height_cm integer,
    product_width_cm integer
);

CREATE TABLE orders (
    order_id text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (customer_id),
    order_status text NOT NULL,
    order_purchase_timestamp timestamp NOT NULL,
    order_approved_at timestamp,
    order_delivered_carrier_date timestamp,
    order_delivered_customer_date timestamp,
    order_estimated_delivery_date timestamp
);

CREATE INDEX orders_purchase_timestamp_idx ON orders (order_purchase_timestamp);

CREATE INDEX orders_customer_id_idx ON orders (customer_id);

CREATE TABLE order_items (
    order_id text NOT NULL REFERENCES orders (order_id),
    order_item_id integer NOT NULL,
    product_id text NOT NULL REFERENCES products (product_id),
    seller_id text NOT NULL,
    shipping_limit_date timestamp NOT NULL,
    price numeric(12,2) NOT NULL,
    freight_value numeric(12,2) NOT NULL,
    PRIMARY KEY (order_id, order_item_id)
);

CREATE INDEX order_items_product_id_idx ON order_items (product_id);
