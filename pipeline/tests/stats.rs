//! End-to-end tests of `customer_daily_stats` and the commands that read it, on a hand-computed fixture
//! (`datasets/fixtures/stats`) and on generated data.

mod common;

use std::fmt::Write as _;
use std::process::Command;

use common::{TestDb, copy_fixture, fixture, generated, text, write_config};

fn stats_config(dir: &std::path::Path, stats_options: &str) -> String {
    write_config(dir, &fixture("stats"), "", stats_options)
        .to_str()
        .unwrap()
        .to_owned()
}

/// A stored row as `col|col|...`, NULL spelt out.
type Row = String;

async fn rows(db: &TestDb) -> Vec<Row> {
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT concat_ws('|', stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count,
                distinct_products, distinct_sellers, items_value, freight_value, total_spent,
                coalesce(avg_order_value::text, 'NULL'), first_order_at, last_order_at, lifetime_orders,
                lifetime_spent, first_order_date, coalesce(days_since_previous_order::text, 'NULL'), is_repeat_customer)
           FROM customer_daily_stats ORDER BY stat_date, customer_unique_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

fn row(
    day: &str,
    customer: &str,
    counts: (i32, i32, i32, i32, i32),
    money: (&str, &str, &str, Option<&str>),
    at: (&str, &str),
    lifetime: (i32, &str, &str, Option<i32>, bool),
) -> Row {
    [
        day.to_owned(),
        customer.to_owned(),
        counts.0.to_string(),
        counts.1.to_string(),
        counts.2.to_string(),
        counts.3.to_string(),
        counts.4.to_string(),
        money.0.to_owned(),
        money.1.to_owned(),
        money.2.to_owned(),
        money.3.unwrap_or("NULL").to_owned(),
        at.0.to_owned(),
        at.1.to_owned(),
        lifetime.0.to_string(),
        lifetime.1.to_owned(),
        lifetime.2.to_owned(),
        lifetime
            .3
            .map_or_else(|| "NULL".to_owned(), |d| d.to_string()),
        (if lifetime.4 { "t" } else { "f" }).to_owned(),
    ]
    .join("|")
}

/// The fixture's rows, computed by hand (see datasets/fixtures/README.md).
fn expected() -> Vec<Row> {
    vec![
        // Person ua: three customer_ids the same day, one order canceled (counted, not spent).
        row(
            "2017-03-01",
            "ua",
            (3, 1, 3, 2, 2),
            ("40.00", "4.00", "44.00", Some("22.00")),
            ("2017-03-01 09:00:00", "2017-03-01 20:00:00"),
            (3, "44.00", "2017-03-01", None, true),
        ),
        row(
            "2017-03-01",
            "ub",
            (1, 0, 2, 2, 2),
            ("66.66", "0.01", "66.67", Some("66.67")),
            ("2017-03-01 10:00:00", "2017-03-01 10:00:00"),
            (1, "66.67", "2017-03-01", None, false),
        ),
        // ub again after a gap, with only an unavailable order without items.
        row(
            "2017-03-03",
            "ub",
            (1, 1, 0, 0, 0),
            ("0.00", "0.00", "0.00", None),
            ("2017-03-03 14:00:00", "2017-03-03 14:00:00"),
            (2, "66.67", "2017-03-01", Some(2), true),
        ),
        row(
            "2017-03-03",
            "uc",
            (1, 0, 1, 1, 1),
            ("7.00", "3.00", "10.00", Some("10.00")),
            ("2017-03-03 08:00:00", "2017-03-03 08:00:00"),
            (1, "10.00", "2017-03-03", None, false),
        ),
        // ua's delivered order without items: a kept order of zero value.
        row(
            "2017-03-05",
            "ua",
            (1, 0, 0, 0, 0),
            ("0.00", "0.00", "0.00", Some("0.00")),
            ("2017-03-05 12:00:00", "2017-03-05 12:00:00"),
            (4, "44.00", "2017-03-01", Some(4), true),
        ),
        // ud: 0.05 over two orders is 0.025, rounded half away from zero.
        row(
            "2017-03-05",
            "ud",
            (2, 0, 2, 2, 1),
            ("0.05", "0.00", "0.05", Some("0.03")),
            ("2017-03-05 10:00:00", "2017-03-05 11:00:00"),
            (2, "0.05", "2017-03-05", None, true),
        ),
    ]
}

#[tokio::test]
async fn every_column_matches_the_hand_computed_rows() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "");
    let out = db.ok(&["--config", &config, "run"]);
    assert!(
        out.contains(
            "customer_daily_stats: computed 5 days not computed before (2017-03-01..2017-03-05), 6 rows written"
        ),
        "{out}"
    );
    assert_eq!(rows(&db).await, expected());
    // Days without orders are recorded as computed with zero rows.
    let recorded: Vec<(String, i64)> = {
        let mut conn = db.connect().await;
        sqlx::query_as("SELECT day::text, rows FROM aggregate_days ORDER BY day")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    let recorded: Vec<(&str, i64)> = recorded.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    assert_eq!(
        recorded,
        [
            ("2017-03-01", 2),
            ("2017-03-02", 0),
            ("2017-03-03", 2),
            ("2017-03-04", 0),
            ("2017-03-05", 2)
        ]
    );
}

