//! Faults: processes killed at random moments, connections cut mid-run, unreadable inputs. After a
//! plain rerun the tables must equal those of an uninterrupted run, and the ledger must say what happened.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestDb, generated, text, write_config};
use rand::{Rng, SeedableRng};

async fn wait_until_idle(db: &TestDb) {
    // A killed client's server processes end once they notice; until then they may hold locks.
    for _ in 0..200 {
        let busy: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                db.name
            ))
            .await;
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("connections of killed processes did not end");
}

/// Starts the pipeline binary against `db` without waiting for it.
fn spawn(db: &TestDb, args: &[&str], stderr: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn killing_the_process_at_random_moments_loses_nothing_after_a_rerun() {
    let reference = TestDb::new().await;
    let (dir, data) = generated(
        &reference,
        &[
            "--orders",
            "20000",
            "--days",
            "300",
            "--seed",
            "3",
            "--defect-rate",
            "0.01",
        ],
    );
    let config = write_config(dir.path(), &data, "", "chunk_days = 10");
    let config = config.to_str().unwrap();
    let started = Instant::now();
    reference.ok(&["--config", config, "run"]);
    let full_run = started.elapsed();
    let started = Instant::now();
    reference.ok(&["--config", config, "run", "--stage", "customer_daily_stats"]);
    let backfill = started.elapsed();
    let expected = reference.data_checksum().await;
    let expected_rejects = reference
        .checksum("SELECT dataset, line_number, reason FROM rejected_rows")
        .await;

    let db = TestDb::new().await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261129);
    let mut killed = 0;
    for round in 0..8 {
        // Alternate a whole run (load, then backfill) and a backfill alone.
        let (args, lasts): (&[&str], Duration) = if round % 2 == 0 {
            (&["--config", config, "run"], full_run)
        } else {
            (
                &["--config", config, "run", "--stage", "customer_daily_stats"],
                backfill,
            )
        };
        let mut child = spawn(&db, args, Stdio::null());
        let wait = rng.gen_range(0..lasts.as_millis().max(1) as u64);
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        wait_until_idle(&db).await;
        // Whatever was committed is whole: no load is half visible.
        let orders: i64 = db.scalar("SELECT count(*) FROM orders").await;
        let items: i64 = db.scalar("SELECT count(*) FROM order_items").await;
        assert!(
            orders == 0 || items > 0,
            "orders committed without their items"
        );
    }
    assert!(killed >= 3, "only {killed} runs were interrupted");
    db.ok(&["--config", config, "run"]);
    assert_eq!(db.data_checksum().await, expected);
    let got_rejects = db
        .checksum("SELECT DISTINCT dataset, line_number, reason FROM rejected_rows")
        .await;
    if got_rejects != expected_rejects {
        let mut a = reference.connect().await;
        let mut b = db.connect().await;
        let q = "SELECT DISTINCT dataset || ':' || line_number || ':' || reason FROM rejected_rows ORDER BY 1";
        let ra: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut a).await.unwrap();
        let rb: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut b).await.unwrap();
        let only_a: Vec<&String> = ra.iter().filter(|x| !rb.contains(x)).collect();
        let only_b: Vec<&String> = rb.iter().filter(|x| !ra.contains(x)).collect();
        panic!("rejects differ: only in reference {only_a:?}\nonly after kills {only_b:?}");
    }
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pipeline_runs WHERE status = 'running'")
            .await,
        0
    );
    let interrupted: i64 = db
        .scalar("SELECT count(*) FROM pipeline_runs WHERE status = 'failed' AND error LIKE 'interrupted:%'")
        .await;
    assert!(interrupted >= 1, "killed runs are closed as failed");
}

#[tokio::test]
async fn a_connection_cut_mid_run_fails_cleanly_and_the_rerun_completes() {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "20000", "--days", "300", "--seed", "4"]);
    let config = write_config(dir.path(), &data, "", "chunk_days = 5");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "migrate"]);
    let child = spawn(&db, &["--config", config, "run"], Stdio::piped());
    // Cut every connection of the run, as a server restart would, as soon as its load is under way.
    let mut cut = false;
    for _ in 0..400 {
        let active: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid() AND state = 'active'",
                db.name
            ))
            .await;
        if active > 0 {
            let _: Vec<bool> = {
                let mut conn = db.connect().await;
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                    db.name
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap()
            };
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(cut, "the run was not caught while active");
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with("error: "),
            "{}",
            text(&out.stderr)
        );
        // Nothing half written: the load is all or nothing.
        let orders: i64 = db.scalar("SELECT count(*) FROM orders").await;
        assert!(orders == 0 || orders == 20000, "{orders} orders");
    }
    db.ok(&["--config", config, "run"]);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM orders").await, 20000);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pipeline_runs WHERE status = 'running'")
            .await,
        0
    );
}

