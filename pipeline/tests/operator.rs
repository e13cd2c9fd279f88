//! Everyday use as an operator sees it: a plain `run` that brings things up to date and costs what
//! changed, quiet output, and messages that say what happened.

mod common;

use std::time::{Duration, Instant};

use common::{Shop, TestDb, copy_fixture, generated, text, write_config};

/// The ids of the runs that wrote the statistics rows, with their counts, and the days recorded.
async fn stats_writers(db: &TestDb) -> (String, i64) {
    (
        db.checksum("SELECT run_id, computed_at FROM customer_daily_stats")
            .await,
        db.scalar::<i64>("SELECT count(*) FROM aggregate_days")
            .await,
    )
}

#[tokio::test]
async fn a_plain_run_costs_what_changed_and_says_so() {
    let db = TestDb::new().await;
    let (dir, data) = generated(
        &db,
        &["--orders", "400", "--days", "60", "--start", "2017-01-01"],
    );
    let config = write_config(dir.path(), &data, "", "");
    let config = config.to_str().unwrap();
    let first = db.ok(&["--config", config, "run"]);
    assert!(first.contains("not computed before"), "{first}");
    db.assert_fresh("first run").await;
    let before = stats_writers(&db).await;

    // Unchanged export: no file read, no statistics row written, one line.
    let out = db.run(&["--config", config, "run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("up to date: no file changed since run "),
        "{stdout}"
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");
    // Quiet by default: nothing on stderr.
    assert_eq!(text(&out.stderr), "", "stderr of a quiet run");
    assert_eq!(
        stats_writers(&db).await,
        before,
        "an unchanged run wrote rows"
    );

    // One price changed: only the stale days of that person are recomputed, and listed.
    let mut shop = Shop::read(&data);
    let price: f64 = shop.items[1][5].parse().unwrap();
    shop.items[1][5] = format!("{:.2}", price + 5.0);
    shop.write(&data);
    let run: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    let stats = &run["aggregates"][0];
    assert_eq!(stats["days_due_count"], 0, "{run}");
    assert!(stats["days_stale_count"].as_u64().unwrap() >= 1, "{run}");
    assert_eq!(stats["people_refreshed"], 1, "{run}");
    let computed_days = db
        .scalar::<i64>("SELECT count(*) FROM aggregate_days")
        .await;
    assert!(
        stats["days_computed"].as_i64().unwrap() < computed_days,
        "a price edit recomputed every day: {run}"
    );
    db.assert_fresh("after a price edit").await;

    // --full-refresh recomputes every day of the data.
    let full: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        config,
        "run",
        "--full-refresh",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        full["aggregates"][0]["days_requested_count"].as_i64(),
        Some(computed_days),
        "{full}"
    );
    // And -v brings the steps back on stderr (the tests' RUST_LOG would override it).
    let verbose = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["--config", config, "-v", "run"])
        .env("DATABASE_URL", &db.url)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        text(&verbose.stderr).contains("not read again"),
        "{}",
        text(&verbose.stderr)
    );
}

#[tokio::test]
async fn a_day_missing_from_the_computed_history_is_computed_by_a_plain_run() {
    let db = TestDb::new().await;
    db.ok(&["run"]);
    let mut conn = db.connect().await;
    sqlx::query("DELETE FROM aggregate_days WHERE day = '2017-11-24'")
        .execute(&mut conn)
        .await
        .unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&db.ok(&["run", "--format", "json"])).unwrap();
    assert_eq!(
        run["aggregates"][0]["days_due"],
        serde_json::json!(["2017-11-24"])
    );
    assert_eq!(run["aggregates"][0]["days_computed"], 1);
    db.assert_fresh("after a missing day").await;
}

