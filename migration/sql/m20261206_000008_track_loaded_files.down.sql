DROP TRIGGER order_items_forget_loaded_file ON order_items;

DROP TRIGGER orders_forget_loaded_file ON orders;

DROP TRIGGER products_forget_loaded_file ON products;

DROP TRIGGER customers_forget_loaded_file ON customers;

DROP FUNCTION forget_loaded_file();

DROP TABLE loaded_files;
