-- The statistics' customer key in byte order (the "C" collation). PostgreSQL keeps the rows where
-- they are and builds the primary key and the customer index again. Comparisons with the shop
-- tables' columns (the database's default collation) are made in "C", so they still use both.
ALTER TABLE customer_daily_stats ALTER COLUMN customer_unique_id TYPE text COLLATE "C";
