//! Daily operation: a history replayed as daily full exports that change the past (late statuses,
//! price corrections, customer ids moved between people, late orders, corrected purchase days,
//! people who vanish), with `run --date D` each day; after every run, every computed day must equal a
//! fresh computation over the loaded tables, and `status --check` must pass.

mod common;

use chrono::NaiveDate;
use common::replay::{choose_edits, d, export, make_repeaters, replay_exports};
use common::{Shop, TestDb, generated, random_edit, snapshot_config, text, write_config};
use rand::{Rng, SeedableRng};

#[tokio::test]
async fn a_replayed_history_with_late_changes_stays_equal_to_a_fresh_computation() {
    replay_exports("").await;
}

#[tokio::test]
async fn a_load_alone_makes_status_check_fail_until_the_next_run() {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &["--orders", "300", "--days", "20", "--start", "2017-01-01"],
    );
    let config = write_config(dir.path(), &base, "", "");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    assert_eq!(db.status_check(config), Some(0));
    // Raise the price of the first item of the oldest order: its day and the later days of its person.
    let mut shop = Shop::read(&base);
    let mut orders: Vec<Vec<String>> = shop.orders[1..].to_vec();
    orders.sort_by(|a, b| a[3].cmp(&b[3]));
    let oldest = orders
        .iter()
        .find(|o| shop.items.iter().any(|i| i[0] == o[0]))
        .unwrap()[0]
        .clone();
    for item in &mut shop.items[1..] {
        if item[0] == oldest {
            let price: f64 = item[5].parse().unwrap();
            item[5] = format!("{:.2}", price + 1.0);
        }
    }
    shop.write(&base);
    db.ok(&["--config", config, "run", "--stage", "load"]);
    let check = db.run(&["--config", config, "status", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let shown = text(&check.stdout);
    assert!(
        shown.contains("to fix: pipeline run --stage customer_daily_stats"),
        "{shown}"
    );
    let json: serde_json::Value = db.status_json(config);
    assert_eq!(json["up_to_date"], false);
    assert_ne!(json["aggregates"][0]["days_stale"], serde_json::json!([]));
    // --skip-stale computes what was asked and says what it left.
    let out = db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-01-20",
        "--skip-stale",
    ]);
    assert!(out.contains("left as they are (--skip-stale)"), "{out}");
    assert_eq!(db.status_check(config), Some(1));
    let out = db.ok(&["--config", config, "run", "--date", "2017-01-20"]);
    assert!(out.contains("also recomputed"), "{out}");
    assert_eq!(db.status_check(config), Some(0));
    db.assert_fresh("after the next run").await;
}

#[tokio::test]
async fn random_edit_sequences_keep_every_computed_day_fresh() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261130);
    for round in 0..3 {
        let db = TestDb::new().await;
        let seed: u64 = rng.gen_range(1..1_000_000);
        let (dir, base) = generated(
            &db,
            &[
                "--orders",
                "250",
                "--days",
                "25",
                "--start",
                "2017-01-01",
                "--seed",
                &seed.to_string(),
            ],
        );
        let chunk = rng.gen_range(1..8);
        // The last round keys customers by customer_id (issued per order).
        let key = if round == 2 {
            "customer_id"
        } else {
            "customer_unique_id"
        };
        let config = write_config(
            dir.path(),
            &base,
            "",
            &format!("chunk_days = {chunk}\ncustomer_key = \"{key}\""),
        );
        let config = config.to_str().unwrap();
        let mut shop = Shop::read(&base);
        db.ok(&["--config", config, "run"]);
        let mut history = vec![format!(
            "round {round}, seed {seed}, chunks of {chunk}, keyed by {key}"
        )];
        for step in 0..8 {
            for _ in 0..rng.gen_range(1..4) {
                history.push(random_edit(&mut shop, &mut rng));
            }
            shop.write(&base);
            let day = d("2017-01-01") + chrono::Days::new(rng.gen_range(0..28));
            // Sometimes a load alone first, then a run of the aggregate; sometimes one run.
            if rng.gen_bool(0.3) {
                db.ok(&["--config", config, "run", "--stage", "load"]);
                history.push(format!("step {step}: load, then compute {day}"));
                db.ok(&[
                    "--config",
                    config,
                    "run",
                    "--stage",
                    "customer_daily_stats",
                    "--date",
                    &day.to_string(),
                ]);
            } else {
                history.push(format!("step {step}: run --date {day}"));
                db.ok(&["--config", config, "run", "--date", &day.to_string()]);
            }
            db.assert_fresh_keyed_by(key, &history.join("\n  ")).await;
        }
    }
}

