-- The statements of the read commands (pipeline/src/queries.rs), which declares them with
-- `stages::statements!`. Values are bind parameters; $n are
-- listed under each name.
--
-- The statements over an aggregate's own rows are the stage's (stages/sql/reads/<type>.sql): the
-- day's rows of `stats` (`Aggregate::day_rows`), and the customer aggregate's day totals, rankings
-- of `top-customers` and figures of `repeaters` (`stages::CustomerRead`).

-- name: missing_days
-- Days of $2..=$3 that the aggregate stage $1 never computed.
SELECT count(*) FROM generate_series($2::date, $3::date, interval '1 day') d
 WHERE NOT EXISTS (SELECT 1 FROM aggregate_days a WHERE a.stage_name = $1 AND a.day = d::date);

-- name: computed_rows
-- The rows the aggregate stage $1 recorded for day $2 (no row when it never computed the day).
SELECT rows FROM aggregate_days WHERE stage_name = $1 AND day = $2;

-- name: computed_since
-- Days the aggregate stage $1 computed after $2.
SELECT day FROM aggregate_days WHERE stage_name = $1 AND computed_at > $2;

-- name: current_load_runs
-- The loads that read the files the tables hold now.
SELECT DISTINCT run_id FROM loaded_files ORDER BY run_id;

-- name: latest_load_run
-- The latest successful run of the load stages named in $1.
SELECT max(id) FROM pipeline_runs
 WHERE kind = 'stage' AND status = 'succeeded' AND stage_name = ANY($1);

-- name: rejected_count
-- Lines rejected by the runs $1.
SELECT count(*) FROM rejected_rows WHERE run_id = ANY($1);

-- name: rejected_lines
-- Lines rejected by the runs $1, at most $2, grouped by rule (largest group first), then by file
-- and line. The rule is the database's `reject_rule` (migration 000009), as in the report's chart.
WITH r AS (
     SELECT run_id, dataset, source_file, line_number, reason, raw_line,
            reject_rule(reason) AS rule
       FROM rejected_rows WHERE run_id = ANY($1))
SELECT run_id, dataset, source_file, line_number, reason, rule, raw_line
  FROM r
 ORDER BY count(*) OVER (PARTITION BY dataset, rule) DESC, dataset, rule, source_file, line_number
 LIMIT $2;
