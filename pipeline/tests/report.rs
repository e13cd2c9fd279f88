//! `pipeline report`: the JSON series against values computed by hand on the fixture
//! (`datasets/fixtures/stats`, see its README), and the HTML page rendered by real headless Chromium.

mod common;

use std::io::Write;
use std::path::Path;

use common::{TestDb, chromium, copy_fixture, fixture, generated, write_config};
use serde_json::{Value, json};

fn json_of(db: &TestDb, config: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "report",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&db.ok(&args)).unwrap()
}

fn append(dir: &Path, file: &str, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(file))
        .unwrap();
    for line in lines {
        writeln!(f, "{line}").unwrap();
    }
}

/// The bins of `days_between_orders` with the given counts at `[2, 4)`, `[4, 8)` and `[31, 61)`.
fn gaps(two_to_three: i64, four_to_seven: i64, thirty_one_to_sixty: i64) -> Value {
    json!([
        {"from": 1, "to": 2, "count": 0},
        {"from": 2, "to": 4, "count": two_to_three},
        {"from": 4, "to": 8, "count": four_to_seven},
        {"from": 8, "to": 15, "count": 0},
        {"from": 15, "to": 31, "count": 0},
        {"from": 31, "to": 61, "count": thirty_one_to_sixty},
        {"from": 61, "to": 91, "count": 0},
        {"from": 91, "to": 181, "count": 0},
        {"from": 181, "to": 366, "count": 0},
        {"from": 366, "to": null, "count": 0},
    ])
}

