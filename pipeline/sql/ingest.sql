-- The statements of the ingest (pipeline/src/runner/ingest/), which declares them with
-- `stages::statements!`.

-- name: first_rejects
-- The first rejected lines of the load's staging, for the message of a load aborted for too many.
SELECT source_file, line_number, reason FROM staging_rejects ORDER BY dataset, line_number LIMIT 5;
