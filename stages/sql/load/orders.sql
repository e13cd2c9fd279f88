-- The statements of a load into `orders`, in the order a load runs them (each
-- `<table>.sql` here names the same ones). `stages/src/loaders/postgres_load/` runs them.
-- Table and column names are `Dataset::Orders`'s (olist/src/lib.rs): its columns in their order
-- (the order COPY sends values in), its key and its references. The tests of
-- `postgres_load/statements.rs` compare every list here with it, and pipeline/tests/schema.rs
-- compares the staging table with the migrated catalog.

-- name: create_staging
CREATE TEMP TABLE staging_orders (
    line_number bigint NOT NULL,
    raw_line text NOT NULL,
    outcome text,
    reason text,
    order_id text,
    customer_id text,
    order_status text,
    order_purchase_timestamp timestamp,
    order_approved_at timestamp,
    order_delivered_carrier_date timestamp,
    order_delivered_customer_date timestamp,
    order_estimated_delivery_date timestamp
) ON COMMIT DROP;

-- name: create_changed
CREATE TEMP TABLE staging_orders_changed (line_number bigint NOT NULL) ON COMMIT DROP;

-- name: create_deleted
-- The stored rows this load deletes (`deletes = "snapshot"`): their keys.
CREATE TEMP TABLE staging_orders_deleted (order_id text NOT NULL, PRIMARY KEY (order_id)) ON COMMIT DROP;

-- name: copy_staging
COPY staging_orders (line_number, raw_line, order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date) FROM STDIN;

-- name: analyze_staging
ANALYZE staging_orders (line_number, outcome, order_id, customer_id);

-- name: list_changed
INSERT INTO staging_orders_changed (line_number)
SELECT s.line_number
  FROM staging_orders s LEFT JOIN orders t ON t.order_id = s.order_id
 WHERE t.order_id IS NULL
    OR (t.order_id, t.customer_id, t.order_status, t.order_purchase_timestamp, t.order_approved_at, t.order_delivered_carrier_date, t.order_delivered_customer_date, t.order_estimated_delivery_date) IS DISTINCT FROM (s.order_id, s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date);

-- name: analyze_changed
ANALYZE staging_orders_changed;

-- name: index_changed
-- Once the changed lines are listed (tables that hold rows): the statements that only concern
-- them (the merge, the changed orders) look them up by line number instead of scanning every
-- staged line.
CREATE INDEX ON staging_orders (line_number);

-- name: reference_rule
UPDATE staging_orders s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('customer_id "%s" refers to a rejected line of customers (%s line %s)', s.customer_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'customers' AND r.key = s.customer_id
            ORDER BY r.line_number LIMIT 1),
          format('customer_id "%s" is not in customers', s.customer_id))
WHERE s.outcome IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_customers t WHERE t.customer_id = s.customer_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM customers t WHERE t.customer_id = s.customer_id AND NOT EXISTS (SELECT 1 FROM staging_customers_deleted d WHERE d.customer_id = t.customer_id));

-- name: changed_reference_rule
-- The rule over the changed lines only, found by the index of their line numbers.
UPDATE staging_orders s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('customer_id "%s" refers to a rejected line of customers (%s line %s)', s.customer_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'customers' AND r.key = s.customer_id
            ORDER BY r.line_number LIMIT 1),
          format('customer_id "%s" is not in customers', s.customer_id))
WHERE s.outcome IS NULL
  AND s.line_number IN (SELECT line_number FROM staging_orders_changed)
  AND NOT EXISTS (SELECT 1 FROM staging_customers t WHERE t.customer_id = s.customer_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM customers t WHERE t.customer_id = s.customer_id AND NOT EXISTS (SELECT 1 FROM staging_customers_deleted d WHERE d.customer_id = t.customer_id));

-- name: deleted_reference_rule
-- The same rule over the lines whose referenced row this load deletes (`deletes = "snapshot"`,
-- the only loads that run it): an unchanged line can lose its reference only that way.
UPDATE staging_orders s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('customer_id "%s" refers to a rejected line of customers (%s line %s)', s.customer_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'customers' AND r.key = s.customer_id
            ORDER BY r.line_number LIMIT 1),
          format('customer_id "%s" is not in customers', s.customer_id))
WHERE s.outcome IS NULL
  AND s.customer_id IN (SELECT customer_id FROM staging_customers_deleted)
  AND NOT EXISTS (SELECT 1 FROM staging_customers t WHERE t.customer_id = s.customer_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM customers t WHERE t.customer_id = s.customer_id AND NOT EXISTS (SELECT 1 FROM staging_customers_deleted d WHERE d.customer_id = t.customer_id));

-- name: key_rule
UPDATE staging_orders s
  SET outcome = CASE WHEN (s.order_id, s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date) IS NOT DISTINCT FROM (f.order_id, f.customer_id, f.order_status, f.order_purchase_timestamp, f.order_approved_at, f.order_delivered_carrier_date, f.order_delivered_customer_date, f.order_estimated_delivery_date) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.order_id, s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date) IS NOT DISTINCT FROM (f.order_id, f.customer_id, f.order_status, f.order_purchase_timestamp, f.order_approved_at, f.order_delivered_carrier_date, f.order_delivered_customer_date, f.order_estimated_delivery_date)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'order_id "' || s.order_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (order_id) * FROM staging_orders
        WHERE outcome IS NULL
          AND (order_id) IN (SELECT order_id FROM staging_orders WHERE outcome IS NULL
                                GROUP BY order_id HAVING count(*) > 1)
        ORDER BY order_id, line_number) f
