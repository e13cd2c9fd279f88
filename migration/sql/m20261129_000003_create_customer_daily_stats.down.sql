DROP TABLE customer_daily_stats;