#[tokio::test]
async fn the_json_series_equal_the_hand_computed_ones() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fixture("stats"), "", "");
    db.ok(&["--config", config.to_str().unwrap(), "run"]);
    let report = json_of(&db, &config, &[]);

    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "range",
            "daily",
            "cohorts",
            "repeat_histogram",
            "days_between_orders",
            "order_values",
            "health"
        ]
    );
    assert_eq!(
        report["range"],
        json!({"start": "2017-03-01", "end": "2017-03-05"})
    );
    // 03-01: ua (3 orders, 44.00) and ub (1 order, 66.67), both new. 03-03: ub again (0.00, its
    // unavailable order) and uc new (10.00). 03-05: ua again (0.00) and ud new (2 orders, 0.05).
    assert_eq!(
        report["daily"],
        json!([
            {"date": "2017-03-01", "orders": 4, "customers": 2, "new_customers": 2, "returning_customers": 0, "revenue": "110.67"},
            {"date": "2017-03-03", "orders": 2, "customers": 2, "new_customers": 1, "returning_customers": 1, "revenue": "10.00"},
            {"date": "2017-03-05", "orders": 3, "customers": 2, "new_customers": 1, "returning_customers": 1, "revenue": "0.05"},
        ])
    );
    assert_eq!(
        report["cohorts"],
        json!([{"cohort": "2017-03", "size": 4, "active": [4]}])
    );
    // uc 1 order; ub and ud 2; ua 4.
    assert_eq!(report["repeat_histogram"], json!({"1": 1, "2": 2, "4": 1}));
    // ub's second day is 2 days after its first, ua's 4.
    assert_eq!(report["days_between_orders"], gaps(1, 1, 0));
    // The five non-null avg_order_value: 0.00, 0.03, 10.00, 22.00, 66.67. The 99th percentile is
    // 66.67, so the bins are 2.00 wide (66.67 / 40, rounded up to 1, 2 or 5 × 10^k) from 0 to 68.
    let bins = report["order_values"].as_array().unwrap();
    assert_eq!(bins.len(), 34);
    assert_eq!(bins[0], json!({"from": "0.00", "to": "2.00", "count": 2}));
    assert_eq!(
        bins[33],
        json!({"from": "66.00", "to": "68.00", "count": 1})
    );
    let filled: Vec<(&str, i64)> = bins
        .iter()
        .filter(|b| b["count"] != 0)
        .map(|b| (b["from"].as_str().unwrap(), b["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        filled,
        [("0.00", 2), ("10.00", 1), ("22.00", 1), ("66.00", 1)]
    );

    let health = &report["health"];
    assert_eq!(health["loads"].as_array().unwrap().len(), 1);
    assert_eq!(health["loads"][0]["lines_read"], 30);
    assert_eq!(health["loads"][0]["lines_rejected"], 0);
    assert_eq!(health["rejected_by_reason"], json!([]));
    let days: Vec<(&str, &str)> = health["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        days,
        [
            ("2017-03-01", "computed"),
            ("2017-03-02", "computed"),
            ("2017-03-03", "computed"),
            ("2017-03-04", "computed"),
            ("2017-03-05", "computed")
        ]
    );
    let runs: Vec<(&str, &str)> = health["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["stage"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        runs,
        [("load", "succeeded"), ("customer_daily_stats", "succeeded")]
    );
    assert!(health["runs"][0]["seconds"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn cohorts_follow_their_customers_across_months_and_respect_the_range() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    // uc comes back in April, ua in May, and ue's first order is in April.
    append(
        dir.path(),
        "olist_customers_dataset.csv",
        &[r#""ce1","ue","01001",sao paulo,SP"#],
    );
    append(
        dir.path(),
        "olist_orders_dataset.csv",
        &[
            r#""oc2","cc1",delivered,2017-04-10 10:00:00,,,,"#,
            r#""oe1","ce1",delivered,2017-04-15 10:00:00,,,,"#,
            r#""oa5","ca1",delivered,2017-05-02 10:00:00,,,,"#,
        ],
    );
    append(
        dir.path(),
        "olist_order_items_dataset.csv",
        &[
            r#""oc2",1,"p1","s1",2017-04-12 10:00:00,5.00,1.00"#,
            r#""oe1",1,"p3","s1",2017-04-17 10:00:00,1.50,0.50"#,
            r#""oa5",1,"p2","s2",2017-05-04 10:00:00,100.00,0.00"#,
        ],
    );
    let config = write_config(dir.path(), dir.path(), "", "");
    db.ok(&["--config", config.to_str().unwrap(), "run"]);

    let whole = json_of(&db, &config, &[]);
    assert_eq!(
        whole["range"],
        json!({"start": "2017-03-01", "end": "2017-05-02"})
    );
    // March: ua, ub, uc, ud; uc active in April, ua in May. April: ue, not back in May.
    assert_eq!(
        whole["cohorts"],
        json!([
            {"cohort": "2017-03", "size": 4, "active": [4, 1, 1]},
            {"cohort": "2017-04", "size": 1, "active": [1, 0]},
        ])
    );
    // ua 5 orders; ub, uc, ud 2; ue 1.
    assert_eq!(whole["repeat_histogram"], json!({"1": 1, "2": 3, "5": 1}));
    // ub 2 days, ua 4 then 58 days (03-05 → 05-02), uc 38 days (03-03 → 04-10).
    assert_eq!(whole["days_between_orders"], gaps(1, 1, 2));

    let ranged = json_of(&db, &config, &["--range", "2017-03-03..2017-05-02"]);
    assert_eq!(
        ranged["range"],
        json!({"start": "2017-03-03", "end": "2017-05-02"})
    );
    // Only the customers whose first day is in the range form cohorts: uc and ud in March (uc
    // back in April), ue in April.
    assert_eq!(
        ranged["cohorts"],
        json!([
            {"cohort": "2017-03", "size": 2, "active": [2, 1, 0]},
            {"cohort": "2017-04", "size": 1, "active": [1, 0]},
        ])
    );
    assert_eq!(
        ranged["daily"],
        json!([
            {"date": "2017-03-03", "orders": 2, "customers": 2, "new_customers": 1, "returning_customers": 1, "revenue": "10.00"},
            {"date": "2017-03-05", "orders": 3, "customers": 2, "new_customers": 1, "returning_customers": 1, "revenue": "0.05"},
            {"date": "2017-04-10", "orders": 1, "customers": 1, "new_customers": 0, "returning_customers": 1, "revenue": "6.00"},
            {"date": "2017-04-15", "orders": 1, "customers": 1, "new_customers": 1, "returning_customers": 0, "revenue": "2.00"},
            {"date": "2017-05-02", "orders": 1, "customers": 1, "new_customers": 0, "returning_customers": 1, "revenue": "100.00"},
        ])
    );
    // In the range: ua 2 orders (03-05, 05-02), ub 1, uc 2, ud 2, ue 1.
    assert_eq!(ranged["repeat_histogram"], json!({"1": 2, "2": 3}));
    // A gap counts on its later day, even when the earlier day is before the range (ub's).
    assert_eq!(ranged["days_between_orders"], gaps(1, 1, 2));
}

/// The daily figures and the cohorts of a report over `range`, computed again straight from the
/// loaded orders (not from `customer_daily_stats`), with plain DISTINCT counts.
async fn independent(db: &TestDb, start: &str, end: &str) -> (Value, Value) {
    let mut conn = db.connect().await;
    let people = "WITH o AS (SELECT c.customer_unique_id AS person, o.order_id, o.order_status,
                                   o.order_purchase_timestamp::date AS day
                              FROM orders o JOIN customers c USING (customer_id)),
                       first AS (SELECT person, min(day) AS first_day FROM o GROUP BY person)";
    let daily: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{people},
         spent AS (SELECT order_id, sum(price + freight_value) AS value FROM order_items GROUP BY order_id)
         SELECT o.day::text, count(*), count(DISTINCT o.person),
                count(DISTINCT o.person) FILTER (WHERE f.first_day = o.day),
                coalesce(sum(s.value) FILTER (WHERE o.order_status NOT IN ('canceled', 'unavailable')), 0)::numeric(14,2)::text
           FROM o JOIN first f USING (person) LEFT JOIN spent s USING (order_id)
          WHERE o.day BETWEEN $1::date AND $2::date GROUP BY o.day ORDER BY o.day"
    )))
    .bind(start)
    .bind(end)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let daily: Vec<Value> = daily
        .into_iter()
        .map(|(date, orders, customers, new, revenue)| {
            json!({"date": date, "orders": orders, "customers": customers, "new_customers": new,
                   "returning_customers": customers - new, "revenue": revenue})
        })
        .collect();
    let cells: Vec<(String, i32, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{people},
         active AS (SELECT DISTINCT o.person, date_trunc('month', f.first_day) AS cohort, date_trunc('month', o.day) AS month
                      FROM o JOIN first f USING (person)
                     WHERE o.day BETWEEN $1::date AND $2::date AND f.first_day BETWEEN $1::date AND $2::date)
         SELECT to_char(cohort, 'YYYY-MM'),
                ((extract(year FROM month) - extract(year FROM cohort)) * 12
                 + extract(month FROM month) - extract(month FROM cohort))::int,
                count(*)
           FROM active GROUP BY 1, 2 ORDER BY 1, 2"
    )))
    .bind(start)
    .bind(end)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let sizes: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{people}
         SELECT to_char(first_day, 'YYYY-MM'), count(*) FROM first
          WHERE first_day BETWEEN $1::date AND $2::date GROUP BY 1 ORDER BY 1"
    )))
    .bind(start)
    .bind(end)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let month = |text: &str| {
        let (y, m) = text.split_once('-').unwrap();
        y.parse::<i32>().unwrap() * 12 + m.parse::<i32>().unwrap()
    };
    let last = month(&end[..7]);
    let cohorts: Vec<Value> = sizes
        .into_iter()
        .map(|(cohort, size)| {
            let mut active = vec![0i64; (last - month(&cohort) + 1) as usize];
            for (_, k, n) in cells.iter().filter(|c| c.0 == cohort) {
                active[*k as usize] = *n;
            }
            json!({"cohort": cohort, "size": size, "active": active})
        })
        .collect();
    (json!(daily), json!(cohorts))
}

