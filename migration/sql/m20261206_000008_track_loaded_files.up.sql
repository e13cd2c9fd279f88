-- `loaded_files`: for each shop table, the file whose content it holds, so that a load may skip a
-- file only when the table is known to hold exactly what loading it would give.
--
-- One row per table, written by the load that read the file, in the load's own transaction: the
-- BLAKE3 hash and size of the bytes the load actually read (not of what was seen before reading), the
-- fingerprint of the ingest options, the run time the lines were checked against, and the load's
-- accounting. Any other write to the table (an `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE` that is
-- not followed by the load's own record in the same transaction: a hand edit, a delete, an erase)
-- removes the row through a statement trigger, so the next load reads the file again.

CREATE TABLE loaded_files (
    table_name text PRIMARY KEY,
    run_id bigint NOT NULL,
    stage_name text NOT NULL,
    file_name text NOT NULL,
    bytes bigint NOT NULL,
    blake3 text NOT NULL,
    rules text NOT NULL,
    checked_at timestamp NOT NULL,
    account jsonb NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION forget_loaded_file() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM loaded_files WHERE table_name = TG_TABLE_NAME;
          RETURN NULL;
      END $$;

CREATE TRIGGER customers_forget_loaded_file AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customers FOR EACH STATEMENT EXECUTE FUNCTION forget_loaded_file();

CREATE TRIGGER products_forget_loaded_file AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON products FOR EACH STATEMENT EXECUTE FUNCTION forget_loaded_file();

CREATE TRIGGER orders_forget_loaded_file AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON orders FOR EACH STATEMENT EXECUTE FUNCTION forget_loaded_file();

CREATE TRIGGER order_items_forget_loaded_file AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON order_items FOR EACH STATEMENT EXECUTE FUNCTION forget_loaded_file();
