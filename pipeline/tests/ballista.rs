//! `engine = "ballista"` on a real cluster of this binary's roles (a scheduler and two executor
//! processes, `tests/common/cluster.rs`): the rows equal `engine = "postgres"`'s on the bundled
//! sample and on a generated history with late changes, the daily-export replay stays exact, the
//! Parquet snapshots are reused only while their tables are unchanged (whoever changed them), and
//! the two faults: a scheduler that cannot be reached, an executor killed mid-job. Built with the
//! feature `ballista` only: `cargo test -p pipeline --features ballista --test ballista`.
#![cfg(feature = "ballista")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use common::cluster::{Cluster, directories, files_under, free_port_pair};
use common::replay::replay_exports;
use common::{
    Shop, TestDb, add_edge_cases, assert_same_rows, generated, random_edit, repo, stored_rows,
    text, write_config,
};
use rand::{Rng, SeedableRng};

/// The statistics' options for the cluster at `scheduler`, snapshots under `snapshots`.
fn ballista_options(scheduler: &str, snapshots: &Path, key: &str) -> String {
    format!(
        "customer_key = \"{key}\"\nengine = \"ballista\"\nscheduler = \"{scheduler}\"\nsnapshot_dir = {:?}",
        snapshots.display().to_string()
    )
}

/// A config over `data` in `dir` (named `name`), with the statistics' `options`.
fn config(dir: &Path, name: &str, data: &Path, options: &str) -> String {
    let path = write_config(dir, data, "", options);
    let named = dir.join(name);
    std::fs::rename(&path, &named).unwrap();
    named.to_str().unwrap().to_owned()
}

