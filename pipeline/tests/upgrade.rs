//! Upgrading a database computed by an earlier version: the days it computed stay computed, and the
//! days a load changed after they were computed stay stale, with their people, after the migration
//! that replaced the per-day ledger rows and `order_day_changes`.

mod common;

use common::{TestDb, copy_fixture, write_config};
use migration::{Migrator, MigratorTrait};

#[tokio::test]
async fn an_earlier_database_keeps_its_computed_and_stale_days() {
    let db = TestDb::new().await;
    let orm = sea_orm::Database::connect(&db.url).await.unwrap();
    // The schema as the earlier version left it: the first three migrations.
    Migrator::up(&orm, Some(3)).await.unwrap();
    let mut conn = db.connect().await;
    for statement in [
        "INSERT INTO customers VALUES ('c1', 'u1', '01001', 'sao paulo', 'SP'), ('c2', 'u1', '01001', 'sao paulo', 'SP')",
        "INSERT INTO products (product_id) VALUES ('p1')",
        "INSERT INTO orders (order_id, customer_id, order_status, order_purchase_timestamp) VALUES
             ('o1', 'c1', 'delivered', '2017-03-01 10:00:00'), ('o2', 'c2', 'delivered', '2017-03-03 10:00:00')",
        "INSERT INTO order_items VALUES ('o1', 1, 'p1', 's1', '2017-03-05 00:00:00', 10.00, 1.00),
                                        ('o2', 1, 'p1', 's1', '2017-03-07 00:00:00', 20.00, 2.00)",
        // A backfill of the three days, then a load that changed o1's price after it.
        "INSERT INTO pipeline_runs (id, stage_name, stage_type, config_fingerprint, status, range_start, range_end, finished_at)
         VALUES (1, 'customer_daily_stats', 'customer_daily_stats', 'f', 'succeeded', '2017-03-01', '2017-03-03', '2017-04-01 00:00:00+00')",
        "SELECT setval('pipeline_runs_id_seq', 10)",
        "INSERT INTO pipeline_runs (parent_run_id, stage_name, stage_type, config_fingerprint, run_date, status, finished_at, rows_loaded)
         SELECT 1, 'customer_daily_stats', 'customer_daily_stats', 'f', d::date, 'succeeded', '2017-04-01 00:00:00+00',
                CASE WHEN d::date IN ('2017-03-01', '2017-03-03') THEN 1 ELSE 0 END
           FROM generate_series('2017-03-01'::date, '2017-03-03'::date, interval '1 day') d",
        "INSERT INTO customer_daily_stats VALUES
             ('2017-03-01', 'u1', 1, 0, 1, 1, 1, 9.00, 1.00, 10.00, 10.00, '2017-03-01 10:00:00', '2017-03-01 10:00:00', 1, 10.00, '2017-03-01', NULL, false, 1, now()),
             ('2017-03-03', 'u1', 1, 0, 1, 1, 1, 20.00, 2.00, 22.00, 22.00, '2017-03-03 10:00:00', '2017-03-03 10:00:00', 2, 32.00, '2017-03-01', 2, true, 1, now())",
        "INSERT INTO pipeline_runs (id, stage_name, stage_type, config_fingerprint, status) VALUES (2, 'load', 'postgres_load', 'g', 'succeeded')",
        "INSERT INTO order_day_changes (day, run_id, changed_at) VALUES ('2017-03-01', 2, '2017-05-01 00:00:00+00')",
        "SELECT setval('pipeline_runs_id_seq', 20)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    Migrator::up(&orm, None).await.unwrap();
    let computed: Vec<(String, i64)> =
        sqlx::query_as("SELECT day::text, rows FROM aggregate_days ORDER BY day")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        computed,
        [
            ("2017-03-01".to_owned(), 1),
            ("2017-03-02".to_owned(), 0),
            ("2017-03-03".to_owned(), 1)
        ]
    );
    // The changed day's person is stale from that day on: 03-01 and, through the lifetime columns, 03-03.
    let dir = copy_fixture("stats");
    let config = write_config(dir.path(), dir.path(), "", "");
    let config = config.to_str().unwrap();
    // Computed with the options of today (the earlier fingerprint scheme differs): take today's.
    db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-03-10",
        "--skip-stale",
    ]);
    sqlx::query(
        "UPDATE aggregate_days SET config_fingerprint =
             (SELECT config_fingerprint FROM aggregate_days WHERE day = '2017-03-10')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let status: serde_json::Value = db.status_json(config);
    assert_eq!(
        status["aggregates"][0]["days_stale"],
        serde_json::json!(["2017-03-01", "2017-03-03"]),
        "{status}"
    );
    // The next run puts them right.
    db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-03-02",
    ]);
    db.assert_fresh("after the upgrade and a run").await;
    let lifetime: String = db
        .scalar(
            "SELECT lifetime_spent::text FROM customer_daily_stats WHERE stat_date = '2017-03-03'",
        )
        .await;
    assert_eq!(lifetime, "33.00");
}

/// What the schema holds: each table's columns with their types, in the public schema.
async fn schema_of(db: &TestDb) -> String {
    db.checksum(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
            AND c.relname <> 'seaql_migrations'
          ORDER BY 1, 2",
    )
    .await
}

#[tokio::test]
async fn every_migration_goes_down_and_up_again() {
    let db = TestDb::new().await;
    let orm = sea_orm::Database::connect(&db.url).await.unwrap();
    Migrator::up(&orm, None).await.unwrap();
    let migrated = schema_of(&db).await;
    Migrator::reset(&orm).await.unwrap();
    let left: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'i') AND c.relname NOT LIKE 'seaql_migrations%'",
        )
        .await;
    assert_eq!(left, 0, "the down migrations leave relations behind");
    let functions: i64 = db
        .scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")
        .await;
    assert_eq!(functions, 0, "the down migrations leave functions behind");
    Migrator::up(&orm, None).await.unwrap();
    assert_eq!(schema_of(&db).await, migrated);
}
