-- The statistics of customer_daily_stats in DataFusion's dialect, for `engine = "datafusion"`
-- (stages/src/aggregates/customer_daily_stats/datafusion_engine.rs): the same columns, defined the same
-- way, as stages/sql/customer_daily_stats.sql, which is their reference; pipeline/tests/engine.rs
-- runs both on the same data and compares every row and column.
--
-- They read the tables the engine registers, named and typed as PostgreSQL's (only the columns the
-- statistics need): orders (order_id, customer_id, order_status, order_purchase_timestamp),
-- customers (customer_id, customer_unique_id), order_items (order_id, product_id, seller_id,
-- price, freight_value) and excluded_statuses (status): the option `excluded_statuses`, one row
-- each. $1 and $2 are the first and last day to compute.
--
-- The statements differ from PostgreSQL's in four ways, none in what a column means:
-- * every customer's history up to $2 is computed and the days $1..=$2 kept: a customer's rows
--   depend on their own orders only, so the rows kept are those of the days' customers, and no
--   customer list is looked up first;
-- * the distinct counts are two levels, in one pass over the items: `GROUPING SETS` groups them by
--   (customer, day, product) and by (customer, day, seller) at once (product and seller are never
--   NULL, so the set a row belongs to is the one whose column is not NULL), then each day counts
--   its rows of each set. DataFusion's `count(DISTINCT ...)` keeps a set per group and ran out of
--   memory over a million groups, and a CTE read three times is computed three times;
-- * the average is rounded half away from zero in whole cents (the money is exact at two
--   decimals, so this is PostgreSQL's `round(numeric, 2)`);
-- * the money columns are cast to numeric(28,2), the table's type; `run_id` and `computed_at` are
--   added when the rows are written.

-- name: compute_by_person
WITH history AS (
    SELECT c.customer_unique_id AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           CAST(o.order_purchase_timestamp AS DATE) AS day, x.status IS NOT NULL AS excluded
      FROM orders o
      JOIN customers c ON c.customer_id = o.customer_id
      LEFT JOIN excluded_statuses x ON x.status = o.order_status
     WHERE CAST(o.order_purchase_timestamp AS DATE) <= $2
),
item_sets AS (
    SELECT h.customer, h.day, i.product_id, i.seller_id, count(*) AS items_count,
           sum(i.price) AS items_value, sum(i.freight_value) AS freight_value
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY GROUPING SETS ((h.customer, h.day, i.product_id), (h.customer, h.day, i.seller_id))
),
day_items AS (
    SELECT customer, day,
           sum(CASE WHEN product_id IS NOT NULL THEN items_count END) AS items_count,
           sum(CASE WHEN product_id IS NOT NULL THEN items_value END) AS items_value,
           sum(CASE WHEN product_id IS NOT NULL THEN freight_value END) AS freight_value,
           count(product_id) AS distinct_products,
           count(seller_id) AS distinct_sellers
      FROM item_sets
     GROUP BY customer, day
),
day_orders AS (
    SELECT customer, day,
           count(*) AS orders_count,
           sum(CASE WHEN excluded THEN 1 ELSE 0 END) AS canceled_orders_count,
           min(purchased_at) AS first_order_at,
           max(purchased_at) AS last_order_at
      FROM history
     GROUP BY customer, day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o
      LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day,
           CAST((p.items_value + p.freight_value) * 100 AS BIGINT) AS spent_cents,
           p.orders_count - p.canceled_orders_count AS counted_orders
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
)
SELECT l.day AS stat_date, l.customer AS customer_unique_id, l.orders_count,
       l.canceled_orders_count, l.items_count, l.distinct_products, l.distinct_sellers,
       CAST(l.items_value AS DECIMAL(28, 2)) AS items_value,
       CAST(l.freight_value AS DECIMAL(28, 2)) AS freight_value,
       CAST(l.items_value + l.freight_value AS DECIMAL(28, 2)) AS total_spent,
       CAST(CAST(CASE WHEN l.counted_orders > 0
                      THEN CASE WHEN l.spent_cents >= 0
                                THEN (2 * l.spent_cents + l.counted_orders) / (2 * l.counted_orders)
                                ELSE -((l.counted_orders - 2 * l.spent_cents) / (2 * l.counted_orders)) END
                 END AS DECIMAL(28, 0)) / 100 AS DECIMAL(28, 2)) AS avg_order_value,
       l.first_order_at, l.last_order_at, l.lifetime_orders,
       CAST(l.lifetime_spent AS DECIMAL(28, 2)) AS lifetime_spent, l.first_order_date,
       CAST(l.day AS INT) - CAST(l.previous_day AS INT) AS days_since_previous_order,
       l.lifetime_orders >= 2 AS is_repeat_customer
  FROM with_lifetime l
 WHERE l.day BETWEEN $1 AND $2;

-- name: compute_by_customer_id
WITH history AS (
    SELECT o.customer_id AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           CAST(o.order_purchase_timestamp AS DATE) AS day, x.status IS NOT NULL AS excluded
      FROM orders o
      LEFT JOIN excluded_statuses x ON x.status = o.order_status
     WHERE CAST(o.order_purchase_timestamp AS DATE) <= $2
),
item_sets AS (
    SELECT h.customer, h.day, i.product_id, i.seller_id, count(*) AS items_count,
           sum(i.price) AS items_value, sum(i.freight_value) AS freight_value
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY GROUPING SETS ((h.customer, h.day, i.product_id), (h.customer, h.day, i.seller_id))
),
day_items AS (
    SELECT customer, day,
           sum(CASE WHEN product_id IS NOT NULL THEN items_count END) AS items_count,
           sum(CASE WHEN product_id IS NOT NULL THEN items_value END) AS items_value,
           sum(CASE WHEN product_id IS NOT NULL THEN freight_value END) AS freight_value,
           count(product_id) AS distinct_products,
           count(seller_id) AS distinct_sellers
      FROM item_sets
     GROUP BY customer, day
),
day_orders AS (
    SELECT customer, day,
           count(*) AS orders_count,
           sum(CASE WHEN excluded THEN 1 ELSE 0 END) AS canceled_orders_count,
           min(purchased_at) AS first_order_at,
           max(purchased_at) AS last_order_at
      FROM history
     GROUP BY customer, day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o
      LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day,
           CAST((p.items_value + p.freight_value) * 100 AS BIGINT) AS spent_cents,
           p.orders_count - p.canceled_orders_count AS counted_orders
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
)
SELECT l.day AS stat_date, l.customer AS customer_unique_id, l.orders_count,
       l.canceled_orders_count, l.items_count, l.distinct_products, l.distinct_sellers,
       CAST(l.items_value AS DECIMAL(28, 2)) AS items_value,
       CAST(l.freight_value AS DECIMAL(28, 2)) AS freight_value,
       CAST(l.items_value + l.freight_value AS DECIMAL(28, 2)) AS total_spent,
       CAST(CAST(CASE WHEN l.counted_orders > 0
                      THEN CASE WHEN l.spent_cents >= 0
                                THEN (2 * l.spent_cents + l.counted_orders) / (2 * l.counted_orders)
                                ELSE -((l.counted_orders - 2 * l.spent_cents) / (2 * l.counted_orders)) END
                 END AS DECIMAL(28, 0)) / 100 AS DECIMAL(28, 2)) AS avg_order_value,
       l.first_order_at, l.last_order_at, l.lifetime_orders,
       CAST(l.lifetime_spent AS DECIMAL(28, 2)) AS lifetime_spent, l.first_order_date,
       CAST(l.day AS INT) - CAST(l.previous_day AS INT) AS days_since_previous_order,
       l.lifetime_orders >= 2 AS is_repeat_customer
  FROM with_lifetime l
 WHERE l.day BETWEEN $1 AND $2;