#[tokio::test]
async fn messages_say_what_happened() {
    let db = TestDb::new().await;
    // migrate: what it applied, then that nothing was pending.
    let first = db.ok(&["migrate"]);
    assert!(first.contains("migrations applied to"), "{first}");
    assert!(
        db.ok(&["migrate"]).contains("already up to date"),
        "a second migrate"
    );
    db.ok(&["run"]);

    // stats: a customer who did not order that day, while others did.
    let out = db.ok(&[
        "stats",
        "--date",
        "2017-11-24",
        "--customer",
        "nobody-at-all",
    ]);
    assert!(
        out.contains("customer nobody-at-all placed no order on 2017-11-24"),
        "{out}"
    );
    // The default table fits 120 characters; --wide and CSV have every column.
    let table = db.ok(&["stats", "--date", "2017-11-24"]);
    let widest = table.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 120, "{widest} wide:\n{table}");
    let wide = db.ok(&["stats", "--date", "2017-11-24", "--wide"]);
    assert!(wide.contains("days_since_previous_order"), "{wide}");
    let csv = db.ok(&["stats", "--date", "2017-11-24", "--format", "csv"]);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("days_since_previous_order"),
        "{csv}"
    );

    // status: every stage's last run, days null when the run had none.
    let status: serde_json::Value =
        serde_json::from_str(&db.ok(&["status", "--format", "json"])).unwrap();
    for stage in status["stages"].as_array().unwrap() {
        assert!(stage["last_run"].is_object(), "never run: {stage}");
    }
    assert!(
        status["stages"][2]["last_run"]["days"].is_null(),
        "{status}"
    );
    let table = db.ok(&["status"]);
    assert!(!table.contains("never run"), "{table}");

    // --data-dir is refused by the commands that read no file.
    let out = db.run(&[
        "--data-dir",
        "datasets/sample",
        "stats",
        "--date",
        "2017-11-24",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--data-dir does nothing"));
    let help = text(&db.run(&["stats", "--help"]).stdout);
    assert!(!help.contains("--data-dir"), "{help}");
}

#[test]
fn a_refused_connection_is_said_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["run"])
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("postgres://postgres:secret@127.0.0.1:{port}/shop"),
        )
        .env_remove("PIPELINE_CONFIG")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot connect to the database at 127.0.0.1:{port}/shop: connection refused"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    // No wait for the connect timeout (10 s) when nothing listens.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rejects_lists_the_rejected_lines_grouped_by_rule() {
    let db = TestDb::new().await;
    let data = copy_fixture("defects");
    let config = data.path().join("pipeline.toml");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run", "--stage", "load"]);
    let expected: i64 = db.scalar("SELECT count(*) FROM rejected_rows").await;
    assert!(expected > 5);

    let table = db.ok(&["--config", config, "rejects"]);
    assert!(
        table.starts_with(&format!(
            "{expected} lines rejected by the loads of the files the tables hold now"
        )),
        "{table}"
    );
    assert!(
        table.contains("order_items: price \"…\" is negative (1 line)"),
        "{table}"
    );
    assert!(
        table.contains("  olist_order_items_dataset.csv line 7: price \"-1.00\" is negative"),
        "{table}"
    );
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&db.ok(&["--config", config, "rejects", "--format", "json"])).unwrap();
    assert_eq!(json.len() as i64, expected);
    assert!(
        json.iter()
            .all(|l| l["raw_line"].is_string() && l["line_number"].is_i64())
    );
    let csv = db.ok(&[
        "--config", config, "rejects", "--format", "csv", "--limit", "2",
    ]);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(
        csv.lines().next().unwrap(),
        "run_id,dataset,file,line_number,reason,raw_line"
    );
    // A run with no rejected line says so.
    let run_id: i64 = db
        .scalar("SELECT min(id) FROM pipeline_runs WHERE kind = 'run'")
        .await;
    let none = db.ok(&["--config", config, "rejects", "--run", &run_id.to_string()]);
    assert!(
        none.starts_with("no line was rejected by that load"),
        "{none}"
    );
    // The same files loaded again (nothing read): the rejects shown are still those of the files.
    db.ok(&["--config", config, "run", "--stage", "load"]);
    assert!(
        db.ok(&["--config", config, "rejects"])
            .starts_with(&format!("{expected} lines rejected")),
        "after a rerun"
    );
}