#[tokio::test]
async fn days_in_any_order_a_range_and_a_full_backfill_give_the_same_rows() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "chunk_days = 2");
    db.ok(&["--config", &config, "run", "--stage", "load"]);
    for day in [
        "2017-03-05",
        "2017-03-01",
        "2017-03-03",
        "2017-03-02",
        "2017-03-04",
    ] {
        db.ok(&[
            "--config",
            &config,
            "run",
            "--stage",
            "customer_daily_stats",
            "--date",
            day,
        ]);
    }
    assert_eq!(rows(&db).await, expected());
    let per_day = db.checksum(&common::stats_columns()).await;
    db.ok(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--range",
        "2017-03-02..2017-03-05",
    ]);
    assert_eq!(db.checksum(&common::stats_columns()).await, per_day);
    db.ok(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
    ]);
    assert_eq!(db.checksum(&common::stats_columns()).await, per_day);
    // A rerun changes nothing but who wrote the rows.
    db.ok(&["--config", &config, "run"]);
    assert_eq!(db.checksum(&common::stats_columns()).await, per_day);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM customer_daily_stats")
            .await,
        6
    );
}

#[tokio::test]
async fn generated_history_per_day_equals_full_backfill() {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "4000", "--days", "120", "--seed", "5"]);
    let config = write_config(dir.path(), &data, "", "chunk_days = 7");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    let full = db.checksum(&common::stats_columns()).await;
    assert!(
        db.scalar::<i64>("SELECT count(*) FROM customer_daily_stats WHERE is_repeat_customer")
            .await
            > 0
    );
    // Recompute a week alone, then three single days out of order: the table stays identical.
    db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--range",
        "2016-10-10..2016-10-16",
    ]);
    for day in ["2016-12-01", "2016-09-20", "2016-11-11"] {
        db.ok(&[
            "--config",
            config,
            "run",
            "--stage",
            "customer_daily_stats",
            "--date",
            day,
        ]);
    }
    assert_eq!(db.checksum(&common::stats_columns()).await, full);
    // An independent computation of the lifetime columns agrees with the stored ones.
    let mismatches: i64 = db
        .scalar(
            "WITH person_orders AS (
                 SELECT c.customer_unique_id AS person, o.order_purchase_timestamp::date AS day
                   FROM orders o JOIN customers c USING (customer_id))
             SELECT count(*) FROM customer_daily_stats s
              WHERE s.lifetime_orders <> (SELECT count(*) FROM person_orders p WHERE p.person = s.customer_unique_id AND p.day <= s.stat_date)
                 OR s.first_order_date <> (SELECT min(day) FROM person_orders p WHERE p.person = s.customer_unique_id)",
        )
        .await;
    assert_eq!(mismatches, 0);
}

#[tokio::test]
async fn overlapping_backfills_at_once_end_with_the_right_rows() {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "3000", "--days", "90", "--seed", "9"]);
    let config = write_config(dir.path(), &data, "", "chunk_days = 5");
    let config = config.to_str().unwrap().to_owned();
    db.ok(&["--config", &config, "run"]);
    let expected = db.checksum(&common::stats_columns()).await;
    db.ok(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--range",
        "2016-09-01..2016-09-02",
    ]);
    let spawn = |range: &str| {
        Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args([
                "--config",
                &config,
                "run",
                "--stage",
                "customer_daily_stats",
                "--range",
                range,
            ])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap()
    };
    let mut children = vec![
        spawn("2016-09-04..2016-11-20"),
        spawn("2016-10-01..2016-12-10"),
        spawn("2016-09-20..2016-10-20"),
    ];
    // A load racing the backfills changes nothing and must not fail either.
    children.push(
        Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args(["--config", &config, "run", "--stage", "load"])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    for child in &mut children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(db.checksum(&common::stats_columns()).await, expected);
}

