-- The statistics' customer key in byte order (the "C" collation). PostgreSQL keeps the rows where
-- they are and builds the primary key and the customer index again. A comparison with a shop
-- table's column (the database's default collation) is made in "C", so it uses this table's key
-- and index, not the shop table's: a look-up that needs the latter says COLLATE "default" (the
-- top-customer reads).
ALTER TABLE customer_daily_stats ALTER COLUMN customer_unique_id TYPE text COLLATE "C";
