-- Daily operation: what each load changed, and what each aggregate day reflects.
--
-- - `order_changes`: one row per state of an order that a load changed (the state before and the state
--   after: the order's customer, that customer's person and the purchase day), so that an aggregate can
--   recompute exactly the people and days a load touched. A row with a NULL customer stands for "every
--   customer from this day on" (a load that changed a large part of the history).
-- - `aggregate_days`: for each aggregate stage and each day it computed, the options fingerprint, the
--   run, the row count and `changes_seen`: every change with an id up to it is reflected in the day.
-- - `pipeline_runs.kind`: `run` (one `pipeline run` invocation), `stage` (one stage of it) or `day`
--   (the per-day rows of earlier versions, kept as history).
--
-- Replaces `order_day_changes`, whose day-level record could not say which later days of a person a
-- change made stale.

ALTER TABLE pipeline_runs ADD COLUMN kind text NOT NULL DEFAULT 'stage' CHECK (kind IN ('run', 'stage', 'day'));

UPDATE pipeline_runs SET kind = 'day' WHERE parent_run_id IS NOT NULL;

CREATE INDEX pipeline_runs_kind_stage_idx ON pipeline_runs (kind, stage_name, id);

CREATE TABLE order_changes (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    customer_id text,
    customer_unique_id text,
    day date NOT NULL
);

CREATE INDEX order_changes_bulk_idx ON order_changes (id) WHERE customer_id IS NULL;

CREATE TABLE aggregate_days (
    stage_name text NOT NULL,
    day date NOT NULL,
    config_fingerprint text NOT NULL,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    computed_at timestamptz NOT NULL,
    changes_seen bigint NOT NULL,
    rows bigint NOT NULL,
    PRIMARY KEY (stage_name, day)
);

-- The days computed so far, from the per-day ledger rows (the latest of each day).
INSERT INTO aggregate_days (stage_name, day, config_fingerprint, run_id, computed_at, changes_seen, rows)
SELECT DISTINCT ON (stage_name, run_date) stage_name, run_date, config_fingerprint, parent_run_id,
          coalesce(finished_at, started_at), 0, rows_loaded
     FROM pipeline_runs
    WHERE kind = 'day' AND status = 'succeeded' AND run_date IS NOT NULL
    ORDER BY stage_name, run_date, id DESC;

-- Days a load changed after they were computed become changes of everyone who ordered that day or
-- has a stored row on it (the stored key stands for both key columns): stale, as they were.
INSERT INTO order_changes (run_id, customer_id, customer_unique_id, day)
SELECT DISTINCT ch.run_id, x.customer_id, x.customer_unique_id, ch.day
     FROM order_day_changes ch
     JOIN (SELECT day, max(computed_at) AS computed_at FROM aggregate_days GROUP BY day) a ON a.day = ch.day
     JOIN LATERAL (
           SELECT o.customer_id, c.customer_unique_id
             FROM orders o JOIN customers c ON c.customer_id = o.customer_id
            WHERE o.order_purchase_timestamp >= ch.day AND o.order_purchase_timestamp < ch.day + 1
           UNION
           SELECT s.customer_unique_id, s.customer_unique_id
             FROM customer_daily_stats s WHERE s.stat_date = ch.day) x ON true
    WHERE ch.changed_at > a.computed_at;

DROP TABLE order_day_changes;
