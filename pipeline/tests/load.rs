//! End-to-end tests of loading: the built binary against a fresh database per test.

mod common;

use common::{TestDb, copy_fixture, fixture, generated, repo, text, write_config};

const DEFECTS_CONFIG: &str = "datasets/fixtures/defects/pipeline.toml";

#[allow(
    clippy::too_many_lines,
    reason = "one expected reason per fixture line"
)]
#[tokio::test]
async fn every_bad_line_is_rejected_with_its_reason_and_a_rerun_changes_nothing() {
    let db = TestDb::new().await;
    let out = db.ok(&["--config", DEFECTS_CONFIG, "run", "--stage", "load"]);
    assert!(
        out.contains("rejected lines and their reasons: `pipeline rejects`"),
        "{out}"
    );

    let mut conn = db.connect().await;
    let rejected: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT dataset, source_file, line_number, reason FROM rejected_rows ORDER BY dataset, line_number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let got: Vec<(String, i64, String)> = rejected
        .iter()
        .map(|(d, _, l, r)| (d.clone(), *l, r.clone()))
        .collect();
    let expect = [
        (
            "customers",
            6,
            "conflicting duplicate: customer_id \"c2\" was first seen at line 3 with other content",
        ),
        (
            "customers",
            7,
            "customer_unique_id is empty (a value is required)",
        ),
        ("customers", 8, "has 4 fields, the header has 5"),
        (
            "customers",
            9,
            "malformed CSV record: unterminated quoted field starting at character 19 of the line",
        ),
        (
            "order_items",
            5,
            "order_id \"o3\" refers to a rejected line of orders (olist_orders_dataset.csv line 4)",
        ),
        (
            "order_items",
            6,
            "product_id \"p3\" refers to a rejected line of products (olist_products_dataset.csv line 4)",
        ),
        ("order_items", 7, "price \"-1.00\" is negative"),
        ("order_items", 8, "price \"abc\" is not a number"),
        (
            "order_items",
            11,
            "conflicting duplicate: order_id \"o1\", order_item_id \"1\" was first seen at line 2 with other content",
        ),
        ("order_items", 12, "order_id \"o999\" is not in orders"),
        ("order_items", 13, "order_item_id \"x\" is not an integer"),
        (
            "orders",
            4,
            "order_status \"lost\" is not one of created, approved, invoiced, processing, shipped, delivered, canceled, unavailable",
        ),
        (
            "orders",
            5,
            "order_purchase_timestamp \"2077-08-15 07:55:36\" is later than the run time",
        ),
        (
            "orders",
            6,
            "order_purchase_timestamp \"0000-01-01 00:00:00\" is earlier than 2000-01-01 00:00:00",
        ),
        ("orders", 7, "customer_id \"c99\" is not in customers"),
        (
            "orders",
            8,
            "customer_id \"c4\" refers to a rejected line of customers (olist_customers_dataset.csv line 7)",
        ),
        (
            "orders",
            9,
            "order_purchase_timestamp \"2017-02-30 10:00:00\" is not a valid timestamp (expected YYYY-MM-DD HH:MM:SS)",
        ),
        ("orders", 10, "order_status is empty (a value is required)"),
        (
            "orders",
            12,
            "conflicting duplicate: order_id \"o2\" was first seen at line 3 with other content",
        ),
        (
            "orders",
            14,
            "malformed CSV record: invalid UTF-8 at byte 48 of the line",
        ),
        (
            "products",
            4,
            "product_photos_qty \"two\" is not an integer",
        ),
        ("products", 5, "has 10 fields, the header has 9"),
    ];
    let expect: Vec<(String, i64, String)> = expect
        .iter()
        .map(|(d, l, r)| (d.to_string(), *l, r.to_string()))
        .collect();
    assert_eq!(got, expect);
    // The raw text is kept as read (a BOM + CRLF file loses only its line ends).
    let raw: String = sqlx::query_scalar(
        "SELECT raw_line FROM rejected_rows WHERE dataset = 'customers' AND line_number = 8",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(raw, "\"c5\",\"u5\",\"30000\",belo horizonte");
    assert!(
        rejected
            .iter()
            .all(|(d, f, _, _)| f == &format!("olist_{d}_dataset.csv"))
    );

    // Accounting: every line exactly once.
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM pipeline_runs WHERE stage_name = 'load' AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let counts: Vec<(String, u64, u64, u64, u64)> = details
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["dataset"].as_str().unwrap().to_owned(),
                a["read"].as_u64().unwrap(),
                a["loaded"].as_u64().unwrap(),
                a["duplicate"].as_u64().unwrap(),
                a["rejected"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("customers".to_owned(), 8, 3, 1, 4),
            ("products".to_owned(), 4, 2, 0, 2),
            ("orders".to_owned(), 13, 3, 1, 9),
            ("order_items".to_owned(), 13, 5, 1, 7),
        ]
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM customers").await, 3);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM order_items").await,
        5
    );
    assert_eq!(
        db.scalar::<String>("SELECT customer_city FROM customers WHERE customer_id = 'c2'")
            .await,
        "rio de janeiro"
    );

    // A second run changes nothing: same rows, nothing inserted or updated.
    let before = db.data_checksum().await;
    let out = db.ok(&["--config", DEFECTS_CONFIG, "run", "--stage", "load"]);
    assert_eq!(db.data_checksum().await, before);
    let second: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM pipeline_runs WHERE stage_name = 'load' AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for account in second.as_array().unwrap() {
        assert_eq!(account["inserted"], 0, "{out}");
        assert_eq!(account["updated"], 0);
    }
}