#[tokio::test]
async fn days_and_cohorts_equal_an_independent_computation_from_the_orders() {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "4000", "--days", "150", "--seed", "11"]);
    let config = write_config(dir.path(), &data, "", "");
    db.ok(&["--config", config.to_str().unwrap(), "run"]);
    let whole = json_of(&db, &config, &[]);
    let (start, end) = (
        whole["range"]["start"].as_str().unwrap().to_owned(),
        whole["range"]["end"].as_str().unwrap().to_owned(),
    );
    let (daily, cohorts) = independent(&db, &start, &end).await;
    assert_eq!(whole["daily"], daily);
    assert_eq!(whole["cohorts"], cohorts);
    assert!(
        whole["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["active"][1].as_i64().unwrap() > 0),
        "some customers come back the next month"
    );
    // A range that starts and ends inside months.
    let ranged = json_of(&db, &config, &["--range", "2016-10-17..2017-02-11"]);
    let (daily, cohorts) = independent(&db, "2016-10-17", "2017-02-11").await;
    assert_eq!(ranged["daily"], daily);
    assert_eq!(ranged["cohorts"], cohorts);
}

#[tokio::test]
async fn health_shows_rejected_lines_by_reason_and_missing_and_stale_days() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    append(
        dir.path(),
        "olist_orders_dataset.csv",
        &[
            r#""ox1","ca1",lost,2017-03-02 10:00:00,,,,"#,
            r#""ox2","ca1",Delivered,2017-03-02 11:00:00,,,,"#,
            r#""ox3","c99",delivered,2017-03-02 12:00:00,,,,"#,
        ],
    );
    let config = write_config(dir.path(), dir.path(), "max_reject_ratio = 0.5", "");
    let config_arg = config.to_str().unwrap().to_owned();
    db.ok(&["--config", &config_arg, "run"]);

    let report = json_of(&db, &config, &["--range", "2017-02-28..2017-03-05"]);
    let health = &report["health"];
    assert_eq!(health["loads"][0]["lines_rejected"], 3);
    assert_eq!(
        health["rejected_by_reason"],
        json!([
            {"reason": "orders: order_status \"…\" is not one of created, approved, invoiced, processing, shipped, delivered, canceled, unavailable", "count": 2},
            {"reason": "orders: customer_id \"…\" is not in customers", "count": 1},
        ])
    );
    // 02-28 was never computed.
    assert_eq!(
        health["days"][0],
        json!({"date": "2017-02-28", "state": "missing"})
    );
    assert_eq!(
        health["days"][1],
        json!({"date": "2017-03-01", "state": "computed"})
    );

    // Other stage options: every computed day is stale until recomputed.
    let config = write_config(
        dir.path(),
        dir.path(),
        "max_reject_ratio = 0.5",
        "excluded_statuses = [\"canceled\"]",
    );
    let report = json_of(&db, &config, &[]);
    let states: Vec<&str> = report["health"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["stale"; 5]);
    // The same lines rejected by a second load count again, over both loads.
    db.ok(&[
        "--config",
        config.to_str().unwrap(),
        "run",
        "--stage",
        "load",
    ]);
    let report = json_of(&db, &config, &[]);
    assert_eq!(report["health"]["loads"].as_array().unwrap().len(), 2);
    assert_eq!(report["health"]["rejected_by_reason"][0]["count"], 4);
}

