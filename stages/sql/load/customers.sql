-- The statements of a load into `customers`, in the order a load runs them (each
-- `<table>.sql` here names the same ones). `stages/src/loaders/postgres_load/` runs them.
-- Table and column names are `Dataset::Customers`'s (olist/src/lib.rs): its columns in their order
-- (the order COPY sends values in), its key and its references. The tests of
-- `postgres_load/statements.rs` compare every list here with it, and pipeline/tests/schema.rs
-- compares the staging table with the migrated catalog.

-- name: create_staging
CREATE TEMP TABLE staging_customers (
    line_number bigint NOT NULL,
    raw_line text NOT NULL,
    outcome text,
    reason text,
    customer_id text,
    customer_unique_id text,
    customer_zip_code_prefix text,
    customer_city text,
    customer_state text
) ON COMMIT DROP;

-- name: create_changed
CREATE TEMP TABLE staging_customers_changed (line_number bigint NOT NULL) ON COMMIT DROP;

-- name: create_deleted
-- The stored rows this load deletes (`deletes = "snapshot"`): their keys.
CREATE TEMP TABLE staging_customers_deleted (customer_id text NOT NULL, PRIMARY KEY (customer_id)) ON COMMIT DROP;

-- name: copy_staging
COPY staging_customers (line_number, raw_line, customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state) FROM STDIN;

-- name: analyze_staging
ANALYZE staging_customers (line_number, outcome, customer_id);

-- name: list_changed
INSERT INTO staging_customers_changed (line_number)
SELECT s.line_number
  FROM staging_customers s LEFT JOIN customers t ON t.customer_id = s.customer_id
 WHERE t.customer_id IS NULL
    OR (t.customer_id, t.customer_unique_id, t.customer_zip_code_prefix, t.customer_city, t.customer_state) IS DISTINCT FROM (s.customer_id, s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state);

-- name: analyze_changed
ANALYZE staging_customers_changed;

-- name: index_changed
-- Once the changed lines are listed (tables that hold rows): the statements that only concern
-- them (the merge, the changed orders) look them up by line number instead of scanning every
-- staged line.
CREATE INDEX ON staging_customers (line_number);

-- name: key_rule
UPDATE staging_customers s
  SET outcome = CASE WHEN (s.customer_id, s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state) IS NOT DISTINCT FROM (f.customer_id, f.customer_unique_id, f.customer_zip_code_prefix, f.customer_city, f.customer_state) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.customer_id, s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state) IS NOT DISTINCT FROM (f.customer_id, f.customer_unique_id, f.customer_zip_code_prefix, f.customer_city, f.customer_state)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'customer_id "' || s.customer_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (customer_id) * FROM staging_customers
        WHERE outcome IS NULL
          AND (customer_id) IN (SELECT customer_id FROM staging_customers WHERE outcome IS NULL
                                GROUP BY customer_id HAVING count(*) > 1)
        ORDER BY customer_id, line_number) f
WHERE s.outcome IS NULL AND s.customer_id = f.customer_id AND s.line_number > f.line_number;

-- name: key_rule_among
-- The key rule over the lines whose customer_id is one of $1 (text[]): the keys the file's stream
-- may have seen twice, which include every key two lines share (postgres_load/key_watch.rs).
UPDATE staging_customers s
  SET outcome = CASE WHEN (s.customer_id, s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state) IS NOT DISTINCT FROM (f.customer_id, f.customer_unique_id, f.customer_zip_code_prefix, f.customer_city, f.customer_state) THEN 'duplicate' ELSE 'rejected' END,
      reason = CASE WHEN (s.customer_id, s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state) IS NOT DISTINCT FROM (f.customer_id, f.customer_unique_id, f.customer_zip_code_prefix, f.customer_city, f.customer_state)
                    THEN format('exact duplicate of line %s', f.line_number)
                    ELSE format('conflicting duplicate: %s was first seen at line %s with other content', concat_ws(', ', 'customer_id "' || s.customer_id || '"'), f.line_number) END
 FROM (SELECT DISTINCT ON (customer_id) * FROM staging_customers
        WHERE outcome IS NULL AND customer_id = ANY($1::text[])
          AND (customer_id) IN (SELECT customer_id FROM staging_customers WHERE outcome IS NULL AND customer_id = ANY($1::text[])
                                GROUP BY customer_id HAVING count(*) > 1)
        ORDER BY customer_id, line_number) f
WHERE s.outcome IS NULL AND s.customer_id = f.customer_id AND s.line_number > f.line_number;

-- name: keep_rejects
INSERT INTO staging_rejects (dataset, source_file, line_number, raw_line, reason, key)
SELECT $1, (SELECT source_file FROM staging_files WHERE dataset = $1), line_number, raw_line, reason, customer_id
  FROM staging_customers WHERE outcome = 'rejected';

-- name: list_deleted
-- `deletes = "snapshot"`: the stored rows whose key no line of the file has (accepted,
-- duplicate or rejected: a rejected line's key, when readable, keeps its row).
INSERT INTO staging_customers_deleted (customer_id)
SELECT t.customer_id FROM customers t
 WHERE NOT EXISTS (SELECT 1 FROM staging_customers s WHERE s.customer_id = t.customer_id)
   AND NOT EXISTS (SELECT 1 FROM staging_rejects r WHERE r.dataset = 'customers' AND r.key = t.customer_id);

-- name: count_deleted
SELECT count(*) FROM staging_customers_deleted;

-- name: count_rows
SELECT count(*) FROM customers;

-- name: counts
SELECT count(*) FILTER (WHERE outcome IS NULL), count(*) FILTER (WHERE outcome = 'duplicate'),
     (SELECT count(*) FROM staging_rejects WHERE dataset = $1),
     (SELECT source_file FROM staging_files WHERE dataset = $1),
     count(*) FILTER (WHERE outcome = 'erased') + (SELECT count(*) FROM staging_erased_rejects WHERE dataset = $1)
FROM staging_customers;

-- name: any_row
SELECT EXISTS (SELECT 1 FROM customers);

-- name: first_merge
INSERT INTO customers (customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state)
SELECT customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state FROM staging_customers WHERE outcome IS NULL;

-- name: merge_update
UPDATE customers t SET customer_unique_id = s.customer_unique_id, customer_zip_code_prefix = s.customer_zip_code_prefix, customer_city = s.customer_city, customer_state = s.customer_state
 FROM staging_customers s
WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_customers_changed)
  AND t.customer_id = s.customer_id AND (t.customer_unique_id, t.customer_zip_code_prefix, t.customer_city, t.customer_state) IS DISTINCT FROM (s.customer_unique_id, s.customer_zip_code_prefix, s.customer_city, s.customer_state);

-- name: merge_insert
INSERT INTO customers (customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state)
SELECT customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state FROM staging_customers s
 WHERE s.outcome IS NULL AND s.line_number IN (SELECT line_number FROM staging_customers_changed)
   AND NOT EXISTS (SELECT 1 FROM customers t WHERE t.customer_id = s.customer_id);

-- name: delete_rows
-- After every merge, children before parents.
DELETE FROM customers t USING staging_customers_deleted d WHERE d.customer_id = t.customer_id;

-- name: analyze_table
ANALYZE customers (customer_id, customer_unique_id);
