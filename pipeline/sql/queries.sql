-- The statements of the read commands (pipeline/src/queries.rs), which reads them with include_str!
-- and splits them at each `-- name:` line (stages::sql_file). Values are bind parameters; $n are
-- listed under each name. The day's rows of `stats` are the stage's own (`Aggregate::day_rows`,
-- stages/sql/reads/<type>.sql), and so are the customer aggregate's day totals.
--
-- The ranking of `pipeline top-customers` is six statements, `top_by_<spent|orders|items>_per_<key>`:
-- one per order and per key of the stored rows (`person`: `customer_unique_id`; `customer_id`),
-- since an `ORDER BY` or a column cannot be a bind parameter. Each customer's place is that of
-- their latest order, looked up by that key alone. $1..=$2 the range, $3 the limit.

-- name: missing_days
-- Days of $2..=$3 that the aggregate stage $1 never computed.
SELECT count(*) FROM generate_series($2::date, $3::date, interval '1 day') d
 WHERE NOT EXISTS (SELECT 1 FROM aggregate_days a WHERE a.stage_name = $1 AND a.day = d::date);

-- name: computed_rows
-- The rows the aggregate stage $1 recorded for day $2 (no row when it never computed the day).
SELECT rows FROM aggregate_days WHERE stage_name = $1 AND day = $2;

-- name: computed_since
-- Days the aggregate stage $1 computed after $2.
SELECT day FROM aggregate_days WHERE stage_name = $1 AND computed_at > $2;

-- name: current_load_runs
-- The loads that read the files the tables hold now.
SELECT DISTINCT run_id FROM loaded_files ORDER BY run_id;

-- name: latest_load_run
-- The latest successful run of the load stages named in $1.
SELECT max(id) FROM pipeline_runs
 WHERE kind = 'stage' AND status = 'succeeded' AND stage_name = ANY($1);

-- name: rejected_count
-- Lines rejected by the runs $1.
SELECT count(*) FROM rejected_rows WHERE run_id = ANY($1);

-- name: rejected_lines
-- Lines rejected by the runs $1, at most $2, grouped by rule (largest group first), then by file
-- and line. The rule is the database's `reject_rule` (migration 000009), as in the report's chart.
WITH r AS (
     SELECT run_id, dataset, source_file, line_number, reason, raw_line,
            reject_rule(reason) AS rule
       FROM rejected_rows WHERE run_id = ANY($1))
SELECT run_id, dataset, source_file, line_number, reason, rule, raw_line
  FROM r
 ORDER BY count(*) OVER (PARTITION BY dataset, rule) DESC, dataset, rule, source_file, line_number
 LIMIT $2;

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
        WHERE c.customer_unique_id = r.customer_unique_id
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
        WHERE c.customer_unique_id = r.customer_unique_id
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
        WHERE c.customer_unique_id = r.customer_unique_id
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
        WHERE c.customer_id = r.customer_unique_id
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
        WHERE c.customer_id = r.customer_unique_id
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
        WHERE c.customer_id = r.customer_unique_id
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
