-- The statements that read the rows of the customer_daily_stats stage: `pipeline stats` (day_rows,
-- day_totals), `top-customers`, `repeaters` and `pipeline report`. Hand-written; the stage gives them
-- to the binary (`Aggregate::day_rows`, and `Aggregate::customer_reads` for the rest, whose
-- parameters and columns `stages::CustomerRead` lists), which binds the values. Read with
-- include_str! and split at each `-- name:` line (stages::core::sql_file); $n are listed under each
-- name.
--
-- The ranking of `pipeline top-customers` is six statements, `top_by_<spent|orders|items>_per_<key>`:
-- one per order and per key of the stored rows (`person`: `customer_unique_id`; `customer_id`),
-- since an `ORDER BY` or a column cannot be a bind parameter; the stage picks the one of its
-- `customer_key`. Each customer's place is that of their latest order, looked up by that key alone.
-- The stored key is in the "C" collation, the shop tables' in the database's: the look-up compares
-- in the latter (COLLATE "default"), the one the customers' indexes are built in.
-- $1..=$2 the range, $3 the limit.

-- name: day_rows
-- The rows of day $1 (only customer $2's when it is not null), largest total_spent first, at most
-- $3 (all when null): every column but those saying which run wrote the row, in the table's order.
SELECT stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
       distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value,
       first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date,
       days_since_previous_order, is_repeat_customer
  FROM customer_daily_stats
 WHERE stat_date = $1 AND ($2::text IS NULL OR customer_unique_id = $2)
 ORDER BY total_spent DESC, customer_unique_id
 LIMIT $3;

-- name: day_totals
-- Customers, orders and revenue of day $1.
SELECT count(*), coalesce(sum(orders_count), 0)::bigint, coalesce(sum(total_spent), 0)
  FROM customer_daily_stats WHERE stat_date = $1;

-- name: top_by_spent_per_person
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY total_spent DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_unique_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY total_spent DESC, r.customer_unique_id;

-- name: top_by_orders_per_person
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY orders DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_unique_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY orders DESC, r.customer_unique_id;

-- name: top_by_items_per_person
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY items DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_unique_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY items DESC, r.customer_unique_id;

-- name: top_by_spent_per_customer_id
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY total_spent DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY total_spent DESC, r.customer_unique_id;

-- name: top_by_orders_per_customer_id
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY orders DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY orders DESC, r.customer_unique_id;

-- name: top_by_items_per_customer_id
WITH per AS (
     SELECT customer_unique_id, sum(orders_count)::bigint AS orders, sum(items_count)::bigint AS items,
            sum(total_spent) AS total_spent, min(stat_date) AS first_order_date, max(stat_date) AS last_order_date
       FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id),
ranked AS (SELECT * FROM per ORDER BY items DESC, customer_unique_id LIMIT $3)
SELECT r.customer_unique_id, r.orders, r.items, r.total_spent, r.first_order_date, r.last_order_date,
       place.customer_city, place.customer_state
  FROM ranked r
  LEFT JOIN LATERAL (
       SELECT c.customer_city, c.customer_state FROM customers c JOIN orders o ON o.customer_id = c.customer_id
        WHERE c.customer_id = r.customer_unique_id COLLATE "default"
        ORDER BY o.order_purchase_timestamp DESC, o.order_id LIMIT 1) place ON true
 ORDER BY items DESC, r.customer_unique_id;

-- name: repeater_totals
-- Over $1..=$2: the customers, those with two or more orders, those who ordered on two or more days.
SELECT count(*), count(*) FILTER (WHERE orders >= 2), count(*) FILTER (WHERE days >= 2)
  FROM (SELECT customer_unique_id, sum(orders_count) AS orders, count(*) AS days
          FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id) per;

-- name: repeater_histogram
-- Over $1..=$2: for each count of orders from two up, the customers with that many.
SELECT orders::bigint, count(*)
  FROM (SELECT customer_unique_id, sum(orders_count) AS orders, count(*) AS days
          FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2 GROUP BY customer_unique_id) per
 WHERE orders >= 2 GROUP BY orders ORDER BY orders;

-- name: stats_days
-- The first and last day of the stored statistics (the whole history when no orders are loaded).
SELECT min(stat_date), max(stat_date) FROM customer_daily_stats;

-- name: daily
-- Per day: orders (any status), customers, new customers (first purchase day), revenue.
SELECT stat_date, sum(orders_count)::bigint, count(*),
       count(*) FILTER (WHERE first_order_date = stat_date), sum(total_spent)
  FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2
 GROUP BY stat_date ORDER BY stat_date;

-- name: cohorts
-- A customer belongs to the cohort of their first purchase day; only customers whose first day
-- lies in the range are counted, each once per month in which they have a row in the range. That
-- count is taken in one pass over the rows, without a DISTINCT over customers: a row is a
-- customer's first of its month in the range unless the customer's previous purchase day
-- (`days_since_previous_order` earlier, a day with a row too) is in the same month and in the
-- range. Likewise the cohort's size counts the first purchase days themselves.
SELECT date_trunc('month', first_order_date)::date AS cohort,
       date_trunc('month', stat_date)::date AS month,
       count(*) FILTER (WHERE stat_date = first_order_date),
       count(*) FILTER (WHERE days_since_previous_order IS NULL
                           OR stat_date - days_since_previous_order < $1
                           OR date_trunc('month', stat_date - days_since_previous_order)
                              <> date_trunc('month', stat_date))
  FROM customer_daily_stats
 WHERE stat_date BETWEEN $1 AND $2 AND first_order_date BETWEEN $1 AND $2
 GROUP BY cohort, month ORDER BY cohort, month;

-- name: repeat_histogram
-- Per count of orders in the range: the customers with that many, and of them those who ordered
-- on two or more distinct days.
SELECT orders, count(*), count(*) FILTER (WHERE days >= 2)
  FROM (SELECT sum(orders_count)::bigint AS orders, count(*) AS days
          FROM customer_daily_stats WHERE stat_date BETWEEN $1 AND $2
         GROUP BY customer_unique_id) per_customer
 GROUP BY orders ORDER BY orders;

-- name: days_between_orders
-- A gap is counted on its later purchase day (the row that carries it), so a gap whose earlier day
-- precedes the range still counts.
SELECT days_since_previous_order::bigint, count(*) FROM customer_daily_stats
 WHERE stat_date BETWEEN $1 AND $2 AND days_since_previous_order IS NOT NULL
 GROUP BY 1 ORDER BY 1;

-- name: order_values
-- The values in cents with their counts (a few distinct values per currency unit): the 99th
-- percentile and the bins are taken from those, in one pass over the rows, with no sort of them.
SELECT (avg_order_value * 100)::bigint AS cents, count(*) FROM customer_daily_stats
 WHERE stat_date BETWEEN $1 AND $2 AND avg_order_value IS NOT NULL
 GROUP BY cents ORDER BY cents;
