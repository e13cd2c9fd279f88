-- The statements of the run ledger, `pipeline_runs` (pipeline/src/ledger.rs), which declares them with
-- `stages::statements!`. Values are bind
-- parameters; $n are listed above each statement.

-- name: lock_run
-- The session lock that keeps an open row alive: $1 the lock class of runs, $2 the run's key.
SELECT pg_advisory_lock($1, $2);

-- name: unlock_run
-- $1 the lock class of runs, $2 the run's key.
SELECT pg_advisory_unlock($1, $2);

-- name: try_lock_run
-- Whether the lock of a run is free (its process died): $1 the lock class of runs, $2 the run's key.
SELECT pg_try_advisory_lock($1, $2);

-- name: succeed
-- $1 the run id, $2 lines read, $3 loaded, $4 duplicate, $5 rejected, $6 the details, $7 'succeeded'.
UPDATE pipeline_runs SET status = $7, finished_at = clock_timestamp(), rows_read = $2,
       rows_loaded = $3, rows_duplicate = $4, rows_rejected = $5, details = $6 WHERE id = $1;

-- name: fail
-- $1 the run id, $2 the error, $3 'failed', $4 rows loaded, $5 the details, $6 'running' (a row
-- closed meanwhile stays as it is).
UPDATE pipeline_runs SET status = $3, finished_at = clock_timestamp(), error = $2,
       rows_loaded = $4, details = $5
 WHERE id = $1 AND status = $6;

-- name: running
-- The rows left running: $1 'running'.
SELECT id FROM pipeline_runs WHERE status = $1 ORDER BY id;

-- name: kept_days
-- The days an interrupted run (or a stage run under it) committed: $1 the run id.
SELECT day FROM aggregate_days
 WHERE run_id = $1 OR run_id IN (SELECT id FROM pipeline_runs WHERE parent_run_id = $1)
 ORDER BY day;

-- name: close_interrupted
-- $1 the run id, $2 'failed', $3 the error, $4 'running'.
UPDATE pipeline_runs SET status = $2, finished_at = clock_timestamp(), error = $3
 WHERE id = $1 AND status = $4;