WHERE s.outcome IS NULL AND s.order_id = f.order_id AND s.line_number > f.line_number;

-- name: key_rule_among
-- The key rule over the lines whose order_id is one of $1 (text[]): the keys the file's stream
-- may have seen twice, which include every key two lines share (postgres_load/key_watch.rs).
UPDATE staging_orders s
  SET outcome = CASE WHEN (s.order_id, s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date) IS NOT DISTINCT FROM (f.order_id, f.customer_id, f.order_status, f.order_purchase_timestamp, f.order_approved_at, f.order_delivered_carrier_date, f.order_delivered_customer_date, f.order_estimated_delivery_date) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.order_id, s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date) IS NOT DISTINCT FROM (f.order_id, f.customer_id, f.order_status, f.order_purchase_timestamp, f.order_approved_at, f.order_delivered_carrier_date, f.order_delivered_customer_date, f.order_estimated_delivery_date)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'order_id "' || s.order_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (order_id) * FROM staging_orders
        WHERE outcome IS NULL AND order_id = ANY($1::text[])
          AND (order_id) IN (SELECT order_id FROM staging_orders WHERE outcome IS NULL AND order_id = ANY($1::text[])
                                GROUP BY order_id HAVING count(*) > 1)
        ORDER BY order_id, line_number) f
WHERE s.outcome IS NULL AND s.order_id = f.order_id AND s.line_number > f.line_number;

-- name: keep_rejects
INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)
SELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, order_id
  FROM staging_orders WHERE outcome = 'rejected';

-- name: list_deleted
-- `deletes = "snapshot"`: the stored rows whose key no line of the file has (accepted,
-- duplicate or rejected: a rejected line's key, when readable, keeps its row).
INSERT INTO staging_orders_deleted (order_id)
SELECT t.order_id FROM orders t
 WHERE NOT EXISTS (SELECT 1 FROM staging_orders s WHERE s.order_id = t.order_id)
   AND NOT EXISTS (SELECT 1 FROM staging_rejects r WHERE r.dataset = 'orders' AND r.key = t.order_id);

-- name: cascade_rule
-- The stored rows whose customer_id is deleted go with it, unless an accepted line of this load
-- gives their key another reference.
INSERT INTO staging_orders_deleted (order_id)
SELECT t.order_id FROM orders t
  JOIN staging_customers_deleted d ON d.customer_id = t.customer_id
 WHERE NOT EXISTS (SELECT 1 FROM staging_orders s WHERE s.order_id = t.order_id AND s.outcome IS NULL)
ON CONFLICT DO NOTHING;

-- name: count_deleted
SELECT count(*) FROM staging_orders_deleted;

-- name: count_rows
SELECT count(*) FROM orders;

-- name: counts
SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),
     (SELECT count(*) FROM staging_rejects WHERE dataset = $1),
     (SELECT source_file FROM staging_files WHERE dataset = $1),
     count(*) FILTER (WHERE outcome = 'erased') + (SELECT count(*) FROM staging_erased_rejects WHERE dataset = $1)
FROM staging_orders;

-- name: any_row
SELECT EXISTS (SELECT 1 FROM orders);

-- name: first_merge
INSERT INTO orders (order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date)
SELECT order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date FROM staging_orders WHERE outcome IS NULL;

-- name: merge_update
UPDATE orders t SET customer_id = s.customer_id, order_status = s.order_status, order_purchase_timestamp = s.order_purchase_timestamp, order_approved_at = s.order_approved_at, order_delivered_carrier_date = s.order_delivered_carrier_date, order_delivered_customer_date = s.order_delivered_customer_date, order_estimated_delivery_date = s.order_estimated_delivery_date
 FROM staging_orders s
WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_orders_changed)
  AND t.order_id = s.order_id AND (t.customer_id, t.order_status, t.order_purchase_timestamp, t.order_approved_at, t.order_delivered_carrier_date, t.order_delivered_customer_date, t.order_estimated_delivery_date) IS DISTINCT FROM (s.customer_id, s.order_status, s.order_purchase_timestamp, s.order_approved_at, s.order_delivered_carrier_date, s.order_delivered_customer_date, s.order_estimated_delivery_date);

-- name: merge_insert
INSERT INTO orders (order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date)
SELECT order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date FROM staging_orders s
 WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_orders_changed)
   AND NOT EXISTS (SELECT 1 FROM orders t WHERE t.order_id = s.order_id);

-- name: delete_rows
-- After every merge, children before parents.
DELETE FROM orders t USING staging_orders_deleted d WHERE d.order_id = t.order_id;

-- name: analyze_table
ANALYZE orders (order_id, customer_id, order_status, order_purchase_timestamp);
