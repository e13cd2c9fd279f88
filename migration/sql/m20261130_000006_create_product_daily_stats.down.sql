DROP TABLE product_daily_stats;
