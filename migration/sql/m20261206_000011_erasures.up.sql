-- `pipeline erase`: the audit of each erasure and the list of erased keys that later loads skip.
-- Neither table holds an id: only SHA-256 hashes of ids (`erasure_hash`), and counts.

ALTER TABLE pipeline_runs DROP CONSTRAINT pipeline_runs_kind_check;
ALTER TABLE pipeline_runs ADD CONSTRAINT pipeline_runs_kind_check CHECK (kind IN ('run', 'stage', 'day', 'erase'));

CREATE FUNCTION erasure_hash(id text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN encode(sha256(convert_to(id, 'UTF8')), 'hex');

CREATE TABLE erasures (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES pipeline_runs (id),
    erased_at timestamptz NOT NULL DEFAULT now(),
    key_kind text NOT NULL CHECK (key_kind IN ('person', 'customer_id')),
    key_hash text NOT NULL,
    reason text,
    rows_removed jsonb NOT NULL,
    days_recomputed jsonb NOT NULL
);

CREATE TABLE erased_keys (
    kind text NOT NULL CHECK (kind IN ('person', 'customer_id', 'order_id')),
    key_hash text NOT NULL,
    erasure_id bigint NOT NULL REFERENCES erasures (id),
    PRIMARY KEY (kind, key_hash)
);
