DROP TABLE order_items;

DROP TABLE orders;

DROP TABLE products;

DROP TABLE customers;
