DROP TABLE order_day_changes;

DROP TABLE rejected_rows;

DROP TABLE pipeline_runs;
