-- The statements of the product_daily_stats stage (stages/src/aggregates/product_daily_stats.rs).

-- name: delete_days
-- Deletes the rows of the days $1..=$2 (only those in $3 when it is not null).
DELETE FROM product_daily_stats WHERE stat_date BETWEEN $1 AND $2
   AND ($3::date[] IS NULL OR stat_date = ANY($3::date[]));

-- name: compute
-- Computes the rows of the days $1..=$2 (only those in $5 when it is not null), leaving out the
-- orders whose status is in $3, written under run $4; returns the rows written per day.
WITH inserted AS (
INSERT INTO product_daily_stats (
    stat_date, product_id, orders_count, items_count, items_value, freight_value, customers_count,
    run_id, computed_at)
SELECT o.order_purchase_timestamp::date, i.product_id, count(DISTINCT o.order_id), count(*),
       sum(i.price), sum(i.freight_value), count(DISTINCT c.customer_unique_id),
       $4, clock_timestamp()
  FROM orders o
  JOIN order_items i ON i.order_id = o.order_id
  JOIN customers c ON c.customer_id = o.customer_id
 WHERE o.order_purchase_timestamp >= $1::date AND o.order_purchase_timestamp < $2::date + 1
   AND ($5::date[] IS NULL OR o.order_purchase_timestamp::date = ANY($5::date[]))
   AND o.order_status <> ALL($3::text[])
 GROUP BY 1, 2
RETURNING stat_date
)
SELECT stat_date, count(*)::bigint FROM inserted GROUP BY stat_date;

-- name: rows_of_days
-- The rows stage $1 recorded for each of the days $2.
SELECT day, rows FROM aggregate_days WHERE stage_name = $1 AND day = ANY($2);
