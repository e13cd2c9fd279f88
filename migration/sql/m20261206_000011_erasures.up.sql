-- `pipeline erase` (a person's right to be forgotten): `erasures`, one audit row per erasure (when,
-- which kind of key was given and its hash, the reason, the rows removed per table, the days
-- recomputed), and `erased_keys`, the hashes of the erased person's ids (the person, each customer
-- id, each order id) that later loads skip. `erasure_hash(id)` is the one definition of the hash:
-- SHA-256 of the id's UTF-8 bytes, in hex. No id is stored, only its hash. The ledger gains the
-- kind `erase` (one row per erasure).

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
