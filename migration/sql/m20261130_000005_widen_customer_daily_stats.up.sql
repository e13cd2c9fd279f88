ALTER TABLE customer_daily_stats
    ALTER COLUMN orders_count TYPE bigint,
    ALTER COLUMN canceled_orders_count TYPE bigint,
    ALTER COLUMN items_count TYPE bigint,
    ALTER COLUMN distinct_products TYPE bigint,
    ALTER COLUMN distinct_sellers TYPE bigint,
    ALTER COLUMN items_value TYPE numeric(28,2),
    ALTER COLUMN freight_value TYPE numeric(28,2),
    ALTER COLUMN total_spent TYPE numeric(28,2),
    ALTER COLUMN avg_order_value TYPE numeric(28,2),
    ALTER COLUMN lifetime_orders TYPE bigint,
    ALTER COLUMN lifetime_spent TYPE numeric(28,2);
