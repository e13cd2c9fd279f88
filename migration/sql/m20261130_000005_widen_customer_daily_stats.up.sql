-- Widens `customer_daily_stats` so that no accepted input can overflow it. Its sums add up item
-- prices over a day and over a person's whole history, and its counts count rows; neither is bounded
-- by any one line's value. Each money column becomes `numeric(28,2)`: a sum over every item the
-- database can hold (each at most 9999999999.99 of price plus as much freight) stays below 10^26, and
-- 28 digits still fit the decimal type the reports read it into. Each count becomes `bigint`, which no
-- table's number of rows can reach.

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
