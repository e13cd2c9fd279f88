-- The statements of `pipeline report` (pipeline/src/report/data.rs), which reads them with
-- include_str! and splits them at each `-- name:` line (stages::sql_file). Every series is computed
-- set-based from the stored tables over the days $1..=$2, in one read-only snapshot.

-- name: snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;

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

-- name: recent_loads
-- The latest successful runs of the load types $1, at most $2, newest first.
SELECT id, started_at, rows_read, rows_rejected FROM pipeline_runs
 WHERE kind = 'stage' AND status = 'succeeded' AND stage_type = ANY($1)
 ORDER BY id DESC LIMIT $2;

-- name: rejected_by_reason
-- Lines rejected by the runs $1 by rule. Reasons carry the offending values; grouping by the text
-- with values masked gathers the lines rejected for the same rule: the database's `reject_rule`
-- (migration 000009, which says how values, timestamps, dates and numbers are masked), as
-- `pipeline rejects` groups them.
SELECT dataset || ': ' || reject_rule(reason) AS kind,
       count(*)
  FROM rejected_rows WHERE run_id = ANY($1)
 GROUP BY kind ORDER BY count(*) DESC, kind;

-- name: recent_runs
-- The latest runs of any stage, at most $1, newest first.
SELECT id, stage_name, status, started_at,
       extract(epoch FROM finished_at - started_at)::float8
  FROM pipeline_runs WHERE kind = 'stage'
 ORDER BY id DESC LIMIT $1;
