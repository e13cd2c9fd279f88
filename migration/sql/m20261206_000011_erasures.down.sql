DROP TABLE erased_keys;
DROP TABLE erasures;
DROP FUNCTION erasure_hash(text);
-- The ledger rows of erasures stay (days they recomputed refer to them), as stage rows.
UPDATE pipeline_runs SET kind = 'stage' WHERE kind = 'erase';
ALTER TABLE pipeline_runs DROP CONSTRAINT pipeline_runs_kind_check;
ALTER TABLE pipeline_runs ADD CONSTRAINT pipeline_runs_kind_check CHECK (kind IN ('run', 'stage', 'day'));
