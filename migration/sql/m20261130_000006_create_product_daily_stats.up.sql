-- Creates `product_daily_stats`, the table of the `product_daily_stats` aggregate stage: per day and
-- product, what was sold.

CREATE TABLE product_daily_stats (
    stat_date date NOT NULL,
    product_id text NOT NULL,
    orders_count bigint NOT NULL,
    items_count bigint NOT NULL,
    items_value numeric(28,2) NOT NULL,
    freight_value numeric(28,2) NOT NULL,
    customers_count bigint NOT NULL,
    run_id bigint NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (stat_date, product_id)
);
