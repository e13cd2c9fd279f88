-- `aggregate_days.row_key`: what the rows of each computed day hold as their key, the source column
-- that fills it (`customer_unique_id`, or `customer_id` when `customer_daily_stats` runs with
-- `customer_key = "customer_id"`, `product_id`). The column `customer_daily_stats.customer_unique_id`
-- keeps its name either way (people query it); this says what it holds. Days computed before this
-- migration have none recorded (NULL) until they are computed again.

ALTER TABLE aggregate_days ADD COLUMN row_key text;
