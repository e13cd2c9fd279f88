-- What a distributed engine needs to know to reuse its copy of a table:
--
-- `table_versions`: one row per shop table, whose `version` changes with every statement that writes
-- the table (insert, update, delete, truncate), whoever runs it: the load, `pipeline erase`, an
-- analyst's UPDATE. A copy of a table made under version V (read before the copy) equals the table
-- as long as its version is still V. The version is random, so that a database dropped and made
-- again, or another database, never meets a copy made from an earlier one by chance.
--
-- `aggregate_days.engine`: what computed each day's rows (`postgres`, `datafusion`, `ballista`);
-- NULL for days computed before this migration.

CREATE TABLE table_versions (
    table_name text PRIMARY KEY,
    version uuid NOT NULL DEFAULT gen_random_uuid(),
    changed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO table_versions (table_name)
VALUES ('products'), ('customers'), ('orders'), ('order_items');

CREATE FUNCTION bump_table_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_versions SET version = gen_random_uuid(), changed_at = now()
     WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END;
$$;

CREATE TRIGGER products_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_table_version();
CREATE TRIGGER customers_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_table_version();
CREATE TRIGGER orders_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION bump_table_version();
CREATE TRIGGER order_items_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON order_items
    FOR EACH STATEMENT EXECUTE FUNCTION bump_table_version();

ALTER TABLE aggregate_days ADD COLUMN engine text;
