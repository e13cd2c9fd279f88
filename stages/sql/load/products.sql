-- The statements of a load into `products`, in the order a load runs them (each
-- `<table>.sql` here names the same ones). `stages/src/loaders/postgres_load/` runs them.
-- Table and column names are `Dataset::Products`'s (olist/src/lib.rs): its columns in their order
-- (the order COPY sends values in), its key and its references. The tests of
-- `postgres_load/statements.rs` compare every list here with it, and pipeline/tests/schema.rs
-- compares the staging table with the migrated catalog.

-- name: create_staging
CREATE TEMP TABLE staging_products (
    line_number bigint NOT NULL,
    raw_line text NOT NULL,
    outcome text,
    reason text,
    product_id text,
    product_category_name text,
    product_name_length integer,
    product_description_length integer,
    product_photos_qty integer,
    product_weight_g integer,
    product_length_cm integer,
    product_height_cm integer,
    product_width_cm integer
) ON COMMIT DROP;

-- name: create_changed
CREATE TEMP TABLE staging_products_changed (line_number bigint NOT NULL) ON COMMIT DROP;

-- name: create_deleted
-- The stored rows this load deletes (`deletes = "snapshot"`): their keys.
CREATE TEMP TABLE staging_products_deleted (product_id text NOT NULL, PRIMARY KEY (product_id)) ON COMMIT DROP;

-- name: copy_staging
COPY staging_products (line_number, raw_line, product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, product_weight_g, product_length_cm, product_height_cm, product_width_cm) FROM STDIN;

-- name: analyze_staging
ANALYZE staging_products (line_number, outcome, product_id);

-- name: list_changed
INSERT INTO staging_products_changed (line_number)
SELECT s.line_number
  FROM staging_products s LEFT JOIN products t ON t.product_id = s.product_id
 WHERE t.product_id IS NULL
    OR (t.product_id, t.product_category_name, t.product_name_length, t.product_description_length, t.product_photos_qty, t.product_weight_g, t.product_length_cm, t.product_height_cm, t.product_width_cm) IS DISTINCT FROM (s.product_id, s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm);

-- name: analyze_changed
ANALYZE staging_products_changed;

-- name: index_changed
-- Once the changed lines are listed (tables that hold rows): the statements that only concern
-- them (the merge, the changed orders) look them up by line number instead of scanning every
-- staged line.
CREATE INDEX ON staging_products (line_number);

-- name: key_rule
UPDATE staging_products s
  SET outcome = CASE WHEN (s.product_id, s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm) IS NOT DISTINCT FROM (f.product_id, f.product_category_name, f.product_name_length, f.product_description_length, f.product_photos_qty, f.product_weight_g, f.product_length_cm, f.product_height_cm, f.product_width_cm) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.product_id, s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm) IS NOT DISTINCT FROM (f.product_id, f.product_category_name, f.product_name_length, f.product_description_length, f.product_photos_qty, f.product_weight_g, f.product_length_cm, f.product_height_cm, f.product_width_cm)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'product_id "' || s.product_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (product_id) * FROM staging_products
        WHERE outcome IS NULL
          AND (product_id) IN (SELECT product_id FROM staging_products WHERE outcome IS NULL
                                GROUP BY product_id HAVING count(*) > 1)
        ORDER BY product_id, line_number) f
WHERE s.outcome IS NULL AND s.product_id = f.product_id AND s.line_number > f.line_number;

-- name: key_rule_among
-- The key rule over the lines whose product_id is one of $1 (text[]): the keys the file's stream
-- may have seen twice, which include every key two lines share (postgres_load/key_watch.rs).
UPDATE staging_products s
  SET outcome = CASE WHEN (s.product_id, s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm) IS NOT DISTINCT FROM (f.product_id, f.product_category_name, f.product_name_length, f.product_description_length, f.product_photos_qty, f.product_weight_g, f.product_length_cm, f.product_height_cm, f.product_width_cm) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.product_id, s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm) IS NOT DISTINCT FROM (f.product_id, f.product_category_name, f.product_name_length, f.product_description_length, f.product_photos_qty, f.product_weight_g, f.product_length_cm, f.product_height_cm, f.product_width_cm)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'product_id "' || s.product_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (product_id) * FROM staging_products
        WHERE outcome IS NULL AND product_id = ANY($1::text[])
          AND (product_id) IN (SELECT product_id FROM staging_products WHERE outcome IS NULL AND product_id = ANY($1::text[])
                                GROUP BY product_id HAVING count(*) > 1)
        ORDER BY product_id, line_number) f
WHERE s.outcome IS NULL AND s.product_id = f.product_id AND s.line_number > f.line_number;

-- name: keep_rejects
INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)
SELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, product_id
  FROM staging_products WHERE outcome = 'rejected';

-- name: list_deleted
-- `deletes = "snapshot"`: the stored rows whose key no line of the file has (accepted,
-- duplicate or rejected: a rejected line's key, when readable, keeps its row).
INSERT INTO staging_products_deleted (product_id)
SELECT t.product_id FROM products t
 WHERE NOT EXISTS (SELECT 1 FROM staging_products s WHERE s.product_id = t.product_id)
   AND NOT EXISTS (SELECT 1 FROM staging_rejects r WHERE r.dataset = 'products' AND r.key = t.product_id);

-- name: count_deleted
SELECT count(*) FROM staging_products_deleted;

-- name: count_rows
SELECT count(*) FROM products;

-- name: counts
SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),
     (SELECT count(*) FROM staging_rejects WHERE dataset = $1),
     (SELECT source_file FROM staging_files WHERE dataset = $1),
     count(*) FILTER (WHERE outcome = 'erased') + (SELECT count(*) FROM staging_erased_rejects WHERE dataset = $1)
FROM staging_products;

-- name: any_row
SELECT EXISTS (SELECT 1 FROM products);

-- name: first_merge
INSERT INTO products (product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, product_weight_g, product_length_cm, product_height_cm, product_width_cm)
SELECT product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, product_weight_g, product_length_cm, product_height_cm, product_width_cm FROM staging_products WHERE outcome IS NULL;

-- name: merge_update
UPDATE products t SET product_category_name = s.product_category_name, product_name_length = s.product_name_length, product_description_length = s.product_description_length, product_photos_qty = s.product_photos_qty, product_weight_g = s.product_weight_g, product_length_cm = s.product_length_cm, product_height_cm = s.product_height_cm, product_width_cm = s.product_width_cm
 FROM staging_products s
WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_products_changed)
  AND t.product_id = s.product_id AND (t.product_category_name, t.product_name_length, t.product_description_length, t.product_photos_qty, t.product_weight_g, t.product_length_cm, t.product_height_cm, t.product_width_cm) IS DISTINCT FROM (s.product_category_name, s.product_name_length, s.product_description_length, s.product_photos_qty, s.product_weight_g, s.product_length_cm, s.product_height_cm, s.product_width_cm);

-- name: merge_insert
INSERT INTO products (product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, product_weight_g, product_length_cm, product_height_cm, product_width_cm)
SELECT product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, product_weight_g, product_length_cm, product_height_cm, product_width_cm FROM staging_products s
 WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_products_changed)
   AND NOT EXISTS (SELECT 1 FROM products t WHERE t.product_id = s.product_id);

-- name: delete_rows
-- After every merge, children before parents.
DELETE FROM products t USING staging_products_deleted d WHERE d.product_id = t.product_id;
