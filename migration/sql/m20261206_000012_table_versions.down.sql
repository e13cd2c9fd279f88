ALTER TABLE aggregate_days DROP COLUMN engine;
DROP TRIGGER order_items_version ON order_items;
DROP TRIGGER orders_version ON orders;
DROP TRIGGER customers_version ON customers;
DROP TRIGGER products_version ON products;
DROP FUNCTION bump_table_version();
DROP TABLE table_versions;
