-- The statements of a load into `order_items`, in the order a load runs them (each
-- `<table>.sql` here names the same ones). `stages/src/loaders/postgres_load/` runs them.
-- Table and column names are `Dataset::OrderItems`'s (olist/src/lib.rs): its columns in their order
-- (the order COPY sends values in), its key and its references. The tests of
-- `postgres_load/statements.rs` compare every list here with it, and pipeline/tests/schema.rs
-- compares the staging table with the migrated catalog.

-- name: create_staging
CREATE TEMP TABLE staging_order_items (
    line_number bigint NOT NULL,
    raw_line text NOT NULL,
    outcome text,
    reason text,
    order_id text,
    order_item_id integer,
    product_id text,
    seller_id text,
    shipping_limit_date timestamp,
    price numeric(12,2),
    freight_value numeric(12,2)
) ON COMMIT DROP;

-- name: create_changed
CREATE TEMP TABLE staging_order_items_changed (line_number bigint NOT NULL) ON COMMIT DROP;

-- name: create_deleted
-- The stored rows this load deletes (`deletes = "snapshot"`): their keys.
CREATE TEMP TABLE staging_order_items_deleted (order_id text NOT NULL, order_item_id integer NOT NULL, PRIMARY KEY (order_id, order_item_id)) ON COMMIT DROP;

-- name: copy_staging
COPY staging_order_items (line_number, raw_line, order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value) FROM STDIN;

-- name: analyze_staging
ANALYZE staging_order_items (line_number, outcome, order_id, order_item_id, product_id);

-- name: list_changed
INSERT INTO staging_order_items_changed (line_number)
SELECT s.line_number
  FROM staging_order_items s LEFT JOIN order_items t ON t.order_id = s.order_id AND t.order_item_id = s.order_item_id
 WHERE t.order_id IS NULL
    OR (t.order_id, t.order_item_id, t.product_id, t.seller_id, t.shipping_limit_date, t.price, t.freight_value) IS DISTINCT FROM (s.order_id, s.order_item_id, s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value);

-- name: analyze_changed
ANALYZE staging_order_items_changed;

-- name: index_changed
-- Once the changed lines are listed (tables that hold rows): the statements that only concern
-- them (the merge, the changed orders) look them up by line number instead of scanning every
-- staged line.
CREATE INDEX ON staging_order_items (line_number);

-- name: reference_rule
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('order_id "%s" refers to a rejected line of orders (%s line %s)', s.order_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'orders' AND r.key = s.order_id
            ORDER BY r.line_number LIMIT 1),
          format('order_id "%s" is not in orders', s.order_id))
WHERE s.outcome IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_orders t WHERE t.order_id = s.order_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM orders t WHERE t.order_id = s.order_id AND NOT EXISTS (SELECT 1 FROM staging_orders_deleted d WHERE d.order_id = t.order_id));

-- name: reference_rule
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('product_id "%s" refers to a rejected line of products (%s line %s)', s.product_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'products' AND r.key = s.product_id
            ORDER BY r.line_number LIMIT 1),
          format('product_id "%s" is not in products', s.product_id))
WHERE s.outcome IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_products t WHERE t.product_id = s.product_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM products t WHERE t.product_id = s.product_id AND NOT EXISTS (SELECT 1 FROM staging_products_deleted d WHERE d.product_id = t.product_id));

-- name: changed_reference_rule
-- The rule over the changed lines only, found by the index of their line numbers.
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('order_id "%s" refers to a rejected line of orders (%s line %s)', s.order_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'orders' AND r.key = s.order_id
            ORDER BY r.line_number LIMIT 1),
          format('order_id "%s" is not in orders', s.order_id))
WHERE s.outcome IS NULL
  AND s.line_number IN (SELECT line_number FROM staging_order_items_changed)
  AND NOT EXISTS (SELECT 1 FROM staging_orders t WHERE t.order_id = s.order_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM orders t WHERE t.order_id = s.order_id AND NOT EXISTS (SELECT 1 FROM staging_orders_deleted d WHERE d.order_id = t.order_id));

-- name: changed_reference_rule
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('product_id "%s" refers to a rejected line of products (%s line %s)', s.product_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'products' AND r.key = s.product_id
            ORDER BY r.line_number LIMIT 1),
          format('product_id "%s" is not in products', s.product_id))
