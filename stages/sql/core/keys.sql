-- Keys, indexes and references dropped before a bulk write into a table and built again after it,
-- in the same transaction (stages/src/core/keys.rs), as pg_restore does: a key built once over
-- the rows costs a fraction of a key kept up to date row by row. The migrations stay their only
-- definition: PostgreSQL writes the statements from its catalog.

-- name: create_rebuilt_keys
-- The statements to drop them and build them again: step 1 the primary keys and unique
-- constraints, 2 the other indexes, 3 the references.
CREATE TEMP TABLE rebuilt_keys (step int NOT NULL, drop_sql text NOT NULL, restore_sql text NOT NULL) ON COMMIT DROP;

-- name: record_keys
-- Fills rebuilt_keys for the tables $1, as the catalog defines them (pg_get_constraintdef,
-- pg_get_indexdef, names quoted by format('%I')).
INSERT INTO rebuilt_keys (step, drop_sql, restore_sql)
SELECT CASE WHEN c.contype = 'f' THEN 3 ELSE 1 END,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
  FROM pg_constraint c
 WHERE c.conrelid = ANY($1::regclass[]) AND c.contype IN ('p', 'u', 'f')
UNION ALL
SELECT 2, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
  FROM pg_index i
 WHERE i.indrelid = ANY($1::regclass[])
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid);

-- name: drop_keys
-- References first, then indexes, then keys.
DO $$
DECLARE k record;
BEGIN
    FOR k IN SELECT drop_sql FROM rebuilt_keys ORDER BY step DESC, drop_sql LOOP
        EXECUTE k.drop_sql;
    END LOOP;
END
$$;

-- name: set_maintenance_work_mem
SET LOCAL maintenance_work_mem = '256MB';

-- name: restore_keys
-- Keys, then indexes, then references (each checked in one pass).
DO $$
DECLARE k record;
BEGIN
    FOR k IN SELECT restore_sql FROM rebuilt_keys ORDER BY step, restore_sql LOOP
        EXECUTE k.restore_sql;
    END LOOP;
END
$$;

-- name: savepoint
SAVEPOINT rebuild_keys;

-- name: lock_within
-- The caller's exclusive lock (its own LOCK TABLE statement) is waited for at most $1 (an interval
-- as text), inside the savepoint.
SELECT set_config('lock_timeout', $1, true);

-- name: keep_lock
-- The lock is held: the wait limit goes back to the transaction's.
RELEASE SAVEPOINT rebuild_keys;

-- name: reset_lock_timeout
SELECT set_config('lock_timeout', $1, true);

-- name: lock_timeout
SELECT current_setting('lock_timeout');

-- name: give_up_lock
ROLLBACK TO SAVEPOINT rebuild_keys;