#[allow(
    clippy::too_many_lines,
    reason = "the hand-computed fixture's figures, command by command"
)]
#[tokio::test]
async fn stats_top_customers_and_repeaters_read_the_stored_rows() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "");
    db.ok(&["--config", &config, "run"]);

    let day: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        &config,
        "stats",
        "--date",
        "2017-03-01",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(day.as_array().unwrap().len(), 2);
    assert_eq!(
        day[0]["customer_unique_id"], "ub",
        "largest total_spent first"
    );
    // Money is a string with two decimals.
    assert_eq!(day[0]["total_spent"], "66.67");
    assert_eq!(day[1]["avg_order_value"], "22.00");
    assert_eq!(day[1]["lifetime_spent"], "44.00");
    let table = db.ok(&["--config", &config, "stats", "--date", "2017-03-01"]);
    assert!(
        table.starts_with("2017-03-01: 2 customers, 4 orders, revenue 110.67\n"),
        "{table}"
    );
    let csv = db.ok(&[
        "--config",
        &config,
        "stats",
        "--date",
        "2017-03-05",
        "--customer",
        "ud",
        "--format",
        "csv",
    ]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("stat_date,customer_unique_id,orders_count,")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("2017-03-05,ud,2,0,2,2,1,0.05,0.00,0.05,0.03,")
    );
    assert_eq!(lines.next(), None);

    let top: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", &config, "top-customers", "--format", "json"]))
            .unwrap();
    let ranked: Vec<(&str, &str)> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["customer_unique_id"].as_str().unwrap(),
                t["total_spent"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            ("ub", "66.67"),
            ("ua", "44.00"),
            ("uc", "10.00"),
            ("ud", "0.05")
        ]
    );
    assert_eq!(
        top[1],
        serde_json::json!({"rank": 2, "customer_unique_id": "ua", "orders": 4, "items": 3, "total_spent": "44.00",
                           "first_order_date": "2017-03-01", "last_order_date": "2017-03-05",
                           "city": "campinas", "state": "SP"})
    );
    let by_orders: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        &config,
        "top-customers",
        "--by",
        "orders",
        "--limit",
        "3",
        "--format",
        "json",
    ]))
    .unwrap();
    let ids: Vec<&str> = by_orders
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["customer_unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["ua", "ub", "ud"],
        "ties broken by customer_unique_id ascending"
    );
    let ranged: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        &config,
        "top-customers",
        "--range",
        "2017-03-03..2017-03-05",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(ranged[0]["customer_unique_id"], "uc");

    let repeaters: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", &config, "repeaters", "--format", "json"]))
            .unwrap();
    assert_eq!(
        repeaters,
        serde_json::json!({"customers": 4, "repeaters_by_orders": 3, "repeaters_by_days": 2, "repeat_rate": 0.75,
                           "histogram": {"2": 2, "4": 1}})
    );
    let ranged: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        &config,
        "repeaters",
        "--range",
        "2017-03-03..2017-03-05",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(ranged["customers"], 4);
    assert_eq!(ranged["repeaters_by_orders"], 1);
    assert_eq!(ranged["repeaters_by_days"], 0);
    let table = db.ok(&["--config", &config, "repeaters"]);
    assert!(
        table.contains("repeaters_by_days: customers who ordered on 2 or more distinct days"),
        "{table}"
    );
}

#[tokio::test]
async fn top_customers_shows_the_place_of_the_customers_own_latest_order() {
    // Ids that collide across the two keys: person "ux" ordered last (on 03-06) as customer_id "ua",
    // which is also person ua's unique id; person "ca4" ordered last (on 03-07) as "cz1", and "ca4" is
    // also the customer_id of ua's own latest order (campinas).
    let dir = copy_fixture("stats");
    let append = |file: &str, line: &str| {
        let path = dir.path().join(file);
        let mut content = std::fs::read_to_string(&path).unwrap();
        writeln!(content, "{line}").unwrap();
        std::fs::write(&path, content).unwrap();
    };
    append(
        "olist_customers_dataset.csv",
        "\"ua\",\"ux\",\"69000\",manaus,AM",
    );
    append(
        "olist_customers_dataset.csv",
        "\"cz1\",\"ca4\",\"59000\",natal,RN",
    );
    append(
        "olist_orders_dataset.csv",
        "\"ox1\",\"ua\",delivered,2017-03-06 09:00:00,,,,",
    );
    append(
        "olist_orders_dataset.csv",
        "\"oz1\",\"cz1\",delivered,2017-03-07 09:00:00,,,,",
    );
    // (customer_key, [(customer, city, state)]).
    let cases = [
        (
            "customer_unique_id",
            [
                ("ua", "campinas", "SP"),
                ("ux", "manaus", "AM"),
                ("ca4", "natal", "RN"),
            ],
        ),
        (
            "customer_id",
            [
                ("ca4", "campinas", "SP"),
                ("ua", "manaus", "AM"),
                ("cz1", "natal", "RN"),
            ],
        ),
    ];
    for (key, expected) in cases {
        let db = TestDb::new().await;
        let config = write_config(
            dir.path(),
            dir.path(),
            "",
            &format!("customer_key = \"{key}\""),
        );
        let config = config.to_str().unwrap();
        db.ok(&["--config", config, "run"]);
        let top: serde_json::Value = serde_json::from_str(&db.ok(&[
            "--config",
            config,
            "top-customers",
            "--limit",
            "100",
            "--format",
            "json",
        ]))
        .unwrap();
        for (customer, city, state) in expected {
            let row = top
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["customer_unique_id"] == customer)
                .unwrap_or_else(|| panic!("{customer} is not ranked: {top:#}"));
            assert_eq!(
                (row["city"].as_str(), row["state"].as_str()),
                (Some(city), Some(state)),
                "keyed by {key}, {customer}"
            );
        }
    }
}

