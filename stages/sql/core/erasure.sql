-- What an aggregate does when a person is erased (stages/src/core/erasure.rs).

-- name: computed_among
-- The days of $2 that stage $1 has computed, ascending.
SELECT day FROM aggregate_days WHERE stage_name = $1 AND day = ANY($2::date[]) ORDER BY day;

-- name: record_erased_rows
-- Takes from the days $2 of stage $1 the rows $3 an erasure deleted (the other rows of the days are
-- as computed, so the days stay computed and fresh).
UPDATE aggregate_days d SET rows = d.rows - r.deleted
  FROM unnest($2::date[], $3::bigint[]) AS r (day, deleted)
 WHERE d.stage_name = $1 AND d.day = r.day;
