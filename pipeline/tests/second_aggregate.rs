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

/// A pipeline of the stats fixture with the product aggregate, named `products`, beside the
/// customer aggregate; or, with `customers` false, in its place.
fn products_config(dir: &std::path::Path, customers: bool) -> String {
    let config = write_config(dir, &common::fixture("stats"), "", "");
    let declared = std::fs::read_to_string(&config).unwrap();
    let products = "[[stages]]\nname = \"products\"\ntype = \"product_daily_stats\"\n";
    let declared = if customers {
        format!("{declared}\n{products}")
    } else {
        let customer =
            "[[stages]]\nname = \"customer_daily_stats\"\ntype = \"customer_daily_stats\"\n";
        assert!(declared.contains(customer));
        declared.replace(customer, products)
    };
    std::fs::write(&config, declared).unwrap();
    config.to_str().unwrap().to_owned()
}

/// `products` rows of `day` as CSV lines, largest `items_value` first, each value as `PostgreSQL`
/// writes it: from the table, or, with `fresh`, from a fresh computation.
async fn product_lines(db: &TestDb, day: &str, fresh: bool) -> Vec<String> {
    let rows = if fresh {
        format!("SELECT * FROM ({FRESH_PRODUCT_SQL}) f WHERE f.day = '{day}'")
    } else {
        format!("SELECT * FROM ({STORED_PRODUCT_SQL}) s WHERE s.stat_date = '{day}'")
    };
    let mut conn = db.connect().await;
    let lines = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT concat_ws(',', d, p, o, i, v, f, c) FROM ({rows}) r(d, p, o, i, v, f, c)
          ORDER BY v DESC, p"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    lines
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one story: the rows in each format, then each refusal"
)]
async fn stats_shows_the_rows_of_any_declared_aggregate() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = products_config(dir.path(), true);
    let config = config.as_str();
    db.ok(&["--config", config, "run"]);

    // 2017-03-05 holds prices of 0.02 and 0.03 with no freight: money keeps two decimals.
    for day in ["2017-03-01", "2017-03-03", "2017-03-05"] {
        let csv = db.ok(&[
            "--config", config, "stats", "--stage", "products", "--date", day, "--format", "csv",
        ]);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "stat_date,product_id,orders_count,items_count,items_value,freight_value,customers_count"
            )
        );
        let printed: Vec<&str> = lines.collect();
        let stored = product_lines(&db, day, false).await;
        assert!(!stored.is_empty(), "{day}: no product sold");
        assert_eq!(
            printed, stored,
            "{day}: stats --stage products --format csv"
        );
        assert_eq!(product_lines(&db, day, true).await, stored, "{day}: fresh");
    }
    assert_eq!(
        product_lines(&db, "2017-03-05", false).await,
        [
            "2017-03-05,p2,1,1,0.03,0.00,1",
            "2017-03-05,p1,1,1,0.02,0.00,1"
        ]
    );

    // JSON: one object per row, the columns in the table's order, money as strings, counts as numbers.
    let printed: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        config,
        "stats",
        "--stage",
        "products",
        "--date",
        "2017-03-01",
        "--format",
        "json",
    ]))
    .unwrap();
    let expected: serde_json::Value = db
        .scalar(
            "SELECT json_agg(json_build_object(
                    'stat_date', stat_date::text, 'product_id', product_id,
                    'orders_count', orders_count, 'items_count', items_count,
                    'items_value', items_value::text, 'freight_value', freight_value::text,
                    'customers_count', customers_count) ORDER BY items_value DESC, product_id)
               FROM product_daily_stats WHERE stat_date = '2017-03-01'",
        )
        .await;
    assert_eq!(printed, expected);
    assert_eq!(
        printed[0],
        serde_json::json!({"stat_date": "2017-03-01", "product_id": "p2", "orders_count": 2,
                           "items_count": 2, "items_value": "53.33", "freight_value": "2.00",
                           "customers_count": 2})
    );

    // A table with a summary line; --limit shows fewer.
    let table = db.ok(&[
        "--config",
        config,
        "stats",
        "--stage",
        "products",
        "--date",
        "2017-03-01",
        "--limit",
        "1",
    ]);
    assert!(
        table.starts_with("2017-03-01: products: 3 rows (showing 1)\n"),
        "{table}"
    );
    assert_eq!(table.matches("2017-03-01 ┆ p").count(), 1, "{table}");

    // The customer aggregate named is the default one.
    let default = db.ok(&[
        "--config",
        config,
        "stats",
        "--date",
        "2017-03-01",
        "--format",
        "csv",
    ]);
    let named = db.ok(&[
        "--config",
        config,
        "stats",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-03-01",
        "--format",
        "csv",
    ]);
    assert_eq!(named, default);
    assert!(default.starts_with("stat_date,customer_unique_id,"));

    let refused = |args: &[&str], code: i32, message: &str| {
        let mut all = vec!["--config", config, "stats"];
        all.extend_from_slice(args);
        let out = db.run(&all);
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    let declared = "(declared aggregates: customer_daily_stats (customer_daily_stats), products (product_daily_stats))";
    refused(
        &["--stage", "nope", "--date", "2017-03-01"],
        2,
        &format!("stats --stage nope: no stage is named \"nope\" {declared}"),
    );
    refused(
        &["--stage", "load", "--date", "2017-03-01"],
        2,
        &format!("stats --stage load: \"load\" is a load stage, not an aggregate {declared}"),
    );
    refused(
        &[
            "--stage",
            "products",
            "--date",
            "2017-03-01",
            "--customer",
            "ua",
        ],
        2,
        "--customer picks one customer's rows, and the rows of stage \"products\" (product_daily_stats) are not per customer",
    );
    // A day never computed, as for the customer aggregate.
    refused(
        &["--stage", "products", "--date", "2017-04-01"],
        1,
        "2017-04-01 has not been computed yet; compute it with:\n  pipeline run --date 2017-04-01 --stage products",
    );
}

#[tokio::test]
async fn the_customer_reads_ask_for_a_customer_aggregate() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = products_config(dir.path(), false);
    let config = config.as_str();
    // Refused before anything runs: nothing is migrated.
    for command in [
        &["top-customers"][..],
        &["repeaters"],
        &["report", "--format", "json"],
        &["demo"],
    ] {
        let mut args = vec!["--config", config];
        args.extend_from_slice(command);
        let out = db.run(&args);
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: {} reads the rows of a customer aggregate (one row per customer and day), and {config} declares none; declare a stage of type customer_daily_stats (declared aggregates: products (product_daily_stats))",
                command[0]
            )),
            "{command:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{command:?}");
    }
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await,
        0
    );
    db.ok(&["--config", config, "run"]);
    let out = db.run(&["--config", config, "stats", "--date", "2017-03-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::text(&out.stderr)
            .contains("stats without --stage shows the customer aggregate's rows, and"),
        "{}",
        common::text(&out.stderr)
    );
    let csv = db.ok(&[
        "--config",
        config,
        "stats",
        "--stage",
        "products",
        "--date",
        "2017-03-01",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.lines().count(), 4, "{csv}");
}
