-- The statements that read the rows of the product_daily_stats stage (`pipeline stats --stage`).
-- Hand-written; the stage runs them (`Aggregate::day_rows`). Read with include_str! and split at
-- each `-- name:` line (stages::core::sql_file); $n are listed under each name.

-- name: day_rows
-- The rows of day $1, largest items_value first, at most $2 (all when null): every column but those
-- saying which run wrote the row, in the table's order.
SELECT stat_date, product_id, orders_count, items_count, items_value, freight_value, customers_count
  FROM product_daily_stats
 WHERE stat_date = $1
 ORDER BY items_value DESC, product_id
 LIMIT $2;