WHERE s.outcome IS NULL
  AND s.line_number IN (SELECT line_number FROM staging_order_items_changed)
  AND NOT EXISTS (SELECT 1 FROM staging_products t WHERE t.product_id = s.product_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM products t WHERE t.product_id = s.product_id AND NOT EXISTS (SELECT 1 FROM staging_products_deleted d WHERE d.product_id = t.product_id));

-- name: deleted_reference_rule
-- The same rule over the lines whose referenced row this load deletes (`deletes = "snapshot"`,
-- the only loads that run it): an unchanged line can lose its reference only that way.
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('order_id "%s" refers to a rejected line of orders (%s line %s)', s.order_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'orders' AND r.key = s.order_id
            ORDER BY r.line_number LIMIT 1),
          format('order_id "%s" is not in orders', s.order_id))
WHERE s.outcome IS NULL
  AND s.order_id IN (SELECT order_id FROM staging_orders_deleted)
  AND NOT EXISTS (SELECT 1 FROM staging_orders t WHERE t.order_id = s.order_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM orders t WHERE t.order_id = s.order_id AND NOT EXISTS (SELECT 1 FROM staging_orders_deleted d WHERE d.order_id = t.order_id));

-- name: deleted_reference_rule
-- The same rule over the lines whose referenced row this load deletes (`deletes = "snapshot"`,
-- the only loads that run it): an unchanged line can lose its reference only that way.
UPDATE staging_order_items s
  SET outcome = 'rejected',
      reason = coalesce(
          (SELECT format('product_id "%s" refers to a rejected line of products (%s line %s)', s.product_id, r.source_file, r.line_number)
             FROM staging_rejects r
            WHERE r.dataset = 'products' AND r.key = s.product_id
            ORDER BY r.line_number LIMIT 1),
          format('product_id "%s" is not in products', s.product_id))
WHERE s.outcome IS NULL
  AND s.product_id IN (SELECT product_id FROM staging_products_deleted)
  AND NOT EXISTS (SELECT 1 FROM staging_products t WHERE t.product_id = s.product_id AND t.outcome IS NULL)
  AND NOT EXISTS (SELECT 1 FROM products t WHERE t.product_id = s.product_id AND NOT EXISTS (SELECT 1 FROM staging_products_deleted d WHERE d.product_id = t.product_id));

-- name: key_rule
UPDATE staging_order_items s
  SET outcome = CASE WHEN (s.order_id, s.order_item_id, s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value) IS NOT DISTINCT FROM (f.order_id, f.order_item_id, f.product_id, f.seller_id, f.shipping_limit_date, f.price, f.freight_value) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.order_id, s.order_item_id, s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value) IS NOT DISTINCT FROM (f.order_id, f.order_item_id, f.product_id, f.seller_id, f.shipping_limit_date, f.price, f.freight_value)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'order_id "' || s.order_id || '"', 'order_item_id "' || s.order_item_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (order_id, order_item_id) * FROM staging_order_items
        WHERE outcome IS NULL
          AND (order_id, order_item_id) IN (SELECT order_id, order_item_id FROM staging_order_items WHERE outcome IS NULL
                                GROUP BY order_id, order_item_id HAVING count(*) > 1)
        ORDER BY order_id, order_item_id, line_number) f
WHERE s.outcome IS NULL AND s.order_id = f.order_id AND s.order_item_id = f.order_item_id AND s.line_number > f.line_number;

-- name: key_rule_among
-- The key rule over the lines whose order_id is one of $1 (text[]): the keys the file's stream
-- may have seen twice, which include every key two lines share (postgres_load/key_watch.rs).
UPDATE staging_order_items s
  SET outcome = CASE WHEN (s.order_id, s.order_item_id, s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value) IS NOT DISTINCT FROM (f.order_id, f.order_item_id, f.product_id, f.seller_id, f.shipping_limit_date, f.price, f.freight_value) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.order_id, s.order_item_id, s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value) IS NOT DISTINCT FROM (f.order_id, f.order_item_id, f.product_id, f.seller_id, f.shipping_limit_date, f.price, f.freight_value)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'order_id "' || s.order_id || '"', 'order_item_id "' || s.order_item_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (order_id, order_item_id) * FROM staging_order_items
        WHERE outcome IS NULL AND order_id = ANY($1::text[])
          AND (order_id, order_item_id) IN (SELECT order_id, order_item_id FROM staging_order_items WHERE outcome IS NULL AND order_id = ANY($1::text[])
                                GROUP BY order_id, order_item_id HAVING count(*) > 1)
        ORDER BY order_id, order_item_id, line_number) f
