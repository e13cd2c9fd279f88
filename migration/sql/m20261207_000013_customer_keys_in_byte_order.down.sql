ALTER TABLE customer_daily_stats ALTER COLUMN customer_unique_id TYPE text COLLATE "default";
