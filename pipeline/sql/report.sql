-- The statements of `pipeline report` (pipeline/src/report/data.rs), which declares them with
-- `stages::statements!`, in one read-only
-- snapshot: the pipeline's health. The charts of the customers' rows are computed set-based over
-- the days $1..=$2 by the customer aggregate's reads (stages/sql/reads/customer_daily_stats.sql).

-- name: snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: recent_loads
-- The latest successful runs of the load types $1, at most $2, newest first.
SELECT id, started_at, rows_read, rows_rejected FROM pipeline_runs
 WHERE kind = 'stage' AND status = 'succeeded' AND stage_type = ANY($1)
 ORDER BY id DESC LIMIT $2;

-- name: rejected_by_reason
-- Lines rejected by the runs $1 by rule. Reasons carry the offending values; grouping by the text
-- with values masked gathers the lines rejected for the same rule: the database's `reject_rule`
-- (migration 000009, which says how values, timestamps, dates and numbers are masked), as
-- `pipeline rejects` groups them.
SELECT dataset || ': ' || reject_rule(reason) AS kind,
       count(*)
  FROM rejected_rows WHERE run_id = ANY($1)
 GROUP BY kind ORDER BY count(*) DESC, kind;

-- name: recent_runs
-- The latest runs of any stage, at most $1, newest first.
SELECT id, stage_name, status, started_at,
       extract(epoch FROM finished_at - started_at)::float8
  FROM pipeline_runs WHERE kind = 'stage'
 ORDER BY id DESC LIMIT $1;
