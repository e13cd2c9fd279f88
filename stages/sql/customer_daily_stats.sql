-- The statements of the customer_daily_stats stage (stages/src/aggregates/customer_daily_stats.rs).
-- After those that hold for any customer key, each comes once per key: `_by_person` groups by the person (customer_unique_id),
-- `_by_customer_id` by the per-order customer id. The computations, one per scope, differ only in
-- which rows they compute: `compute_days` the days $1..=$2, `compute_days_from_start` the same
-- when no order precedes $1 (no need to find the days' customers first), `compute_pairs` the
-- (person, day) pairs of the temporary table `refresh_pairs`. Each reads every customer's whole
-- history up to the day, so any scope gives the rows a full backfill gives.

-- name: delete_days
-- Deletes the rows of the days $1..=$2, before a computation writes them again.
DELETE FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2;

-- name: rows_outside_days
-- Whether the table holds a row of a day outside $1..=$2: when it does not, a computation of those
-- days replaces every row, and builds the keys once after writing (stages/src/core/keys.rs). The
-- least and the greatest day are one probe at each end of the key, whatever the planner knows of
-- the table; two `EXISTS (... WHERE stat_date < $1)` were planned as scans of the whole table
-- right after a full refresh, before its statistics were gathered (1.6 s at 1M rows).
SELECT coalesce(min(stat_date) < $1 OR max(stat_date) > $2, false) FROM customer_daily_stats;

-- name: lock_for_rebuild
LOCK TABLE customer_daily_stats IN ACCESS EXCLUSIVE MODE;

-- name: erase_rows
-- Deletes the rows whose customer key is one of $1 (an erased person and their customer ids);
-- returns the rows deleted per day.
WITH deleted AS (DELETE FROM customer_daily_stats WHERE customer_unique_id = ANY($1::text[]) RETURNING stat_date)
SELECT stat_date, count(*)::bigint FROM deleted GROUP BY stat_date;

-- name: create_refresh_pairs
-- The (person, day) pairs a refresh recomputes.
CREATE TEMP TABLE refresh_pairs (person text NOT NULL, day date NOT NULL) ON COMMIT DROP;

-- name: analyze_refresh_pairs
ANALYZE refresh_pairs;

-- name: refresh_days
SELECT DISTINCT day FROM refresh_pairs ORDER BY day;

-- name: refresh_people
SELECT count(DISTINCT person) FROM refresh_pairs;

-- name: delete_refresh_pairs
-- Deletes the rows of the pairs; returns the rows deleted per day.
WITH deleted AS (
    DELETE FROM customer_daily_stats s USING refresh_pairs p
     WHERE s.customer_unique_id = p.person AND s.stat_date = p.day
    RETURNING s.stat_date)
SELECT stat_date, count(*)::bigint FROM deleted GROUP BY stat_date;

-- name: compute_days_by_person
WITH day_customers AS (SELECT DISTINCT c.customer_unique_id AS customer
                       FROM orders o JOIN customers c ON c.customer_id = o.customer_id
                      WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1),
history AS (
    SELECT d.customer AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($3::text[]) AS excluded
      FROM day_customers d
      JOIN customers c ON c.customer_unique_id = d.customer
      JOIN orders o ON o.customer_id = c.customer_id
     WHERE o.order_purchase_timestamp < $2::date + 1
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $4, clock_timestamp()
  FROM with_lifetime l
 WHERE l.day BETWEEN $1::date AND $2::date
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: compute_days_from_start_by_person
WITH day_customers AS (SELECT NULL::text AS customer WHERE false),
history AS (
    SELECT c.customer_unique_id AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($3::text[]) AS excluded
      FROM orders o JOIN customers c ON c.customer_id = o.customer_id
     WHERE o.order_purchase_timestamp < $2::date + 1
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $4, clock_timestamp()
  FROM with_lifetime l
 WHERE l.day BETWEEN $1::date AND $2::date
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: compute_pairs_by_person
WITH day_customers AS (SELECT DISTINCT person AS customer FROM refresh_pairs),
history AS (
    SELECT d.customer AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($1::text[]) AS excluded
      FROM day_customers d
      JOIN customers c ON c.customer_unique_id = d.customer
      JOIN orders o ON o.customer_id = c.customer_id
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $2, clock_timestamp()
  FROM with_lifetime l
  JOIN refresh_pairs p ON p.person = l.customer AND p.day = l.day
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: stale_pairs_by_person
WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
dirty AS (SELECT c.customer_unique_id AS person, c.day, c.id
            FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
candidates AS (
    SELECT x.person, s.stat_date AS day, x.id
      FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
    UNION ALL
    SELECT x.person, o.order_purchase_timestamp::date, x.id
      FROM dirty x
      JOIN customers c ON c.customer_unique_id = x.person
      JOIN orders o ON o.customer_id = c.customer_id
     WHERE o.order_purchase_timestamp >= x.day)
SELECT DISTINCT k.person, k.day
  FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id;

-- name: record_stale_pairs_by_person
INSERT INTO refresh_pairs (person, day)
WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
dirty AS (SELECT c.customer_unique_id AS person, c.day, c.id
            FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
candidates AS (
    SELECT x.person, s.stat_date AS day, x.id
      FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
    UNION ALL
    SELECT x.person, o.order_purchase_timestamp::date, x.id
      FROM dirty x
      JOIN customers c ON c.customer_unique_id = x.person
      JOIN orders o ON o.customer_id = c.customer_id
     WHERE o.order_purchase_timestamp >= x.day)
SELECT DISTINCT k.person, k.day
  FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id;

-- name: compute_days_by_customer_id
WITH day_customers AS (SELECT DISTINCT o.customer_id AS customer
                       FROM orders o
                      WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1),
history AS (
    SELECT d.customer AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($3::text[]) AS excluded
      FROM day_customers d
      JOIN orders o ON o.customer_id = d.customer
     WHERE o.order_purchase_timestamp < $2::date + 1
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $4, clock_timestamp()
  FROM with_lifetime l
 WHERE l.day BETWEEN $1::date AND $2::date
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: compute_days_from_start_by_customer_id
WITH day_customers AS (SELECT NULL::text AS customer WHERE false),
history AS (
    SELECT o.customer_id AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($3::text[]) AS excluded
      FROM orders o
     WHERE o.order_purchase_timestamp < $2::date + 1
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $4, clock_timestamp()
  FROM with_lifetime l
 WHERE l.day BETWEEN $1::date AND $2::date
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: compute_pairs_by_customer_id
WITH day_customers AS (SELECT DISTINCT person AS customer FROM refresh_pairs),
history AS (
    SELECT d.customer AS customer, o.order_id, o.order_purchase_timestamp AS purchased_at,
           o.order_purchase_timestamp::date AS day, o.order_status = ANY($1::text[]) AS excluded
      FROM day_customers d
      JOIN orders o ON o.customer_id = d.customer
),
day_items AS (
    SELECT h.customer, h.day, count(*) AS items_count, sum(i.price) AS items_value,
           sum(i.freight_value) AS freight_value,
           count(DISTINCT i.product_id) AS distinct_products,
           count(DISTINCT i.seller_id) AS distinct_sellers
      FROM history h JOIN order_items i ON i.order_id = h.order_id
     WHERE NOT h.excluded
     GROUP BY h.customer, h.day
),
day_orders AS (
    SELECT h.customer, h.day,
           count(*) AS orders_count,
           count(*) FILTER (WHERE h.excluded) AS canceled_orders_count,
           min(h.purchased_at) AS first_order_at,
           max(h.purchased_at) AS last_order_at
      FROM history h
     GROUP BY h.customer, h.day
),
per_day AS (
    SELECT o.customer, o.day, o.orders_count, o.canceled_orders_count,
           coalesce(x.items_count, 0) AS items_count,
           coalesce(x.items_value, 0) AS items_value,
           coalesce(x.freight_value, 0) AS freight_value,
           coalesce(x.distinct_products, 0) AS distinct_products,
           coalesce(x.distinct_sellers, 0) AS distinct_sellers,
           o.first_order_at, o.last_order_at
      FROM day_orders o LEFT JOIN day_items x ON x.customer = o.customer AND x.day = o.day
),
with_lifetime AS (
    SELECT p.*,
           sum(p.orders_count) OVER w AS lifetime_orders,
           sum(p.items_value + p.freight_value) OVER w AS lifetime_spent,
           min(p.day) OVER (PARTITION BY p.customer) AS first_order_date,
           lag(p.day) OVER w AS previous_day
      FROM per_day p
    WINDOW w AS (PARTITION BY p.customer ORDER BY p.day)
),
inserted AS (
INSERT INTO customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id, computed_at)
SELECT l.day, l.customer, l.orders_count, l.canceled_orders_count, l.items_count,
       l.distinct_products, l.distinct_sellers,
       l.items_value, l.freight_value, l.items_value + l.freight_value,
       CASE WHEN l.orders_count > l.canceled_orders_count
            THEN round((l.items_value + l.freight_value) / (l.orders_count - l.canceled_orders_count), 2) END,
       l.first_order_at, l.last_order_at, l.lifetime_orders, l.lifetime_spent, l.first_order_date,
       l.day - l.previous_day, l.lifetime_orders >= 2, $2, clock_timestamp()
  FROM with_lifetime l
  JOIN refresh_pairs p ON p.person = l.customer AND p.day = l.day
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: stale_pairs_by_customer_id
WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
dirty AS (SELECT c.customer_id AS person, c.day, c.id
            FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
candidates AS (
    SELECT x.person, s.stat_date AS day, x.id
      FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
    UNION ALL
    SELECT x.person, o.order_purchase_timestamp::date, x.id
      FROM dirty x JOIN orders o ON o.customer_id = x.person
     WHERE o.order_purchase_timestamp >= x.day)
SELECT DISTINCT k.person, k.day
  FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id;

-- name: record_stale_pairs_by_customer_id
INSERT INTO refresh_pairs (person, day)
WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1),
dirty AS (SELECT c.customer_id AS person, c.day, c.id
            FROM order_changes c, low WHERE c.id > low.id AND c.customer_id IS NOT NULL),
candidates AS (
    SELECT x.person, s.stat_date AS day, x.id
      FROM dirty x JOIN customer_daily_stats s ON s.customer_unique_id = x.person AND s.stat_date >= x.day
    UNION ALL
    SELECT x.person, o.order_purchase_timestamp::date, x.id
      FROM dirty x JOIN orders o ON o.customer_id = x.person
     WHERE o.order_purchase_timestamp >= x.day)
SELECT DISTINCT k.person, k.day
  FROM candidates k JOIN aggregate_days d ON d.stage_name = $1 AND d.day = k.day AND d.changes_seen < k.id;

-- name: copy_orders_out
-- What `engine = "datafusion"` reads of the loaded tables, in the caller's transaction (the same
-- snapshot and locks as the statements above): only the columns the statistics need, in
-- PostgreSQL's binary COPY format (no text escapes, no DateStyle). Their order is the engine's
-- table layout (stages/src/aggregates/customer_daily_stats/datafusion_engine.rs).
COPY (SELECT order_id, customer_id, order_status, order_purchase_timestamp FROM orders) TO STDOUT (FORMAT binary);

-- name: copy_customers_out
COPY (SELECT customer_id, customer_unique_id FROM customers) TO STDOUT (FORMAT binary);

-- name: copy_order_items_out
COPY (SELECT order_id, product_id, seller_id, price, freight_value FROM order_items) TO STDOUT (FORMAT binary);

-- name: table_version
-- The version of the shop table $1 (`table_versions`): another one after every statement that
-- wrote the table.
SELECT version::text FROM table_versions WHERE table_name = $1;

-- name: copy_rows_in
-- The rows another engine computed, back into the table in the caller's transaction (binary
-- format); `computed_at` takes its default, the transaction's time.
COPY customer_daily_stats (
    stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
    distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
    first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
    days_since_previous_order, is_repeat_customer, run_id) FROM STDIN (FORMAT binary);