#[tokio::test]
async fn generated_defects_are_rejected_exactly_as_the_manifest_says() {
    let db = TestDb::new().await;
    let (dir, data) = generated(
        &db,
        &["--orders", "3000", "--seed", "11", "--defect-rate", "0.04"],
    );
    let config = write_config(dir.path(), &data, "max_reject_ratio = 0.5", "");
    db.ok(&[
        "--config",
        config.to_str().unwrap(),
        "run",
        "--stage",
        "load",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("manifest.json")).unwrap())
            .unwrap();
    let mut want: Vec<(String, i64)> = manifest["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] != "exact_duplicate")
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_owned(),
                d["line"].as_i64().unwrap(),
            )
        })
        .collect();
    want.sort();
    assert!(want.len() > 50, "the generator injected defects");
    let mut conn = db.connect().await;
    let got: Vec<(String, i64)> =
        sqlx::query_as("SELECT source_file, line_number FROM rejected_rows ORDER BY 1, 2")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(got, want);
    for (file, figures) in manifest["files"].as_object().unwrap() {
        let table = file
            .trim_start_matches("olist_")
            .trim_end_matches("_dataset.csv");
        let loaded: i64 = db.scalar(&format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(loaded, figures["loaded"].as_i64().unwrap(), "{file}");
    }
}

