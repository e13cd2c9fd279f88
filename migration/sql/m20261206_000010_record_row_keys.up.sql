ALTER TABLE aggregate_days ADD COLUMN row_key text;