#[tokio::test]
async fn order_changes_stay_as_small_as_what_is_still_stale() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261206);
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &[
            "--orders",
            "250",
            "--days",
            "25",
            "--start",
            "2017-01-01",
            "--seed",
            "7",
        ],
    );
    let config = write_config(dir.path(), &base, "", "");
    let config = config.to_str().unwrap();
    let mut shop = Shop::read(&base);
    db.ok(&["--config", config, "run"]);
    let count = || db.scalar::<i64>("SELECT count(*) FROM order_changes");
    let mut history = Vec::new();
    let mut largest_after_load = 0;
    for step in 0..60 {
        for _ in 0..rng.gen_range(1..3) {
            history.push(random_edit(&mut shop, &mut rng));
        }
        shop.write(&base);
        if step % 10 == 0 {
            // A load alone records its changes; they stay until the days are computed again.
            db.ok(&["--config", config, "run", "--stage", "load"]);
            largest_after_load = largest_after_load.max(count().await);
        }
        db.ok(&["--config", config, "run"]);
        history.push(format!("step {step}: run"));
        // Every computed day has seen every change: only the latest is kept, for the high water.
        assert!(
            count().await <= 1,
            "order_changes grows:\n  {}",
            history.join("\n  ")
        );
        if step % 15 == 14 {
            db.assert_fresh(&history.join("\n  ")).await;
        }
    }
    assert!(
        largest_after_load > 1,
        "no load alone recorded changes, so the test shows nothing"
    );
    db.assert_fresh(&history.join("\n  ")).await;
}

