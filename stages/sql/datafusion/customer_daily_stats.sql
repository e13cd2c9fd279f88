-- The statistics of customer_daily_stats in DataFusion's dialect, for `engine = "datafusion"`
-- (stages/src/aggregates/customer_daily_stats/datafusion_engine.rs): the same columns, defined the same
-- way, as stages/sql/customer_daily_stats.sql, which is their reference; pipeline/tests/engine.rs
-- runs both on the same data and compares every row and column.
--
-- They read the tables the engine registers, named as PostgreSQL's (only the columns the
-- statistics need): orders (order_id, customer_id, order_status, order_purchase_timestamp),
-- customers (customer_id, customer_unique_id), order_items (order_id, product_id, seller_id,
-- price, freight_value) and excluded_statuses (status): the option `excluded_statuses`, one row
-- each. $1 and $2 are the first and last day to compute. The identifiers are text, or numbers
-- where the engine numbered them (in-process): the statements only compare them for equality and
-- sort by them to keep each customer's rows together, so either gives the same rows.
--
-- The statements differ from PostgreSQL's in five ways, none in what a column means:
-- * every customer's history up to $2 is computed and the days $1..=$2 kept: a customer's rows
--   depend on their own orders only, so the rows kept are those of the days' customers, and no
--   customer list is looked up first;
-- * the distinct counts are two levels, in one pass over the items: `GROUPING SETS` groups them by
--   (customer, day, product) and by (customer, day, seller) at once (product and seller are never
--   NULL, so the set a row belongs to is the one whose column is not NULL), then each day counts
--   its rows of each set. DataFusion's `count(DISTINCT ...)` keeps a set per group and ran out of
--   memory over a million groups, and a CTE is computed once per reference (`history`, cheap, is
--   read three times);
-- * the lifetime columns are running totals over one ordering of every (customer, day) row by
--   customer then day, not a window per customer: DataFusion evaluates a window partition by
--   partition, which over a million customers was three quarters of the computation. A customer's
--   own totals are the running totals minus those just before the customer's first row; those are
--   carried to the customer's later rows by a running max, which finds the latest first row
--   because the carried values never decrease: orders count at least 1 each, and money is summed
--   as its positive and its negative parts apart (exact whatever the sign). The previous day is the
--   previous row's, unless the row starts its customer; the first order day is each customer's
--   least, joined;
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
first_days AS (
    SELECT customer, min(day) AS first_order_date
      FROM history
     GROUP BY customer
),
signed AS (
    SELECT p.*, p.items_value + p.freight_value AS spent,
           CASE WHEN p.items_value + p.freight_value > 0 THEN p.items_value + p.freight_value ELSE 0 END AS spent_up,
           CASE WHEN p.items_value + p.freight_value < 0 THEN -(p.items_value + p.freight_value) ELSE 0 END AS spent_down
      FROM per_day p
),
running AS (
    SELECT s.*,
           sum(s.orders_count) OVER r AS orders_through,
           sum(s.spent_up) OVER r AS up_through,
           sum(s.spent_down) OVER r AS down_through,
           lag(s.customer) OVER r AS previous_customer,
           lag(s.day) OVER r AS previous_row_day
      FROM signed s
    WINDOW r AS (ORDER BY s.customer, s.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
marked AS (
    SELECT r.*, r.previous_customer IS NULL OR r.previous_customer <> r.customer AS starts_customer
      FROM running r
),
with_lifetime AS (
    SELECT m.*,
           m.orders_through
             - max(CASE WHEN m.starts_customer THEN m.orders_through - m.orders_count END) OVER r
             AS lifetime_orders,
           (m.up_through - max(CASE WHEN m.starts_customer THEN m.up_through - m.spent_up END) OVER r)
             - (m.down_through - max(CASE WHEN m.starts_customer THEN m.down_through - m.spent_down END) OVER r)
             AS lifetime_spent,
           CASE WHEN m.starts_customer THEN NULL ELSE m.previous_row_day END AS previous_day,
           CAST(m.spent * 100 AS BIGINT) AS spent_cents,
           m.orders_count - m.canceled_orders_count AS counted_orders
      FROM marked m
    WINDOW r AS (ORDER BY m.customer, m.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
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
       CAST(l.lifetime_spent AS DECIMAL(28, 2)) AS lifetime_spent, f.first_order_date,
       CAST(l.day AS INT) - CAST(l.previous_day AS INT) AS days_since_previous_order,
       l.lifetime_orders >= 2 AS is_repeat_customer
  FROM with_lifetime l
  JOIN first_days f ON f.customer = l.customer
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
first_days AS (
    SELECT customer, min(day) AS first_order_date
      FROM history
     GROUP BY customer
),
signed AS (
    SELECT p.*, p.items_value + p.freight_value AS spent,
           CASE WHEN p.items_value + p.freight_value > 0 THEN p.items_value + p.freight_value ELSE 0 END AS spent_up,
           CASE WHEN p.items_value + p.freight_value < 0 THEN -(p.items_value + p.freight_value) ELSE 0 END AS spent_down
      FROM per_day p
),
running AS (
    SELECT s.*,
           sum(s.orders_count) OVER r AS orders_through,
           sum(s.spent_up) OVER r AS up_through,
           sum(s.spent_down) OVER r AS down_through,
           lag(s.customer) OVER r AS previous_customer,
           lag(s.day) OVER r AS previous_row_day
      FROM signed s
    WINDOW r AS (ORDER BY s.customer, s.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
marked AS (
    SELECT r.*, r.previous_customer IS NULL OR r.previous_customer <> r.customer AS starts_customer
      FROM running r
),
with_lifetime AS (
    SELECT m.*,
           m.orders_through
             - max(CASE WHEN m.starts_customer THEN m.orders_through - m.orders_count END) OVER r
             AS lifetime_orders,
           (m.up_through - max(CASE WHEN m.starts_customer THEN m.up_through - m.spent_up END) OVER r)
             - (m.down_through - max(CASE WHEN m.starts_customer THEN m.down_through - m.spent_down END) OVER r)
             AS lifetime_spent,
           CASE WHEN m.starts_customer THEN NULL ELSE m.previous_row_day END AS previous_day,
           CAST(m.spent * 100 AS BIGINT) AS spent_cents,
           m.orders_count - m.canceled_orders_count AS counted_orders
      FROM marked m
    WINDOW r AS (ORDER BY m.customer, m.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
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
       CAST(l.lifetime_spent AS DECIMAL(28, 2)) AS lifetime_spent, f.first_order_date,
       CAST(l.day AS INT) - CAST(l.previous_day AS INT) AS days_since_previous_order,
       l.lifetime_orders >= 2 AS is_repeat_customer
  FROM with_lifetime l
  JOIN first_days f ON f.customer = l.customer
 WHERE l.day BETWEEN $1 AND $2;