#[tokio::test]
async fn a_quote_inside_a_rejected_value_is_masked_like_any_value() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    // Four statuses rejected by the same rule: a plain one, one with a quote, one whose quote is
    // followed by the rule's own words, one ending in a backslash and a quote.
    append(
        dir.path(),
        "olist_orders_dataset.csv",
        &[
            r#""ox1","ca1",lost,2017-03-02 10:00:00,,,,"#,
            r#""ox2","ca1","ship""ped",2017-03-02 11:00:00,,,,"#,
            r#""ox3","ca1","a"" is not one of b",2017-03-02 12:00:00,,,,"#,
            r#""ox4","ca1","back\""",2017-03-02 13:00:00,,,,"#,
        ],
    );
    let config = write_config(dir.path(), dir.path(), "max_reject_ratio = 0.5", "");
    db.ok(&["--config", config.to_str().unwrap(), "run"]);
    let report = json_of(&db, &config, &[]);
    assert_eq!(
        report["health"]["rejected_by_reason"],
        json!([
            {"reason": "orders: order_status \"…\" is not one of created, approved, invoiced, processing, shipped, delivered, canceled, unavailable", "count": 4},
        ])
    );
    // The stored reason keeps the value, its quote escaped.
    assert_eq!(
        db.scalar::<String>("SELECT reason FROM rejected_rows WHERE raw_line LIKE '\"ox4\"%'")
            .await,
        r#"order_status "back\\\"" is not one of created, approved, invoiced, processing, shipped, delivered, canceled, unavailable"#
    );
}

