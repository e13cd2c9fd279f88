-- The advisory locks (stages/src/core/locks.rs), held until the end of the transaction. $1 is the
-- lock's class; a day's lock is its number of days since 2000-01-01.

-- name: exclusive_load_lock
SELECT pg_advisory_xact_lock($1, 0);

-- name: shared_load_lock
SELECT pg_advisory_xact_lock_shared($1, 0);

-- name: day_locks
-- Every day from $2 to $3, ascending.
SELECT count(pg_advisory_xact_lock($1, (d - DATE '2000-01-01')))
  FROM (SELECT d::date AS d FROM generate_series($2::date, $3::date, interval '1 day') d ORDER BY 1) days;

-- name: day_set_locks
-- Each day of $2, ascending.
SELECT count(pg_advisory_xact_lock($1, (d - DATE '2000-01-01')))
  FROM (SELECT d FROM unnest($2::date[]) d ORDER BY 1) days;
