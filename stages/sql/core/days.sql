-- Days of the loaded data (stages/src/core/days.rs).

-- name: purchase_days
-- The first and last purchase day of the loaded orders (nulls when there is none).
SELECT min(order_purchase_timestamp)::date, max(order_purchase_timestamp)::date FROM orders;