#[tokio::test]
async fn rejected_reasons_show_dates_and_timestamps_by_their_shape() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    // Two purchase times before the window's first instant (2000-01-01 00:00:00), a rule that
    // names that bound in its reason.
    append(
        dir.path(),
        "olist_orders_dataset.csv",
        &[
            r#""ox1","ca1",delivered,1999-12-31 23:00:00,,,,"#,
            r#""ox2","ca1",delivered,1980-06-01 10:00:00,,,,"#,
        ],
    );
    let config = write_config(dir.path(), dir.path(), "max_reject_ratio = 0.5", "");
    db.ok(&["--config", config.to_str().unwrap(), "run"]);
    // Reasons of other shapes, recorded against the same load: a bare date, a timestamp with a
    // T, a fraction and an offset, a date inside a file name, and plain numbers.
    let mut conn = db.connect().await;
    for (line, reason) in [
        (
            40,
            "order_delivered_customer_date is before 2017-03-01, the purchase day",
        ),
        (
            41,
            "order_delivered_customer_date is before 2017-03-04, the purchase day",
        ),
        (
            42,
            "shipping_limit_date 2017-03-01T10:00:00.5+02:00 is after 2017-03-02 10:00",
        ),
        (43, "refers to line 17 of orders_2017-03-01.csv"),
    ] {
        sqlx::query(
            "INSERT INTO rejected_rows (run_id, dataset, source_file, line_number, raw_line, reason)
             SELECT max(id), 'orders', 'olist_orders_dataset.csv', $1, '', $2
               FROM pipeline_runs WHERE stage_type = 'postgres_load'",
        )
        .bind(line)
        .bind(reason)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let report = json_of(&db, &config, &[]);
    assert_eq!(
        report["health"]["rejected_by_reason"],
        json!([
            {"reason": "orders: order_delivered_customer_date is before <date>, the purchase day", "count": 2},
            {"reason": "orders: order_purchase_timestamp \"…\" is earlier than <timestamp>", "count": 2},
            {"reason": "orders: refers to line N of orders_<date>.csv", "count": 1},
            {"reason": "orders: shipping_limit_date <timestamp> is after <timestamp>", "count": 1},
        ])
    );
}