#[tokio::test]
async fn an_input_that_cannot_be_read_is_a_clear_error_and_nothing_is_written() {
    let db = TestDb::new().await;
    let dir = common::copy_fixture("stats");
    let orders = dir.path().join("olist_orders_dataset.csv");
    std::fs::remove_file(&orders).unwrap();
    std::fs::create_dir(&orders).unwrap();
    let out = db.run(&["--data-dir", dir.path().to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("olist_orders_dataset.csv: not a regular file (a directory)"),
        "{stderr}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM customers").await, 0);
}

#[tokio::test]
async fn killing_a_stale_recompute_then_rerunning_restores_every_day() {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "20000", "--days", "300", "--seed", "5"]);
    let config = write_config(dir.path(), &data, "", "chunk_days = 7");
    let config = config.to_str().unwrap();
    db.ok(&["--config", config, "run"]);
    let mut shop = common::Shop::read(&data);
    // Editing the options makes every day stale whole too: a backfill-sized recompute to kill.
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let config_other = write_config(
        &other_dir,
        &data,
        "",
        "chunk_days = 7\nexcluded_statuses = [\"canceled\"]",
    );
    let config_other = config_other.to_str().unwrap();
    // How long a recompute of every day takes here, to kill within it.
    let started = Instant::now();
    db.ok(&[
        "--config",
        config_other,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2016-09-04",
    ]);
    let mut whole = started.elapsed();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261130);
    let mut killed = 0;
    // Rounds until three recomputes were killed (at most 12): a recompute that ended before its
    // kill (the timing above may come from a busier moment) narrows the range to the wait it was
    // given, which it outlasted.
    for round in 0..12 {
        if killed >= 3 {
            break;
        }
        // A new export raising the price of every 40th item (about 500 orders), loaded alone.
        for item in shop.items[1..].iter_mut().skip(round).step_by(40) {
            let price: f64 = item[5].parse().unwrap();
            item[5] = format!("{:.2}", price + 1.0);
        }
        shop.write(&data);
        let options = if round % 2 == 0 { config } else { config_other };
        db.ok(&["--config", options, "run", "--stage", "load"]);
        let started = Instant::now();
        let mut child = spawn(
            &db,
            &[
                "--config",
                options,
                "run",
                "--stage",
                "customer_daily_stats",
                "--date",
                "2016-09-04",
            ],
            Stdio::null(),
        );
        // Each round switches the options, so every day is stale whole: kill within that recompute.
        let wait = rng.gen_range(0..whole.as_millis().max(1) as u64);
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        } else {
            whole = whole.min(started.elapsed());
        }
        child.wait().unwrap();
        wait_until_idle(&db).await;
        tracing_free_note(round, started.elapsed());
    }
    assert!(killed >= 3, "only {killed} recomputes were interrupted");
    db.ok(&[
        "--config",
        config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--date",
        "2016-09-04",
    ]);
    db.assert_fresh("after killed recomputes and a rerun").await;
    assert_eq!(db.status_check(config), Some(0));
    let interrupted: Vec<String> = {
        let mut conn = db.connect().await;
        sqlx::query_scalar(
            "SELECT error FROM pipeline_runs WHERE error LIKE 'interrupted:%' AND kind = 'stage'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    // The ledger says what an interrupted recompute kept: the days it had committed, or nothing.
    assert!(!interrupted.is_empty());
    for error in &interrupted {
        assert!(
            error.contains("were kept (") || error.contains("nothing of it was kept"),
            "{error}"
        );
    }
}

/// Keeps the elapsed time of a round visible when a test fails (`--nocapture`).
fn tracing_free_note(round: usize, elapsed: Duration) {
    println!("round {round}: {:.2}s", elapsed.as_secs_f64());
}