#[tokio::test]
async fn a_newer_export_updates_the_rows_that_changed_and_marks_their_days_stale() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    let config = write_config(dir.path(), dir.path(), "", "");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    let orders = dir.path().join("olist_orders_dataset.csv");
    let text = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(
        &orders,
        text.replace("\"oc1\",\"cc1\",shipped", "\"oc1\",\"cc1\",delivered"),
    )
    .unwrap();
    let out = db.ok(&["--config", config, "run", "--stage", "load"]);
    assert!(
        out.contains(
            "orders      ┆ olist_orders_dataset.csv      ┆    9 ┆      9 ┆        0 ┆       1"
        ),
        "{out}"
    );
    assert_eq!(
        db.scalar::<String>("SELECT order_status FROM orders WHERE order_id = 'oc1'")
            .await,
        "delivered"
    );
    let status = db.ok(&["--config", config, "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["aggregates"][0]["days_stale"],
        serde_json::json!(["2017-03-03"])
    );
    db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-03-03",
    ]);
    let status: serde_json::Value = db.status_json(config);
    assert_eq!(status["aggregates"][0]["days_stale"], serde_json::json!([]));
    assert_eq!(
        status["aggregates"][0]["days_missing"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn too_many_rejected_lines_abort_the_load_and_write_nothing() {
    let db = TestDb::new().await;
    let out = db.run(&["--data-dir", fixture("defects").to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("too many rejected lines, above max_reject_ratio 0.05; nothing was written"),
        "{stderr}"
    );
    assert!(
        stderr.contains("olist_customers_dataset.csv: 4 of 8 lines rejected (50.0%)"),
        "{stderr}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM customers").await, 0);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM rejected_rows").await,
        0
    );
    assert_eq!(
        db.scalar::<String>("SELECT status FROM pipeline_runs WHERE stage_name = 'load'")
            .await,
        "failed"
    );
}

#[tokio::test]
async fn status_check_fails_while_the_last_load_failed() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("datasets/sample")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let data = dir.path().to_str().unwrap();
    let status = |args: &[&str]| {
        let mut all = vec!["status"];
        all.extend_from_slice(args);
        db.run(&all)
    };
    db.ok(&["--data-dir", data, "run"]);
    assert_eq!(status(&["--check"]).status.code(), Some(0));

    // The next export has too many bad lines (200 of 3,200, above 5%): the load fails, the days
    // computed before stay fresh, and the check must still fail.
    let customers = dir.path().join("olist_customers_dataset.csv");
    let good = std::fs::read_to_string(&customers).unwrap();
    let mut bad = good.clone();
    bad.extend((0..200).map(|i| format!("\"bad{i}\",u{i},\"01001\",sao paulo,S1\n")));
    std::fs::write(&customers, bad).unwrap();
    let out = db.run(&["--data-dir", data, "run"]);
    assert_eq!(out.status.code(), Some(1));
    let run_id: i64 = db
        .scalar("SELECT max(id) FROM pipeline_runs WHERE stage_name = 'load'")
        .await;
    let reason = format!("load: the last load (run {run_id}, ");
    let out = status(&["--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&reason))
        .unwrap_or_else(|| panic!("no line starts with {reason:?}:\n{stdout}"));
    assert!(
        line.contains(
            ") failed: too many rejected lines, above max_reject_ratio 0.05; nothing was written"
        ),
        "{line}"
    );
    assert!(
        line.contains("; the newest export is not loaded; to fix: "),
        "{line}"
    );
    assert!(
        text(&out.stderr).contains("the newest export is not loaded (see above)"),
        "{}",
        text(&out.stderr)
    );
    // Plain status says it too, and exits 0; JSON carries it.
    let out = status(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains(&reason), "{}", text(&out.stdout));
    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["status", "--format", "json"])).unwrap();
    assert_eq!(json["up_to_date"], false);
    assert_eq!(json["failed_load"]["stage"], "load");
    assert_eq!(json["failed_load"]["run_id"], run_id);
    assert!(
        json["failed_load"]["error"]
            .as_str()
            .unwrap()
            .starts_with("too many rejected lines"),
        "{json:#}"
    );
    assert_eq!(json["aggregates"][0]["up_to_date"], true);

    // A good export loads, and the check passes again.
    std::fs::write(&customers, good).unwrap();
    db.ok(&["--data-dir", data, "run"]);
    let out = status(&["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["status", "--format", "json"])).unwrap();
    assert_eq!(json["failed_load"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_missing_column_is_fatal_before_anything_is_written() {
    let db = TestDb::new().await;
    let dir = copy_fixture("stats");
    let orders = dir.path().join("olist_orders_dataset.csv");
    let text_in = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(
        &orders,
        text_in.replacen("\"order_status\"", "\"status\"", 1),
    )
    .unwrap();
    let out = db.run(&["--data-dir", dir.path().to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("olist_orders_dataset.csv: header lacks required column \"order_status\""),
        "{stderr}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM customers").await, 0);
    // No stage ran; the invocation is in the ledger as failed, with the reason.
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pipeline_runs WHERE kind = 'stage'")
            .await,
        0
    );
    let recorded = db
        .scalar::<String>("SELECT status || ': ' || error FROM pipeline_runs WHERE kind = 'run'")
        .await;
    assert!(
        recorded.starts_with("failed: ")
            && recorded.contains(
                "olist_orders_dataset.csv: header lacks required column \"order_status\""
            ),
        "{recorded}"
    );
}

#[tokio::test]
async fn validate_checks_everything_and_changes_nothing() {
    let db = TestDb::new().await;
    let out = db.ok(&["validate"]);
    assert!(out.contains("orders: "), "{out}");
    assert!(out.contains("pipeline.toml: valid (4 stages)"), "{out}");
    let tables: i64 = db
        .scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .await;
    assert_eq!(tables, 0, "validate created no table");
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["validate"])
        .current_dir(repo())
        .env("DATABASE_URL", format!("{}_missing", db.url))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("does not exist yet"),
        "{}",
        text(&missing.stderr)
    );
    let created: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{}_missing'",
            db.name
        ))
        .await;
    assert_eq!(created, 0, "validate created no database");
    let out = db.run(&["--data-dir", "/nonexistent-dir", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("data directory /nonexistent-dir does not exist or is not a directory")
    );
}

#[test]
fn config_errors_are_reported_together_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let toml = std::fs::read_to_string(repo().join("pipeline.toml"))
        .unwrap()
        .replace(
            "type = \"postgres_load\"",
            "type = \"postgres_load\"\nbatchsize = 5",
        )
        .replace("type = \"validate\"", "type = \"validator\"");
    std::fs::write(dir.path().join("pipeline.toml"), toml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["run"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("pipeline.toml: stages[1] \"validate\" (validator): unknown stage type \"validator\" (registered: csv_extract, customer_daily_stats, postgres_load, product_daily_stats, validate)"), "{stderr}");
    assert!(
        stderr.contains(
            "pipeline.toml: stages[2] \"load\" (postgres_load): unknown field \"batchsize\""
        ),
        "{stderr}"
    );
}

#[test]
fn bad_schedule_flags_name_the_flag_with_exit_code_2() {
    for (args, message) in [
        (
            ["schedule", "--at", "25:00"],
            "error: --at: schedule.at: \"25:00\" is not a time of day (expected HH:MM)",
        ),
        (
            ["schedule", "--timezone", "Mars/Base"],
            "error: --timezone: schedule.timezone: unknown time zone \"Mars/Base\"",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = text(&out.stderr);
        assert!(stderr.lines().any(|line| line == message), "{stderr}");
    }
}

#[test]
fn a_pool_too_small_for_a_run_is_refused_before_connecting() {
    // Two connections passed the check, then every run waited 10 s for a third and failed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["run"])
        .current_dir(repo())
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/never_reached",
        )
        .env("PIPELINE_DATABASE__MAX_CONNECTIONS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "environment variable PIPELINE_DATABASE__MAX_CONNECTIONS: database.max_connections: must be at least 3"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["run"])
        .current_dir(repo())
        .env(
            "DATABASE_URL",
            "postgres://someone:s3cret-pw@127.0.0.1:1/shop",
        )
        .env("PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot connect to the database at 127.0.0.1:1/shop"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"));
}

#[tokio::test]
async fn the_olist_sample_loads_exactly_with_no_reject_twice() {
    let sample = repo().join("../shared/datasets/olist-sample");
    if !sample.exists() {
        eprintln!("skipped: {} is absent", sample.display());
        return;
    }
    let db = TestDb::new().await;
    for _ in 0..2 {
        db.ok(&[
            "--data-dir",
            sample.to_str().unwrap(),
            "run",
            "--stage",
            "load",
        ]);
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM rejected_rows").await,
            0
        );
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM customers").await,
            10_000
        );
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM orders").await,
            10_000
        );
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM order_items").await,
            11_513
        );
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM products").await,
            32_951
        );
    }
}

#[tokio::test]
async fn without_a_pipeline_file_the_built_in_pipeline_runs_and_pipeline_config_names_one() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let data = common::fixture("stats");
    // No pipeline.toml in the working directory: the built-in pipeline, with a note in the log.
    let out = db.run_in(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "run",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(record["aggregates"][0]["stage"], "customer_daily_stats");
    assert_eq!(record["aggregates"][0]["rows_written"], 6);
    // A file named by PIPELINE_CONFIG must exist.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["status"])
        .current_dir(dir.path())
        .env("DATABASE_URL", &db.url)
        .env("PIPELINE_CONFIG", dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml: file not found"));
    // And it is read when it does.
    let config = write_config(dir.path(), &data, "", "excluded_statuses = [\"canceled\"]");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["status", "--check"])
        .current_dir(dir.path())
        .env("DATABASE_URL", &db.url)
        .env("PIPELINE_CONFIG", &config)
        .output()
        .unwrap();
    // Other options than the built-in ones: every computed day is stale under this file.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}
