-- `customer_daily_stats`: one row per (day, customer) with at least one order that day. Its column
-- names are a public interface (analysts query them), see the README for each definition.

CREATE TABLE customer_daily_stats (
    stat_date date NOT NULL,
    customer_unique_id text NOT NULL,
    orders_count integer NOT NULL,
    canceled_orders_count integer NOT NULL,
    items_count integer NOT NULL,
    distinct_products integer NOT NULL,
    distinct_sellers integer NOT NULL,
    items_value numeric(14,2) NOT NULL,
    freight_value numeric(14,2) NOT NULL,
    total_spent numeric(14,2) NOT NULL,
    avg_order_value numeric(14,2),
    first_order_at timestamp NOT NULL,
    last_order_at timestamp NOT NULL,
    lifetime_orders integer NOT NULL,
    lifetime_spent numeric(14,2) NOT NULL,
    first_order_date date NOT NULL,
    days_since_previous_order integer,
    is_repeat_customer boolean NOT NULL,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stat_date, customer_unique_id)
);

CREATE INDEX customer_daily_stats_customer_idx ON customer_daily_stats (customer_unique_id);
