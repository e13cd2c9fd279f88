-- The run ledger (`pipeline_runs`), the quarantine of bad input lines (`rejected_rows`) and the
-- record of which purchase days each load changed (`order_day_changes`, for staleness).

CREATE TABLE pipeline_runs (
    id bigserial PRIMARY KEY,
    parent_run_id bigint REFERENCES pipeline_runs (id),
    stage_name text NOT NULL,
    stage_type text NOT NULL,
    config_fingerprint text NOT NULL,
    run_date date,
    range_start date,
    range_end date,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    rows_read bigint NOT NULL DEFAULT 0,
    rows_loaded bigint NOT NULL DEFAULT 0,
    rows_duplicate bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    details jsonb,
    error text
);

CREATE INDEX pipeline_runs_stage_day_idx ON pipeline_runs (stage_name, run_date);

CREATE INDEX pipeline_runs_running_idx ON pipeline_runs (status) WHERE status = 'running';

CREATE TABLE rejected_rows (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    dataset text NOT NULL,
    source_file text NOT NULL,
    line_number bigint NOT NULL,
    raw_line text NOT NULL,
    reason text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX rejected_rows_run_id_idx ON rejected_rows (run_id);

CREATE TABLE order_day_changes (
    day date NOT NULL,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, run_id)
);
