ALTER TABLE aggregate_days DROP COLUMN row_key;