WHERE s.outcome IS NULL AND s.order_id = f.order_id AND s.order_item_id = f.order_item_id AND s.line_number > f.line_number;

-- name: keep_rejects
INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)
SELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, order_id
  FROM staging_order_items WHERE outcome = 'rejected';

-- name: list_deleted
-- `deletes = "snapshot"`: the stored rows whose key no line of the file has (accepted,
-- duplicate or rejected: a rejected line's key, when readable, keeps its row).
INSERT INTO staging_order_items_deleted (order_id, order_item_id)
SELECT t.order_id, t.order_item_id FROM order_items t
 WHERE NOT EXISTS (SELECT 1 FROM staging_order_items s WHERE s.order_id = t.order_id AND s.order_item_id = t.order_item_id)
   AND NOT EXISTS (SELECT 1 FROM staging_rejects r WHERE r.dataset = 'order_items' AND r.key = t.order_id);

-- name: cascade_rule
-- The stored rows whose order_id is deleted go with it, unless an accepted line of this load
-- gives their key another reference.
INSERT INTO staging_order_items_deleted (order_id, order_item_id)
SELECT t.order_id, t.order_item_id FROM order_items t
  JOIN staging_orders_deleted d ON d.order_id = t.order_id
 WHERE NOT EXISTS (SELECT 1 FROM staging_order_items s WHERE s.order_id = t.order_id AND s.order_item_id = t.order_item_id AND s.outcome IS NULL)
ON CONFLICT DO NOTHING;

-- name: cascade_rule
-- The stored rows whose product_id is deleted go with it, unless an accepted line of this load
-- gives their key another reference.
INSERT INTO staging_order_items_deleted (order_id, order_item_id)
SELECT t.order_id, t.order_item_id FROM order_items t
  JOIN staging_products_deleted d ON d.product_id = t.product_id
 WHERE NOT EXISTS (SELECT 1 FROM staging_order_items s WHERE s.order_id = t.order_id AND s.order_item_id = t.order_item_id AND s.outcome IS NULL)
ON CONFLICT DO NOTHING;

-- name: count_deleted
SELECT count(*) FROM staging_order_items_deleted;

-- name: count_rows
SELECT count(*) FROM order_items;

-- name: counts
SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),
     (SELECT count(*) FROM staging_rejects WHERE dataset = $1),
     (SELECT source_file FROM staging_files WHERE dataset = $1),
     count(*) FILTER (WHERE outcome = 'erased') + (SELECT count(*) FROM staging_erased_rejects WHERE dataset = $1)
FROM staging_order_items;

-- name: any_row
SELECT EXISTS (SELECT 1 FROM order_items);

-- name: first_merge
INSERT INTO order_items (order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value)
SELECT order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value FROM staging_order_items WHERE outcome IS NULL;

-- name: merge_update
UPDATE order_items t SET product_id = s.product_id, seller_id = s.seller_id, shipping_limit_date = s.shipping_limit_date, price = s.price, freight_value = s.freight_value
 FROM staging_order_items s
WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_order_items_changed)
  AND t.order_id = s.order_id AND t.order_item_id = s.order_item_id AND (t.product_id, t.seller_id, t.shipping_limit_date, t.price, t.freight_value) IS DISTINCT FROM (s.product_id, s.seller_id, s.shipping_limit_date, s.price, s.freight_value);

-- name: merge_insert
INSERT INTO order_items (order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value)
SELECT order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value FROM staging_order_items s
 WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_order_items_changed)
   AND NOT EXISTS (SELECT 1 FROM order_items t WHERE t.order_id = s.order_id AND t.order_item_id = s.order_item_id);

-- name: delete_rows
-- After every merge, children before parents.
DELETE FROM order_items t USING staging_order_items_deleted d WHERE d.order_id = t.order_id AND d.order_item_id = t.order_item_id;

-- name: analyze_table
ANALYZE order_items (order_id, product_id);
