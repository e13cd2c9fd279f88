-- The statements of a load that are not per table (stages/src/loaders/postgres_load/): the
-- load's own temporary tables, the quarantine, the keys of a first load, and the changes the
-- aggregates read. Each table's own statements are in `<table>.sql` beside this file.

-- name: tune_transaction
-- The transaction's lock_timeout and work_mem: $1 is a duration (`600s`), $2 a size (`256MB`).
SELECT set_config('lock_timeout', $1, true), set_config('work_mem', $2, true);

-- name: create_rejects
-- Every rejected line of the load, with its dataset and (when readable) key.
CREATE TEMP TABLE staging_rejects (dataset text NOT NULL, source_file text NOT NULL, line_number bigint NOT NULL, raw_line text NOT NULL, reason text NOT NULL, key text) ON COMMIT DROP;

-- name: create_files
-- The file each dataset is read from.
CREATE TEMP TABLE staging_files (dataset text PRIMARY KEY, source_file text NOT NULL) ON COMMIT DROP;

-- name: record_file
INSERT INTO staging_files (dataset, source_file) VALUES ($1, $2);

-- name: copy_rejects
COPY staging_rejects (dataset, source_file, line_number, raw_line, reason, key) FROM STDIN;

-- name: estimated_rows
-- The planner's estimate of table $1's rows: -1 for a table never analysed.
SELECT reltuples FROM pg_class WHERE oid = $1::regclass;

-- name: unreadable_keys
-- How many rejected lines of dataset $1 have no readable key: with any, the file cannot show
-- which stored rows it lacks, and a snapshot load deletes none of them.
SELECT count(*) FROM staging_rejects WHERE dataset = $1 AND key IS NULL;

-- name: quarantine_rejects
-- Keeps the load's rejected lines under run $1.
INSERT INTO rejected_rows (run_id, dataset, source_file, line_number, raw_line, reason)
SELECT $1, dataset, source_file, line_number, raw_line, reason FROM staging_rejects ORDER BY dataset, line_number;

-- name: list_changed_orders
-- The orders whose statistics this load changes: new or changed orders, orders with new or
-- changed items, orders of customers whose person (customer_unique_id) changed, and (with
-- `deletes = "snapshot"`) deleted orders and orders with deleted items. Only the changed lines
-- (the set rules list them) and the deleted rows can be any of these.
CREATE TEMP TABLE changed_orders ON COMMIT DROP AS
SELECT s.order_id
  FROM staging_orders s LEFT JOIN orders o ON o.order_id = s.order_id
 WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_orders_changed)
   AND (o.order_id IS NULL OR (o.customer_id, o.order_status, o.order_purchase_timestamp)
        IS DISTINCT FROM (s.customer_id, s.order_status, s.order_purchase_timestamp))
UNION
SELECT si.order_id
  FROM staging_order_items si
  LEFT JOIN order_items oi ON oi.order_id = si.order_id AND oi.order_item_id = si.order_item_id
 WHERE si.outcome IS NULL AND si.line_number IN (SELECT line_number FROM staging_order_items_changed)
   AND (oi.order_id IS NULL OR (oi.product_id, oi.seller_id, oi.price, oi.freight_value)
        IS DISTINCT FROM (si.product_id, si.seller_id, si.price, si.freight_value))
UNION
SELECT o.order_id
  FROM staging_customers sc
  JOIN customers c ON c.customer_id = sc.customer_id
  JOIN orders o ON o.customer_id = c.customer_id
 WHERE sc.outcome IS NULL AND sc.line_number IN (SELECT line_number FROM staging_customers_changed)
   AND sc.customer_unique_id IS DISTINCT FROM c.customer_unique_id
UNION
SELECT order_id FROM staging_orders_deleted
UNION
SELECT order_id FROM staging_order_items_deleted;

-- name: count_changed_orders
SELECT count(*) FROM changed_orders;

-- name: estimated_orders
-- The planner's estimate of the stored orders: -1 for a table never analysed, 0 for an empty one.
SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass;

-- name: record_states
-- Records the current state (customer, person, purchase day) of every changed order under run
-- $1: run before the merge it records the old states, after it the new ones.
INSERT INTO order_changes (run_id, customer_id, customer_unique_id, day)
SELECT DISTINCT $1::bigint, o.customer_id, c.customer_unique_id, o.order_purchase_timestamp::date
  FROM changed_orders x
  JOIN orders o ON o.order_id = x.order_id
  JOIN customers c ON c.customer_id = o.customer_id;

-- name: first_changed_day
-- The first purchase day among the current states of the changed orders.
SELECT min(o.order_purchase_timestamp)::date
  FROM changed_orders x JOIN orders o ON o.order_id = x.order_id;

-- name: record_bulk_change
-- One change of run $1: every customer, from day $2 on.
INSERT INTO order_changes (run_id, day) VALUES ($1, $2);
