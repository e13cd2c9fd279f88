-- The statements of `pipeline erase` (pipeline/src/erasure.rs), which declares them with
-- `stages::statements!`. They run in the erase's one transaction, under the exclusive load lock.
-- Ids are compared as given; only their hashes (`erasure_hash`) are stored.

-- name: find_person
-- The person of the key $2 of kind $1 ('person': a customer_unique_id, 'customer_id').
SELECT customer_unique_id FROM customers
 WHERE ($1 = 'person' AND customer_unique_id = $2) OR ($1 = 'customer_id' AND customer_id = $2)
 LIMIT 1;

-- name: already_erased
-- Whether the key $2 of kind $1 is in the erasure list.
SELECT EXISTS (SELECT 1 FROM erased_keys WHERE kind = $1 AND key_hash = erasure_hash($2));

-- name: create_erase_ids
-- The erased person's ids, for this transaction.
CREATE TEMP TABLE erase_ids (kind text NOT NULL, id text NOT NULL) ON COMMIT DROP;

-- name: collect_ids
-- The ids of person $1: the person, each customer id, each order id.
INSERT INTO erase_ids (kind, id)
SELECT 'person', $1::text
UNION ALL
SELECT 'customer_id', customer_id FROM customers WHERE customer_unique_id = $1
UNION ALL
SELECT 'order_id', o.order_id
  FROM orders o JOIN customers c ON c.customer_id = o.customer_id
 WHERE c.customer_unique_id = $1;

-- name: customer_ids
SELECT id FROM erase_ids WHERE kind = 'customer_id' ORDER BY id;

-- name: person_days
-- The days the person's statistics may be on: the purchase days of their orders, and the days of
-- their pending changes.
SELECT o.order_purchase_timestamp::date
  FROM orders o WHERE o.order_id IN (SELECT id FROM erase_ids WHERE kind = 'order_id')
UNION
SELECT c.day
  FROM order_changes c
 WHERE c.customer_unique_id IN (SELECT id FROM erase_ids WHERE kind = 'person')
    OR c.customer_id IN (SELECT id FROM erase_ids WHERE kind = 'customer_id')
ORDER BY 1;

-- name: delete_order_items
DELETE FROM order_items WHERE order_id IN (SELECT id FROM erase_ids WHERE kind = 'order_id');

-- name: delete_orders
DELETE FROM orders WHERE order_id IN (SELECT id FROM erase_ids WHERE kind = 'order_id');

-- name: delete_customers
DELETE FROM customers WHERE customer_id IN (SELECT id FROM erase_ids WHERE kind = 'customer_id');

-- name: delete_rejected_rows
-- The rejected lines whose raw text or reason holds one of the ids.
DELETE FROM rejected_rows r
 WHERE EXISTS (SELECT 1 FROM erase_ids e
                WHERE strpos(r.raw_line, e.id) > 0 OR strpos(r.reason, e.id) > 0);

-- name: delete_changes
-- The changes of the person (their old or new state).
DELETE FROM order_changes
 WHERE customer_unique_id IN (SELECT id FROM erase_ids WHERE kind = 'person');

-- name: hash_changes
-- The changes of another person that hold one of the person's customer ids (a customer id whose
-- person changed): the id becomes its hash, so the other person's change still counts and the id
-- is gone.
UPDATE order_changes SET customer_id = erasure_hash(customer_id)
 WHERE customer_id IN (SELECT id FROM erase_ids WHERE kind = 'customer_id');

-- name: record_erasure
-- The audit row: run $1, key kind $2, the key $3 (stored as its hash), reason $4, rows removed $5,
-- days recomputed $6.
INSERT INTO erasures (run_id, key_kind, key_hash, reason, rows_removed, days_recomputed)
VALUES ($1, $2, erasure_hash($3), $4, $5, $6)
RETURNING id;

-- name: list_erased_keys
-- The hashes of the person's ids, under erasure $1.
INSERT INTO erased_keys (kind, key_hash, erasure_id)
SELECT DISTINCT kind, erasure_hash(id), $1::bigint FROM erase_ids
ON CONFLICT (kind, key_hash) DO NOTHING;

-- name: last_erasure
-- The latest erasure (what `status` shows), and how many people are erased.
SELECT e.id, e.run_id, e.erased_at, e.reason, e.rows_removed,
       (SELECT count(*) FROM erased_keys WHERE kind = 'person')
  FROM erasures e ORDER BY e.id DESC LIMIT 1;