#[tokio::test]
async fn an_unchanged_file_is_not_read_again_and_a_changed_one_is() {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &["--orders", "200", "--days", "10", "--start", "2017-01-01"],
    );
    let config = write_config(dir.path(), &base, "", "");
    let config = config.to_str().unwrap();
    let first: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    assert!(
        first["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["unchanged_since_run"].is_null())
    );
    // Same files: nothing is read again, and the counts are those of the load that read them.
    let again: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    for (a, b) in first["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(again["datasets"].as_array().unwrap())
    {
        assert!(b["unchanged_since_run"].is_i64(), "{b}");
        assert_eq!(a["read"], b["read"]);
        assert_eq!(b["inserted"], 0);
    }
    // One changed price: that file is read and merged, the others are not.
    let mut shop = Shop::read(&base);
    let price: f64 = shop.items[1][5].parse().unwrap();
    shop.items[1][5] = format!("{:.2}", price + 3.0);
    shop.write(&base);
    let changed: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    let by_name = |v: &serde_json::Value, name: &str| {
        v["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dataset"] == name)
            .unwrap()
            .clone()
    };
    // The writer rewrote every file (quoting may differ), so compare what each file holds.
    assert_eq!(by_name(&changed, "order_items")["updated"], 1);
    assert!(by_name(&changed, "order_items")["unchanged_since_run"].is_null());
    db.assert_fresh("after a changed price").await;
    let unchanged_now: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    assert!(by_name(&unchanged_now, "order_items")["unchanged_since_run"].is_i64());
    // --force-load reads everything.
    let forced: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        config,
        "run",
        "--force-load",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(
        forced["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["unchanged_since_run"].is_null())
    );
    // Other validation options are other rules: the files are read again.
    let stricter = write_config(dir.path(), &base, "earliest = \"2001-01-01\"", "");
    let reread: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        stricter.to_str().unwrap(),
        "run",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(by_name(&reread, "orders")["unchanged_since_run"].is_null());
}

#[tokio::test]
async fn a_load_that_changes_much_of_the_history_marks_it_stale_whole() {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &["--orders", "24000", "--days", "60", "--start", "2017-01-01"],
    );
    let config = write_config(dir.path(), &base, "", "");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    // Every order from the tenth day on gets a new price: more than the bulk threshold (20,000
    // orders and 5% of the table), so the load records one change for everyone from that day.
    let mut shop = Shop::read(&base);
    let from = d("2017-01-10");
    let later: std::collections::HashSet<String> = shop.orders[1..]
        .iter()
        .filter(|o| Shop::day_of(o) >= from)
        .map(|o| o[0].clone())
        .collect();
    assert!(later.len() > 20_000, "{} orders", later.len());
    for item in &mut shop.items[1..] {
        if later.contains(&item[0]) {
            let price: f64 = item[5].parse().unwrap();
            item[5] = format!("{:.2}", price + 0.5);
        }
    }
    shop.write(&base);
    db.ok(&["--config", config, "run", "--stage", "load"]);
    let bulk: i64 = db
        .scalar(
            "SELECT count(*) FROM order_changes WHERE customer_id IS NULL AND day = '2017-01-10'",
        )
        .await;
    assert_eq!(bulk, 1, "one bulk change from the first changed day");
    let status: serde_json::Value = db.status_json(config);
    assert_eq!(
        status["aggregates"][0]["days_stale"],
        serde_json::json!(["2017-01-10..2017-03-01"]),
        "{status}"
    );
    let record: serde_json::Value = serde_json::from_str(&db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2017-01-01",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(record["aggregates"][0]["days_stale_whole"], 51, "{record}");
    db.assert_fresh("after a bulk change").await;
    assert_eq!(db.status_check(config), Some(0));
}

#[tokio::test]
async fn a_day_that_cannot_be_computed_fails_alone_and_names_itself() {
    let db = TestDb::new().await;
    let dir = common::copy_fixture("stats");
    let config = write_config(dir.path(), dir.path(), "", "chunk_days = 366");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "migrate"]);
    // The database refuses the rows of one day (as it would a value out of range).
    let mut conn = db.connect().await;
    sqlx::query(
        "ALTER TABLE customer_daily_stats ADD CONSTRAINT refuses_one_day CHECK (stat_date <> '2017-03-03')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let out = db.run(&["--config", config, "run", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let record: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(record["status"], "failed");
    assert_eq!(
        record["aggregates"][0]["days_failed"][0]["day"],
        "2017-03-03"
    );
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("2017-03-03: error returned from database"),
        "{record}"
    );
    // The other days of its chunk were computed.
    let computed: i64 = db.scalar("SELECT count(*) FROM aggregate_days").await;
    assert_eq!(computed, 4);
    let status: serde_json::Value = db.status_json(config);
    assert_eq!(
        status["aggregates"][0]["days_failed"],
        serde_json::json!(["2017-03-03"])
    );
    assert_eq!(status["up_to_date"], false);
    // Once the cause is gone, the next run computes it and all is fresh.
    sqlx::query("ALTER TABLE customer_daily_stats DROP CONSTRAINT refuses_one_day")
        .execute(&mut conn)
        .await
        .unwrap();
    db.ok(&["--config", config, "run", "--date", "2017-03-03"]);
    assert_eq!(db.status_check(config), Some(0));
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one replay: the exports day by day, a truncated one among them, and the checks of each run"
)]
async fn a_snapshot_replay_with_deletes_equals_a_fresh_load_of_every_export() {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &[
            "--orders",
            "500",
            "--days",
            "30",
            "--start",
            "2017-01-01",
            "--seed",
            "13",
        ],
    );
    let mut shop = Shop::read(&base);
    make_repeaters(&mut shop, 8);
    let edits = choose_edits(&shop);
    // Besides the replay's late changes and its vanishing person: a repeat customer's first order
    // is removed at the source (with its items) from a day on, so their later days change too.
    let removed_from = d("2017-01-12");
    let person_days = |person: &str| -> Vec<NaiveDate> {
        shop.orders[1..]
            .iter()
            .filter(|o| shop.person_of(&o[1]).as_deref() == Some(person))
            .map(|o| Shop::day_of(o))
            .collect()
    };
    let removed = shop.orders[1..]
        .iter()
        .find(|o| {
            let day = Shop::day_of(o);
            let person = shop.person_of(&o[1]).unwrap();
            day < removed_from - chrono::Days::new(3)
                && person != edits.vanishing.0
                && shop.items.iter().any(|i| i[0] == o[0])
                && person_days(&person).iter().any(|later| *later > day)
        })
        .map(|o| o[0].clone())
        .expect("an early order of a repeat customer");
    let data = dir.path().join("daily");
    let plain = write_config(dir.path(), &data, "", "");
    let config = snapshot_config(&plain);
    let (config, plain) = (config.to_str().unwrap(), plain.to_str().unwrap());
    let truncated_on = d("2017-01-16");
    let mut deleted_seen = 0;
    for k in 0..20 {
        let day = d("2017-01-01") + chrono::Days::new(k);
        let mut today = export(&shop, &edits, day);
        if day >= removed_from {
            today.orders.retain(|o| o[0] != removed);
            today.items.retain(|i| i[0] != removed);
        }
        if day == truncated_on {
            // The export stops half way through the orders file: the guard refuses it whole.
            let mut cut = today.clone();
            cut.orders.truncate(cut.orders.len() / 2);
            cut.write(&data);
            let before = db.data_checksum().await;
            let out = db.run(&["--config", config, "run", "--date", &day.to_string()]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains("olist_orders_dataset.csv: would delete")
                    && stderr.contains("rows of orders")
                    && stderr.contains("--allow-deletes"),
                "{stderr}"
            );
            assert_eq!(db.data_checksum().await, before, "the refused load wrote");
        }
        today.write(&data);
        let out = db.ok(&[
            "--config",
            config,
            "run",
            "--date",
            &day.to_string(),
            "--format",
            "json",
        ]);
        let record: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(record["status"], "succeeded", "{out}");
        deleted_seen += record["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["deleted"].as_u64().unwrap())
            .sum::<u64>();
        // The tables equal a first load of this export into an empty database.
        let fresh = TestDb::new().await;
        fresh.ok(&["--config", plain, "run", "--stage", "load"]);
        assert_eq!(
            db.shop_checksums().await,
            fresh.shop_checksums().await,
            "the tables after the export of {day} differ from a fresh load of it"
        );
        db.assert_fresh(&format!("after the export of {day}")).await;
        let check = db.run(&["--config", config, "status", "--check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "status --check after {day}:\n{}",
            text(&check.stdout)
        );
    }
    // The removed order (one order, its items) and the vanished person (a customer, an order, its
    // items) were deleted; nothing of either is left.
    assert!(deleted_seen >= 4, "only {deleted_seen} rows deleted");
    let left: i64 = db
        .scalar(&format!(
            "SELECT (SELECT count(*) FROM orders WHERE order_id = '{removed}')
                  + (SELECT count(*) FROM order_items WHERE order_id = '{removed}')
                  + (SELECT count(*) FROM customer_daily_stats WHERE customer_unique_id = '{}')
                  + (SELECT count(*) FROM customers WHERE customer_unique_id = '{}')",
            edits.vanishing.0, edits.vanishing.0
        ))
        .await;
    assert_eq!(left, 0);
    let status = db.status_json(config);
    assert!(status["stages"][2]["last_run"]["rows_deleted"].is_u64());
}
