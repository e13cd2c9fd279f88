ALTER TABLE customer_daily_stats
    ALTER COLUMN orders_count TYPE integer,
    ALTER COLUMN canceled_orders_count TYPE integer,
    ALTER COLUMN items_count TYPE integer,
    ALTER COLUMN distinct_products TYPE integer,
    ALTER COLUMN distinct_sellers TYPE integer,
    ALTER COLUMN items_value TYPE numeric(14,2),
    ALTER COLUMN freight_value TYPE numeric(14,2),
    ALTER COLUMN total_spent TYPE numeric(14,2),
    ALTER COLUMN avg_order_value TYPE numeric(14,2),
    ALTER COLUMN lifetime_orders TYPE integer,
    ALTER COLUMN lifetime_spent TYPE numeric(14,2);
