//! A second aggregate stage type, `product_daily_stats`, declared beside `customer_daily_stats`: it is
//! listed by `pipeline stages`, runs in the same plan, and its computed days stay equal to a fresh
//! computation as random edits of the exports change the past.

mod common;

use chrono::NaiveDate;
use common::{Shop, TestDb, generated, random_edit, write_config};
use rand::{Rng, SeedableRng};
use sqlx::{AssertSqlSafe, Connection};

/// Every row `product_daily_stats` should hold, from scratch, written apart from the stage's SQL.
const FRESH_PRODUCT_SQL: &str = "
SELECT x.day, x.product_id, count(DISTINCT x.order_id), count(*),
       sum(x.price)::numeric(28,2), sum(x.freight_value)::numeric(28,2), count(DISTINCT x.person)
  FROM (SELECT date_trunc('day', o.order_purchase_timestamp)::date AS day, i.order_id, i.product_id,
               i.price, i.freight_value, c.customer_unique_id AS person
          FROM order_items i
          JOIN orders o ON o.order_id = i.order_id
          JOIN customers c ON c.customer_id = o.customer_id
         WHERE o.order_status NOT IN ('canceled', 'unavailable')) x
 GROUP BY x.day, x.product_id";

const STORED_PRODUCT_SQL: &str = "
SELECT stat_date, product_id, orders_count, items_count, items_value, freight_value, customers_count
  FROM product_daily_stats";

const COMPUTED: &str = "SELECT day FROM aggregate_days WHERE stage_name = 'products'";

async fn assert_products_fresh(db: &TestDb, case: &str) {
    let mut conn = db.connect().await;
    let rows = |sql: String| format!("SELECT t::text FROM ({sql}) t ORDER BY 1");
    let stored: Vec<String> = sqlx::query_scalar(AssertSqlSafe(rows(format!(
        "SELECT * FROM ({STORED_PRODUCT_SQL}) s WHERE s.stat_date IN ({COMPUTED})"
    ))))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let fresh: Vec<String> = sqlx::query_scalar(AssertSqlSafe(rows(format!(
        "SELECT * FROM ({FRESH_PRODUCT_SQL}) f WHERE f.day IN ({COMPUTED})"
    ))))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let stray: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM product_daily_stats WHERE stat_date NOT IN ({COMPUTED})"
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // The recorded row counts are what the days hold.
    let miscounted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM aggregate_days d
          WHERE d.stage_name = 'products'
            AND d.rows <> (SELECT count(*) FROM product_daily_stats s WHERE s.stat_date = d.day)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    if stored != fresh {
        let only_stored: Vec<&String> = stored.iter().filter(|r| !fresh.contains(r)).collect();
        let only_fresh: Vec<&String> = fresh.iter().filter(|r| !stored.contains(r)).collect();
        panic!(
            "{case}: product_daily_stats differs from a fresh computation\n  only stored: {only_stored:#?}\n  only fresh: {only_fresh:#?}"
        );
    }
    assert_eq!(stray, 0, "{case}: rows on days not recorded as computed");
    assert_eq!(miscounted, 0, "{case}: aggregate_days.rows is wrong");
}

#[test]
fn the_second_aggregate_type_is_listed() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .arg("stages")
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed = common::text(&out.stdout);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    for (name, role) in [
        ("csv_extract", "extract"),
        ("validate", "validate"),
        ("postgres_load", "load"),
        ("customer_daily_stats", "aggregate"),
        ("product_daily_stats", "aggregate"),
    ] {
        assert!(
            rows.contains(&vec![name, role]),
            "{name} missing:\n{listed}"
        );
    }
}

#[tokio::test]
async fn a_second_aggregate_runs_beside_the_first_and_stays_fresh() {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &[
            "--orders",
            "300",
            "--days",
            "25",
            "--start",
            "2017-01-01",
            "--seed",
            "5",
        ],
    );
    let config = write_config(dir.path(), &base, "", "chunk_days = 7");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(
        "\n[[stages]]\nname = \"products\"\ntype = \"product_daily_stats\"\nchunk_days = 5\n",
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();

    db.ok(&["--config", config, "run"]);
    // Every day with data, as the first aggregate.
    let days: i64 = db
        .scalar(&format!("SELECT count(*) FROM ({COMPUTED}) d"))
        .await;
    let span: i64 = db
        .scalar("SELECT (max(order_purchase_timestamp)::date - min(order_purchase_timestamp)::date + 1)::bigint FROM orders")
        .await;
    let first: i64 = db
        .scalar("SELECT count(*) FROM aggregate_days WHERE stage_name = 'customer_daily_stats'")
        .await;
    assert!(days >= 20, "only {days} days computed");
    assert_eq!((days, first), (span, span));
    assert_products_fresh(&db, "after the backfill").await;
    db.assert_fresh("after the backfill").await;

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut shop = Shop::read(&base);
    let mut history = Vec::new();
    for step in 0..8 {
        for _ in 0..rng.gen_range(1..4) {
            history.push(random_edit(&mut shop, &mut rng));
        }
        shop.write(&base);
        let day =
            NaiveDate::from_ymd_opt(2017, 1, 1).unwrap() + chrono::Days::new(rng.gen_range(0..28));
        if step % 3 == 2 {
            // A load alone, then this stage alone.
            history.push(format!("step {step}: load, then products {day}"));
            db.ok(&["--config", config, "run", "--stage", "load"]);
            let out = db.run(&["--config", config, "status", "--check"]);
            assert_eq!(out.status.code(), Some(1), "a load leaves days stale");
            db.ok(&[
                "--config",
                config,
                "run",
                "--stage",
                "products",
                "--date",
                &day.to_string(),
            ]);
            assert_products_fresh(&db, &history.join("\n  ")).await;
            db.ok(&["--config", config, "run", "--stage", "customer_daily_stats"]);
        } else {
            history.push(format!("step {step}: run --date {day}"));
            db.ok(&["--config", config, "run", "--date", &day.to_string()]);
        }
        assert_products_fresh(&db, &history.join("\n  ")).await;
        db.assert_fresh(&history.join("\n  ")).await;
        assert_eq!(
            db.status_check(config),
            Some(0),
            "status --check after:\n  {}",
            history.join("\n  ")
        );
    }
}