#[tokio::test]
async fn a_day_never_computed_says_how_to_compute_it() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "");
    db.ok(&["--config", &config, "run", "--stage", "load"]);
    let out = db.run(&["--config", &config, "stats", "--date", "2017-03-01"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2017-03-01 has not been computed yet; compute it with:\n  pipeline run --date 2017-03-01 --stage customer_daily_stats"), "{stderr}");
}

#[tokio::test]
async fn editing_the_stage_options_marks_days_stale_until_rerun() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "");
    db.ok(&["--config", &config, "run"]);
    let config = stats_config(
        dir.path(),
        "customer_key = \"customer_id\"\nexcluded_statuses = [\"canceled\"]",
    );
    let status: serde_json::Value = db.status_json(&config);
    assert_eq!(
        status["aggregates"][0]["days_stale"],
        serde_json::json!(["2017-03-01..2017-03-05"])
    );
    db.ok(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
    ]);
    let status: serde_json::Value = db.status_json(&config);
    assert_eq!(status["aggregates"][0]["days_stale"], serde_json::json!([]));
    // Keyed by customer_id, ua's three same-day orders are three customers, and unavailable now counts as kept.
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM customer_daily_stats WHERE stat_date = '2017-03-01'"
        )
        .await,
        4
    );
    assert_eq!(
        db.scalar::<i64>("SELECT canceled_orders_count FROM customer_daily_stats WHERE customer_unique_id = 'cb2'").await,
        0
    );
}

#[tokio::test]
async fn the_key_the_rows_hold_is_recorded_and_said() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stats_config(dir.path(), "");
    db.ok(&["--config", &config, "run"]);
    let keys = |status: &serde_json::Value| status["aggregates"][0]["row_keys"].clone();
    assert_eq!(
        keys(&db.status_json(&config)),
        serde_json::json!(["customer_unique_id"])
    );
    let said = db.ok(&["--config", &config, "status"]);
    assert!(!said.contains("rows keyed by"), "{said}");
    let other_dir = tempfile::tempdir().unwrap();
    let by_order = stats_config(other_dir.path(), "customer_key = \"customer_id\"");
    db.ok(&["--config", &by_order, "run"]);
    assert_eq!(
        keys(&db.status_json(&by_order)),
        serde_json::json!(["customer_id"])
    );
    let said = db.ok(&["--config", &by_order, "status"]);
    assert!(
        said.contains(
            "customer_daily_stats: rows keyed by customer_id: the column customer_unique_id holds customer ids, one per order (customer_key = \"customer_id\")"
        ),
        "{said}"
    );
    let page = dir.path().join("report.html");
    db.ok(&[
        "--config",
        &by_order,
        "report",
        "--out",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("the rows are keyed by customer_id"),
        "the report does not say which key its rows hold"
    );
    // Back to the person's key: every day is computed again, and status says nothing.
    db.ok(&["--config", &config, "run"]);
    assert_eq!(
        keys(&db.status_json(&config)),
        serde_json::json!(["customer_unique_id"])
    );
    let said = db.ok(&["--config", &config, "status"]);
    assert!(!said.contains("rows keyed by"), "{said}");
}

#[tokio::test]
async fn schedule_once_computes_the_previous_day() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let orders = dir.path().join("olist_orders_dataset.csv");
    let mut text_in = std::fs::read_to_string(&orders).unwrap();
    writeln!(
        text_in,
        "\"oy1\",\"cc1\",delivered,{yesterday} 15:00:00,,,,"
    )
    .unwrap();
    std::fs::write(&orders, text_in).unwrap();
    let config = write_config(dir.path(), dir.path(), "", "");
    let out = db.run(&[
        "--config",
        config.to_str().unwrap(),
        "schedule",
        "--once",
        "--timezone",
        "UTC",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let computed: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM customer_daily_stats WHERE stat_date = '{yesterday}' AND customer_unique_id = 'uc'"
        ))
        .await;
    assert_eq!(computed, 1);
    assert_eq!(
        db.scalar::<i64>("SELECT lifetime_orders::bigint FROM customer_daily_stats WHERE customer_unique_id = 'uc' ORDER BY stat_date DESC LIMIT 1").await,
        2
    );
}
