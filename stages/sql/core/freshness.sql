-- The freshness bookkeeping of the aggregates (stages/src/core/freshness.rs): `order_changes`,
-- which loads append to, and `aggregate_days`, the computed days of each aggregate stage.

-- name: changes_high_water
-- The id of the latest change.
SELECT coalesce(max(id), 0)::bigint FROM order_changes;

-- name: record_days
-- Records the days $5 with their rows $6 as computed by stage $1 with fingerprint $2 in run $3,
-- reflecting every change up to $4, its rows keyed by $7, computed by the engine $8.
INSERT INTO aggregate_days (stage_name, day, config_fingerprint, run_id, computed_at, changes_seen, rows, row_key, engine)
SELECT $1, d.day, $2, $3, clock_timestamp(), $4, d.rows, $7, $8
  FROM unnest($5::date[], $6::bigint[]) AS d (day, rows)
ON CONFLICT (stage_name, day) DO UPDATE
   SET config_fingerprint = excluded.config_fingerprint, run_id = excluded.run_id,
       computed_at = excluded.computed_at, changes_seen = excluded.changes_seen, rows = excluded.rows,
       row_key = excluded.row_key, engine = excluded.engine;

-- name: record_refreshed_rows
-- Adds to the days $3 of stage $1 the rows $4 a refresh in run $2 by the engine $5 gained (or
-- lost): the day's engine is then the one that last wrote some of its rows.
UPDATE aggregate_days d SET rows = d.rows + r.delta, run_id = $2, computed_at = clock_timestamp(), engine = $5
  FROM unnest($3::date[], $4::bigint[]) AS r (day, delta)
 WHERE d.stage_name = $1 AND d.day = r.day;

-- name: record_changes_seen
-- Marks the days of stage $1 as reflecting every change up to $2, except those a pending bulk
-- change makes stale whole.
UPDATE aggregate_days d SET changes_seen = $2
 WHERE d.stage_name = $1 AND d.changes_seen < $2
   AND NOT EXISTS (SELECT 1 FROM order_changes c
                    WHERE c.customer_id IS NULL AND c.id > d.changes_seen AND c.id <= $2 AND c.day <= d.day);

-- name: changes_pending
-- Whether a change came after some computed day of stage $1.
SELECT EXISTS (SELECT 1 FROM order_changes
                WHERE id > (SELECT coalesce(min(changes_seen), 0) FROM aggregate_days WHERE stage_name = $1));

-- name: whole_stale_days
-- The computed days of stage $1 computed with options other than fingerprint $2, or under a bulk
-- change that came after them.
SELECT d.day FROM aggregate_days d
 WHERE d.stage_name = $1
   AND (d.config_fingerprint <> $2
        OR EXISTS (SELECT 1 FROM order_changes c
                    WHERE c.customer_id IS NULL AND c.id > d.changes_seen AND c.day <= d.day))
 ORDER BY d.day;

-- name: changed_days
-- The computed days of stage $1 holding an order a load changed after the day was computed.
WITH low AS (SELECT min(changes_seen) AS id FROM aggregate_days WHERE stage_name = $1)
SELECT DISTINCT d.day
  FROM order_changes c, low, aggregate_days d
 WHERE c.id > low.id AND c.customer_id IS NOT NULL
   AND d.stage_name = $1 AND d.day = c.day AND d.changes_seen < c.id
 ORDER BY d.day;

-- name: prune_changes
-- Deletes the changes every computed day of every stage reflects already (no staleness test can
-- need them again: a day computed later is computed whole), but the latest one, so that the high
-- water mark never goes back.
DELETE FROM order_changes
 WHERE id <= (SELECT min(changes_seen) FROM aggregate_days)
   AND id < (SELECT max(id) FROM order_changes);

-- name: computed_days
-- Every computed day of stage $1.
SELECT day FROM aggregate_days WHERE stage_name = $1 ORDER BY day;

-- name: engines
-- What computed the days of stage $1 (`aggregate_days.engine`, "unrecorded" for days computed
-- before it was recorded), with how many days each.
SELECT coalesce(engine, 'unrecorded'), count(*) FROM aggregate_days WHERE stage_name = $1
 GROUP BY 1 ORDER BY 1;

-- name: row_keys
-- The keys the rows of stage $1 hold, over its computed days (days computed before the key was
-- recorded have none).
SELECT DISTINCT row_key FROM aggregate_days WHERE stage_name = $1 AND row_key IS NOT NULL ORDER BY 1;