/// What computed the days: each engine recorded, with its days.
async fn engines(db: &TestDb) -> Vec<(String, i64)> {
    let mut conn = db.connect().await;
    sqlx::query_as(
        "SELECT coalesce(engine, '-'), count(*) FROM aggregate_days GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// The snapshot's version directories, `table/version`, and each one's files' modification times.
fn snapshot_versions(snapshots: &Path) -> Vec<(String, Vec<SystemTime>)> {
    let mut out = Vec::new();
    for table in std::fs::read_dir(snapshots).unwrap().flatten() {
        for version in std::fs::read_dir(table.path()).unwrap().flatten() {
            let mut times: Vec<SystemTime> = std::fs::read_dir(version.path())
                .unwrap()
                .flatten()
                .map(|f| f.metadata().unwrap().modified().unwrap())
                .collect();
            times.sort();
            out.push((
                format!(
                    "{}/{}",
                    table.file_name().to_string_lossy(),
                    version.file_name().to_string_lossy()
                ),
                times,
            ));
        }
    }
    out.sort();
    out
}

/// `status` (text and JSON) says the cluster computed the `days`.
fn assert_status_names_the_engine(db: &TestDb, config: &str, days: i64) {
    let status = db.status_json(config);
    assert_eq!(
        status["aggregates"][0]["engines"],
        serde_json::json!({ "ballista": days })
    );
    let text_status = db.ok(&["--config", config, "status"]);
    assert!(
        text_status.contains(&format!(
            "customer_daily_stats: days computed by ballista ({days})"
        )),
        "{text_status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_and_a_history_with_late_changes_give_the_postgres_rows() {
    let root = tempfile::tempdir().unwrap();
    let [work_a, work_b, snapshots] = directories(root.path(), ["a", "b", "snapshots"]);
    let cluster = Cluster::start([&work_a, &work_b]);

    // The bundled sample with the edge cases, keyed by the person: each engine on its own database.
    let data = root.path().join("sample");
    let mut shop = Shop::read(&repo().join("datasets/sample"));
    add_edge_cases(&mut shop);
    shop.write(&data);
    let key = "customer_unique_id";
    let on_cluster = TestDb::new().await;
    let ballista = config(
        root.path(),
        "ballista.toml",
        &data,
        &ballista_options(&cluster.address(), &snapshots, key),
    );
    on_cluster.ok(&["--config", &ballista, "run"]);
    let by_ballista = stored_rows(&on_cluster).await;
    let in_postgres = TestDb::new().await;
    let postgres = config(
        root.path(),
        "postgres.toml",
        &data,
        &format!("customer_key = \"{key}\""),
    );
    in_postgres.ok(&["--config", &postgres, "run"]);
    let by_postgres = stored_rows(&in_postgres).await;
    assert!(by_postgres.len() > 1000);
    assert_same_rows(&by_ballista, &by_postgres, "ballista", "the sample");
    let days = engines(&in_postgres).await;
    assert_eq!(days.len(), 1);
    assert_eq!(
        engines(&on_cluster).await,
        [("ballista".to_owned(), days[0].1)]
    );
    assert_status_names_the_engine(&on_cluster, &ballista, days[0].1);
    // The executors read the snapshot: both ran tasks.
    assert!(files_under(&work_a) > 0 && files_under(&work_b) > 0);

    // A generated history keyed by customer id, run day by day with late changes in between:
    // days computed alone on the cluster, stale people recomputed in PostgreSQL, every computed
    // day fresh after each run; then a full refresh by each engine gives the same rows.
    let key = "customer_id";
    let db = TestDb::new().await;
    let (dir, data) = generated(
        &db,
        &[
            "--orders",
            "400",
            "--days",
            "25",
            "--start",
            "2017-01-01",
            "--seed",
            "5",
        ],
    );
    let ballista = config(
        dir.path(),
        "ballista.toml",
        &data,
        &ballista_options(&cluster.address(), &snapshots, key),
    );
    let postgres = config(
        dir.path(),
        "postgres.toml",
        &data,
        &format!("customer_key = \"{key}\""),
    );
    let mut shop = Shop::read(&data);
    add_edge_cases(&mut shop);
    shop.write(&data);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261207);
    let first = NaiveDate::from_ymd_opt(2017, 1, 1).unwrap();
    db.ok(&["--config", &ballista, "run", "--date", "2017-01-08"]);
    let mut history = vec![format!("keyed by {key}")];
    for step in 0..4 {
        for _ in 0..rng.gen_range(1..4) {
            history.push(random_edit(&mut shop, &mut rng));
        }
        shop.write(&data);
        let day = first + chrono::Days::new(rng.gen_range(0..28));
        history.push(format!("step {step}: run --date {day}"));
        db.ok(&["--config", &ballista, "run", "--date", &day.to_string()]);
        db.assert_fresh_keyed_by(key, &history.join("\n  ")).await;
    }
    db.ok(&["--config", &ballista, "run"]);
    db.assert_fresh_keyed_by(key, &history.join("\n  ")).await;
    let refresh = ["run", "--stage", "customer_daily_stats", "--full-refresh"];
    db.ok(&[&["--config", ballista.as_str()][..], &refresh].concat());
    let by_ballista = stored_rows(&db).await;
    db.ok(&[&["--config", postgres.as_str()][..], &refresh].concat());
    let by_postgres = stored_rows(&db).await;
    assert_same_rows(
        &by_ballista,
        &by_postgres,
        "ballista",
        &history.join("\n  "),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_export_replay_stays_exact_on_the_cluster() {
    let root = tempfile::tempdir().unwrap();
    let [work_a, work_b, snapshots] = directories(root.path(), ["a", "b", "snapshots"]);
    let cluster = Cluster::start([&work_a, &work_b]);
    replay_exports(&ballista_options(
        &cluster.address(),
        &snapshots,
        "customer_unique_id",
    ))
    .await;
}

/// A snapshot is reused while its table's version is unchanged, and made again after any
/// statement that wrote the table: the load's or an analyst's.
#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_reused_until_their_table_changes() {
    let root = tempfile::tempdir().unwrap();
    let [work_a, work_b, snapshots] = directories(root.path(), ["a", "b", "snapshots"]);
    let cluster = Cluster::start([&work_a, &work_b]);
    let db = TestDb::new().await;
    let ballista = config(
        root.path(),
        "ballista.toml",
        &repo().join("datasets/sample"),
        &ballista_options(&cluster.address(), &snapshots, "customer_unique_id"),
    );
    db.ok(&["--config", &ballista, "run"]);
    let first = snapshot_versions(&snapshots);
    let tables: Vec<&str> = first
        .iter()
        .map(|(v, _)| v.split('/').next().unwrap())
        .collect();
    assert_eq!(
        tables,
        ["customers", "excluded_statuses", "order_items", "orders"]
    );

    let refresh = [
        "--config",
        ballista.as_str(),
        "run",
        "--stage",
        "customer_daily_stats",
        "--full-refresh",
    ];
    db.ok(&refresh);
    assert_eq!(snapshot_versions(&snapshots), first, "nothing changed");

    // An analyst's UPDATE outside the pipeline: the orders' snapshot is made again, the others
    // are kept, and the recomputed days are right.
    let mut conn = db.connect().await;
    sqlx::query(
        "UPDATE orders SET order_status = 'canceled'
          WHERE order_id = (SELECT min(order_id) FROM orders WHERE order_status = 'delivered')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    db.ok(&refresh);
    let second = snapshot_versions(&snapshots);
    assert_eq!(second.len(), 4);
    assert_eq!(second[0], first[0], "customers kept");
    assert_eq!(second[1], first[1], "the statuses kept");
    assert_eq!(second[2], first[2], "order items kept");
    assert_ne!(second[3].0, first[3].0, "orders made again");
    db.assert_fresh("after an UPDATE of orders").await;

    // A database made again from the same files has other versions: nothing is reused by chance.
    let again = TestDb::new().await;
    again.ok(&["--config", &ballista, "run"]);
    let third = snapshot_versions(&snapshots);
    let tables_again: Vec<&(String, Vec<SystemTime>)> = third
        .iter()
        .filter(|(v, _)| !v.starts_with("excluded_statuses/"))
        .collect();
    assert_eq!(tables_again.len(), 3);
    assert!(
        tables_again.iter().all(|v| !second.contains(v)),
        "{third:?}"
    );
    again.assert_fresh("a new database").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_scheduler_fails_the_run_naming_it_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let snapshots = root.path().join("snapshots");
    // A port nothing listens on.
    let address = format!("df://127.0.0.1:{}", free_port_pair());
    let db = TestDb::new().await;
    let ballista = config(
        root.path(),
        "ballista.toml",
        &repo().join("datasets/sample"),
        &ballista_options(&address, &snapshots, "customer_unique_id"),
    );
    let out = db.run(&["--config", &ballista, "run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the Ballista scheduler at {address}")),
        "{stderr}"
    );
    let rows: i64 = db.scalar("SELECT count(*) FROM customer_daily_stats").await;
    let days: i64 = db.scalar("SELECT count(*) FROM aggregate_days").await;
    assert_eq!((rows, days), (0, 0));
    assert!(!snapshots.exists() || files_under(&snapshots) == 0);
}

/// The job of a first backfill loses an executor while it runs: Ballista gives its tasks to the
/// other one and the run ends right, or the run fails and leaves no day; a rerun then ends right.
#[tokio::test(flavor = "multi_thread")]
async fn an_executor_killed_mid_job_leaves_no_day_half_written() {
    let root = tempfile::tempdir().unwrap();
    let [work_a, work_b, snapshots] = directories(root.path(), ["a", "b", "snapshots"]);
    let mut cluster = Cluster::start([&work_a, &work_b]);
    let db = TestDb::new().await;
    let (dir, data) = generated(
        &db,
        &[
            "--orders",
            "60000",
            "--days",
            "400",
            "--start",
            "2017-01-01",
            "--seed",
            "3",
        ],
    );
    let ballista = config(
        dir.path(),
        "ballista.toml",
        &data,
        &ballista_options(&cluster.address(), &snapshots, "customer_unique_id"),
    );
    db.ok(&["--config", &ballista, "run", "--stage", "load"]);
    let mut run = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["--config", &ballista, "run"])
        .current_dir(repo())
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the first executor once it has written shuffle files (it is running the job's tasks).
    let started = Instant::now();
    while files_under(&work_a) == 0 && run.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_mins(3),
            "no task started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_mid_job = run.try_wait().unwrap().is_none();
    cluster.children[1].kill().unwrap();
    cluster.children[1].wait().unwrap();
    assert!(
        killed_mid_job,
        "the run ended before an executor was killed"
    );
    let out = run.wait_with_output().unwrap();
    let rows: i64 = db.scalar("SELECT count(*) FROM customer_daily_stats").await;
    if out.status.success() {
        db.assert_fresh("the job finished on the executor left")
            .await;
    } else {
        // Failed cleanly: no day holds rows and none is recorded; the rerun completes.
        let days: i64 = db.scalar("SELECT count(*) FROM aggregate_days").await;
        assert_eq!((rows, days), (0, 0), "{}", text(&out.stderr));
        db.ok(&["--config", &ballista, "run"]);
        db.assert_fresh("the rerun").await;
    }
    let computed: i64 = db.scalar("SELECT count(*) FROM aggregate_days").await;
    assert!(computed > 300);
}
