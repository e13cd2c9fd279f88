ALTER TABLE customer_daily_stats ADD CONSTRAINT customer_daily_stats_run_id_fkey
    FOREIGN KEY (run_id) REFERENCES pipeline_runs (id);
