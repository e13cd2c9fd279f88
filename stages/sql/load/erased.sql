-- The erased rule of a load (stages/src/loaders/postgres_load/erased.rs): the staged lines of
-- people erased by `pipeline erase` are marked `erased` before any other set rule sees them, so they
-- are neither merged nor kept as rejected. `erased_keys` holds the SHA-256 hashes of the erased
-- ids (`erasure_hash`); the ids a marked line carries that are not listed yet are added, so that the
-- person's later lines are skipped even when the line that linked them is absent.

-- name: create_erased_rejects
-- The rejected lines dropped because they carry an erased id: one row per line, for the counts.
CREATE TEMP TABLE IF NOT EXISTS staging_erased_rejects (dataset text NOT NULL) ON COMMIT DROP;

-- name: any_erased
SELECT EXISTS (SELECT 1 FROM erased_keys);

-- name: drop_erased_rejects
-- Drops the rejected lines of dataset $1 (the row rules' and the set rules' so far) that hold an
-- erased id as one of their fields (ids are letters, digits, `-` and `_`), counting them.
WITH dropped AS (
    DELETE FROM staging_rejects r
     WHERE r.dataset = $1
       AND EXISTS (SELECT 1 FROM regexp_split_to_table(r.raw_line, '[^A-Za-z0-9_-]+') AS t (token)
                     JOIN erased_keys e ON e.key_hash = erasure_hash(t.token)
                    WHERE t.token <> '')
    RETURNING r.dataset
)
INSERT INTO staging_erased_rejects (dataset) SELECT dataset FROM dropped;

-- name: erased_customers
-- Customers of an erased person, or with an erased customer id; their customer ids are listed.
-- (Hash joins against the short list: a correlated lookup per line costs three times as much.)
WITH matched AS (
    SELECT DISTINCT ON (line_number) line_number, erasure_id
      FROM (SELECT s.line_number, e.erasure_id
              FROM staging_customers s
              JOIN erased_keys e ON e.kind = 'person' AND e.key_hash = erasure_hash(s.customer_unique_id)
             WHERE s.outcome IS NULL
            UNION ALL
            SELECT s.line_number, e.erasure_id
              FROM staging_customers s
              JOIN erased_keys e ON e.kind = 'customer_id' AND e.key_hash = erasure_hash(s.customer_id)
             WHERE s.outcome IS NULL) m
     ORDER BY line_number, erasure_id
),
marked AS (
    UPDATE staging_customers s SET outcome = 'erased', reason = NULL
      FROM matched m
     WHERE s.line_number = m.line_number AND s.outcome IS NULL
    RETURNING s.customer_id, m.erasure_id
)
INSERT INTO erased_keys (kind, key_hash, erasure_id)
SELECT DISTINCT ON (erasure_hash(customer_id)) 'customer_id', erasure_hash(customer_id), erasure_id FROM marked
ON CONFLICT (kind, key_hash) DO NOTHING;

-- name: erased_orders
-- Orders with an erased order id or customer id (the customers rule listed the customer ids of
-- this load's erased customers); their order ids are listed.
WITH matched AS (
    SELECT DISTINCT ON (line_number) line_number, erasure_id
      FROM (SELECT s.line_number, e.erasure_id
              FROM staging_orders s
              JOIN erased_keys e ON e.kind = 'order_id' AND e.key_hash = erasure_hash(s.order_id)
             WHERE s.outcome IS NULL
            UNION ALL
            SELECT s.line_number, e.erasure_id
              FROM staging_orders s
              JOIN erased_keys e ON e.kind = 'customer_id' AND e.key_hash = erasure_hash(s.customer_id)
             WHERE s.outcome IS NULL) m
     ORDER BY line_number, erasure_id
),
marked AS (
    UPDATE staging_orders s SET outcome = 'erased', reason = NULL
      FROM matched m
     WHERE s.line_number = m.line_number AND s.outcome IS NULL
    RETURNING s.order_id, m.erasure_id
)
INSERT INTO erased_keys (kind, key_hash, erasure_id)
SELECT DISTINCT ON (erasure_hash(order_id)) 'order_id', erasure_hash(order_id), erasure_id FROM marked
ON CONFLICT (kind, key_hash) DO NOTHING;

-- name: erased_order_items
-- Items of an erased order (the orders rule listed the order ids of this load's erased orders).
UPDATE staging_order_items s SET outcome = 'erased', reason = NULL
 WHERE s.outcome IS NULL
   AND erasure_hash(s.order_id) IN (SELECT e.key_hash FROM erased_keys e WHERE e.kind = 'order_id');
