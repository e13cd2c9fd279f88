-- What each shop table holds of the files (stages/src/core/loaded_files.rs): one row of
-- `loaded_files` per table.

-- name: read_all
SELECT table_name, run_id, stage_name, bytes, blake3, rules, checked_at, account
  FROM loaded_files ORDER BY table_name;

-- name: record
-- Replaces table $1's row.
INSERT INTO loaded_files (table_name, run_id, stage_name, file_name, bytes, blake3, rules, checked_at, account)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (table_name) DO UPDATE SET run_id = EXCLUDED.run_id, stage_name = EXCLUDED.stage_name,
       file_name = EXCLUDED.file_name, bytes = EXCLUDED.bytes, blake3 = EXCLUDED.blake3,
       rules = EXCLUDED.rules, checked_at = EXCLUDED.checked_at, account = EXCLUDED.account,
       loaded_at = now();