#[tokio::test]
async fn a_page_with_no_rejected_line_says_so_instead_of_an_empty_chart() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fixture("stats"), "", "");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    let page = dir.path().join("report.html");
    db.ok(&[
        "--config",
        config,
        "report",
        "--out",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    let start = html
        .find(r#"id="health-rejected""#)
        .expect("the figure is there");
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    assert!(
        figure.contains(r#"<p class="nothing">No line was rejected in the last load.</p>"#),
        "{figure}"
    );
    assert!(!figure.contains("<svg"), "{figure}");
    assert!(
        html.contains(r#"<figure class="sentence" id="health-rejected">"#),
        "the sentence is not a chart"
    );

    let Some(browser) = chromium::find() else {
        return;
    };
    let seen = chromium::open(&browser, &page, 1100);
    let ids: Vec<&str> = seen.charts.iter().map(|c| c.id.as_str()).collect();
    let drawn: Vec<&str> = CHART_IDS
        .into_iter()
        .filter(|id| *id != "health-rejected")
        .collect();
    assert_eq!(ids, drawn);
    for chart in &seen.charts {
        assert!(
            chart.width > 300.0 && chart.height > 50.0,
            "{} is drawn {} x {}",
            chart.id,
            chart.width,
            chart.height
        );
    }
    assert_eq!(seen.errors, Vec::<String>::new());
    assert_eq!(seen.requests, Vec::<String>::new());
}

#[tokio::test]
async fn a_report_of_an_empty_database_says_what_to_run() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fixture("stats"), "", "");
    // A reading command never migrates: it says so first.
    let out = db.run(&["--config", config.to_str().unwrap(), "report"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::text(&out.stderr).contains("run `pipeline migrate`"),
        "{}",
        common::text(&out.stderr)
    );
    db.ok(&["--config", config.to_str().unwrap(), "migrate"]);
    let out = db.run(&["--config", config.to_str().unwrap(), "report"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = common::text(&out.stderr);
    assert!(stderr.contains("nothing to report"), "{stderr}");
    assert!(stderr.contains("pipeline run"), "{stderr}");
}

#[test]
fn a_range_longer_than_a_century_is_a_usage_error() {
    // Refused when the arguments are parsed: no database is reached, and the exit code is 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["report", "--range", "1900-01-01..2001-01-01"])
        .current_dir(common::repo())
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/never_reached",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::text(&out.stderr);
    assert!(
        stderr.contains(
            "range 1900-01-01..2001-01-01 is longer than 100 years (36600 days); pass a shorter one"
        ),
        "{stderr}"
    );
}

const CHART_IDS: [&str; 9] = [
    "daily-revenue",
    "new-vs-returning",
    "cohort-retention",
    "repeat-purchases",
    "days-between-orders",
    "order-values",
    "health-rejected",
    "health-days",
    "health-runs",
];

#[tokio::test]
async fn chromium_renders_every_chart_with_no_error_and_no_request() {
    let Some(browser) = chromium::find() else {
        return;
    };
    let db = TestDb::new().await;
    let (dir, data) = generated(
        &db,
        &[
            "--orders",
            "3000",
            "--days",
            "150",
            "--seed",
            "7",
            "--defect-rate",
            "0.005",
        ],
    );
    let config = write_config(dir.path(), &data, "", "");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    let page = dir.path().join("out/report.html");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    let stdout = db.ok(&[
        "--config",
        config,
        "report",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(stdout.starts_with("wrote "), "{stdout}");

    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing is fetched from anywhere, not even a stylesheet or a font.
    for outside in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(!html.contains(outside), "the page contains {outside}");
    }

    let seen = chromium::open(&browser, &page, 1100);
    let ids: Vec<&str> = seen.charts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CHART_IDS);
    for chart in &seen.charts {
        assert!(
            chart.width > 300.0 && chart.height > 50.0,
            "{} is drawn {} x {}",
            chart.id,
            chart.width,
            chart.height
        );
        assert!(chart.texts >= 3, "{} has {} labels", chart.id, chart.texts);
    }
    assert_eq!(seen.errors, Vec::<String>::new());
    assert_eq!(seen.requests, Vec::<String>::new());
}

/// The browser check itself notices what it looks for: a request, a console error, a missing chart.
#[test]
fn the_browser_check_sees_requests_errors_and_empty_charts() {
    let Some(browser) = chromium::find() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><body>
<figure class="chart" id="drawn"><svg width="400" height="100"><text x="10" y="20">a</text></svg></figure>
<figure class="chart" id="empty"></figure>
<img src="http://127.0.0.1:9/pixel.png">
<script>console.error("boom")</script>
</body></html>"#,
    )
    .unwrap();
    let seen = chromium::open(&browser, &page, 800);
    assert_eq!(seen.charts.len(), 2);
    assert_eq!(
        (
            seen.charts[0].width,
            seen.charts[0].height,
            seen.charts[0].texts
        ),
        (400.0, 100.0, 1)
    );
    assert_eq!((seen.charts[1].width, seen.charts[1].height), (0.0, 0.0));
    assert_eq!(seen.requests, ["http://127.0.0.1:9/pixel.png"]);
    assert!(
        seen.errors.iter().any(|e| e.contains("boom")),
        "{:?}",
        seen.errors
    );
}
