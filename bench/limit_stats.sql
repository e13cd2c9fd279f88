-- The limit of the backfill benchmark: one set-based statement computing every row of
-- customer_daily_stats for the whole history (customer key customer_unique_id, excluded statuses
-- canceled and unavailable), written independently of the stage's SQL. bench.py also checks that its
-- rows equal the stage's.
-- It writes the rows as pg_restore would, the strongest way PostgreSQL has: `CREATE TABLE AS` into a
-- new table (logged, the columns typed as customer_daily_stats's, the key in its "C" collation),
-- then the same primary key and index, built once over the rows with the maintenance memory the
-- pipeline's key builds get.
DROP TABLE IF EXISTS limit_stats;
SET maintenance_work_mem = '256MB';
CREATE TABLE limit_stats AS
WITH o AS (
    SELECT c.customer_unique_id AS customer, o.order_id, o.order_purchase_timestamp AS ts,
           o.order_purchase_timestamp::date AS day, o.order_status IN ('canceled', 'unavailable') AS excluded
      FROM orders o JOIN customers c USING (customer_id)
), i AS (
    SELECT o.customer, o.day, count(*) AS items, count(DISTINCT i.product_id) AS products,
           count(DISTINCT i.seller_id) AS sellers, sum(i.price) AS items_value, sum(i.freight_value) AS freight
      FROM o JOIN order_items i USING (order_id)
     WHERE NOT o.excluded
     GROUP BY o.customer, o.day
), d AS (
    SELECT customer, day, count(*) AS orders, count(*) FILTER (WHERE excluded) AS canceled,
           min(ts) AS first_at, max(ts) AS last_at
      FROM o GROUP BY customer, day
)
SELECT d.day AS stat_date, d.customer COLLATE "C" AS customer_unique_id, d.orders::bigint AS orders_count,
       d.canceled::bigint AS canceled_orders_count, coalesce(i.items, 0)::bigint AS items_count,
       coalesce(i.products, 0)::bigint AS distinct_products, coalesce(i.sellers, 0)::bigint AS distinct_sellers,
       coalesce(i.items_value, 0)::numeric(28,2) AS items_value, coalesce(i.freight, 0)::numeric(28,2) AS freight_value,
       (coalesce(i.items_value, 0) + coalesce(i.freight, 0))::numeric(28,2) AS total_spent,
       CASE WHEN d.orders > d.canceled
            THEN round((coalesce(i.items_value, 0) + coalesce(i.freight, 0)) / (d.orders - d.canceled), 2) END::numeric(28,2) AS avg_order_value,
       d.first_at AS first_order_at, d.last_at AS last_order_at,
       (sum(d.orders) OVER w)::bigint AS lifetime_orders,
       (sum(coalesce(i.items_value, 0) + coalesce(i.freight, 0)) OVER w)::numeric(28,2) AS lifetime_spent,
       min(d.day) OVER (PARTITION BY d.customer) AS first_order_date,
       d.day - lag(d.day) OVER w AS days_since_previous_order,
       sum(d.orders) OVER w >= 2 AS is_repeat_customer,
       0::bigint AS run_id, now() AS computed_at
  FROM d LEFT JOIN i USING (customer, day)
WINDOW w AS (PARTITION BY d.customer ORDER BY d.day);
ALTER TABLE limit_stats ADD PRIMARY KEY (stat_date, customer_unique_id);
CREATE INDEX ON limit_stats (customer_unique_id);
