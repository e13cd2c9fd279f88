CREATE TABLE order_day_changes (
    day date NOT NULL,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, run_id)
);

INSERT INTO order_day_changes (day, run_id) SELECT DISTINCT day, run_id FROM order_changes;

DROP TABLE aggregate_days;

DROP TABLE order_changes;

DROP INDEX pipeline_runs_kind_stage_idx;

ALTER TABLE pipeline_runs DROP COLUMN kind;
