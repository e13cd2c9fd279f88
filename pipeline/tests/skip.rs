//! The skip of unchanged files under stress: a file rewritten in place while a run reads it, two runs
//! of different exports at once, two configurations on one database. After each, a plain run must
//! leave the tables equal to a fresh load of the files as they are, never skip a file whose content
//! the tables do not hold.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Shop, TestDb, generated, text, write_config};

/// Starts the pipeline binary against `db` without waiting for it.
fn spawn(db: &TestDb, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` and returns its exit code and stderr.
fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

/// Whether process `pid` has `path` open, and at which position.
fn open_at(pid: u32, path: &Path) -> Option<u64> {
    let path = std::fs::canonicalize(path).ok()?;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let entry = entry.ok()?;
        if std::fs::read_link(entry.path()).ok().as_deref() == Some(path.as_path()) {
            let info = std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                entry.file_name().to_string_lossy()
            ))
            .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|p| p.trim().parse().ok());
        }
    }
    None
}

/// Whether a statement starting with `prefix` is running in `db`.
async fn running(db: &TestDb, prefix: &str) -> bool {
    db.scalar::<bool>(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' AND query LIKE '{prefix}%')",
        db.name
    ))
    .await
}

/// Sends `signal` (STOP or CONT) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Polls `ready` until it holds, then stops `child` (SIGSTOP) so that the moment lasts while the
/// caller acts; `resume` lets it go on. Returns false when the child ended first: the moment was
/// missed, and the caller tries again rather than prove nothing.
async fn stop_when(child: &mut Child, what: &str, mut ready: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if ready().await {
            signal(child.id(), "STOP");
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(
            started.elapsed() < Duration::from_mins(2),
            "{what} never came"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Cuts `path` in place at the line end nearest its middle, keeping the header: what an exporter
/// rewriting the file in place leaves for a moment.
fn truncate_in_place(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let cut = bytes[bytes.len() / 2..]
        .iter()
        .position(|&b| b == b'\n')
        .unwrap()
        + bytes.len() / 2
        + 1;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(cut as u64).unwrap();
}

/// Writes `bytes` back into `path` in place (same file, not a new one).
fn rewrite_in_place(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// When, during a run, the orders file is cut in place.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// Before the run starts.
    Before,
    /// While the run hashes it to decide whether to skip it (the tables hold the whole file).
    WhileHashed,
    /// While the run streams it into the load.
    WhileRead,
    /// After it was read, while the next file is read, before the load commits.
    AfterRead,
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario: each moment of the cut, then the reruns"
)]
#[tokio::test]
async fn a_file_rewritten_in_place_during_a_run_is_read_again_by_the_next_run() {
    let reference = TestDb::new().await;
    let (small_dir, small) = generated(&reference, &["--orders", "500", "--seed", "11"]);
    let (_full_dir, full) = generated(&reference, &["--orders", "20000", "--seed", "12"]);
    // Every line may be rejected without failing the load: a cut orders file then loads, its
    // items' references rejected, as an export of orders alone would (the reject ratio must not be
    // what saves the day).
    let config = write_config(small_dir.path(), &small, "max_reject_ratio = 1.0", "");
    let config = config.to_str().unwrap();
    // What the tables hold after loading the whole export, undisturbed: alone, or after the small
    // one (loads never delete, so its rows stay).
    reference.ok(&[
        "--config",
        config,
        "--data-dir",
        full.to_str().unwrap(),
        "run",
    ]);
    let full_alone = reference.data_checksum().await;
    let after_small = TestDb::new().await;
    after_small.ok(&[
        "--config",
        config,
        "--data-dir",
        small.to_str().unwrap(),
        "run",
    ]);
    after_small.ok(&[
        "--config",
        config,
        "--data-dir",
        full.to_str().unwrap(),
        "run",
    ]);
    let full_after_small = after_small.data_checksum().await;
    let whole_orders = std::fs::read(full.join("olist_orders_dataset.csv")).unwrap();

    for moment in [
        Moment::Before,
        Moment::WhileHashed,
        Moment::WhileRead,
        Moment::AfterRead,
    ] {
        // A moment missed (the run ended before it came) is tried again on a fresh database.
        let mut attempts = 0;
        let (db, data, orders, child) = loop {
            attempts += 1;
            assert!(
                attempts <= 20,
                "{moment:?}: the moment never came in 20 runs"
            );
            let db = TestDb::new().await;
            let data = small_dir.path().join(format!("{moment:?}-{attempts}"));
            // The tables hold an earlier export, or (to be hashed) this very one.
            copy_dir(
                if let Moment::WhileHashed = moment {
                    &full
                } else {
                    &small
                },
                &data,
            );
            let data_arg = data.to_str().unwrap();
            db.ok(&["--config", config, "--data-dir", data_arg, "run"]);
            copy_dir(&full, &data);
            let orders = data.join("olist_orders_dataset.csv");
            if let Moment::Before = moment {
                truncate_in_place(&orders);
            }
            let mut child = spawn(&db, &["--config", config, "--data-dir", data_arg, "run"]);
            let pid = child.id();
            // The run is stopped at the moment, the file cut, and the run let go on.
            let came = match moment {
                Moment::Before => false,
                Moment::WhileHashed => {
                    stop_when(&mut child, "the orders file was hashed", async || {
                        open_at(pid, &orders).is_some()
                    })
                    .await
                }
                Moment::WhileRead => {
                    stop_when(&mut child, "the orders file was read", async || {
                        running(&db, "COPY staging_orders ").await
                    })
                    .await
                }
                Moment::AfterRead => {
                    stop_when(&mut child, "the items file was read", async || {
                        running(&db, "COPY staging_order_items ").await
                    })
                    .await
                }
            };
            if came {
                truncate_in_place(&orders);
                signal(pid, "CONT");
            } else if !matches!(moment, Moment::Before) {
                finish(child);
                eprintln!("{moment:?}: the run ended before the moment came; trying again");
                continue;
            }
            break (db, data, orders, child);
        };
        let expected = if let Moment::WhileHashed = moment {
            &full_alone
        } else {
            &full_after_small
        };
        let data_arg = data.to_str().unwrap();
        let (code, stderr) = finish(child);
        // Whatever that run did (loaded what it read, refused a file that changed under it, or
        // refused the items of orders cut away), the export, once whole again, is what the next
        // run must leave in the tables.
        assert!(
            code == Some(0) || code == Some(1),
            "{moment:?}: exit {code:?}: {stderr}"
        );
        rewrite_in_place(&orders, &whole_orders);
        db.ok(&["--config", config, "--data-dir", data_arg, "run"]);
        assert_eq!(
            &db.data_checksum().await,
            expected,
            "{moment:?}: the tables differ from an undisturbed load of the whole export"
        );
        db.assert_fresh(&format!("{moment:?}")).await;
        // And from then on the file is skipped, rightly.
        let again: serde_json::Value = serde_json::from_str(&db.ok(&[
            "--config",
            config,
            "--data-dir",
            data_arg,
            "run",
            "--format",
            "json",
        ]))
        .unwrap();
        assert!(
            again["datasets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["unchanged_since_run"].is_i64()),
            "{moment:?}: {again}"
        );
    }
}

/// The price of item 1 of the first order of the items file, as stored.
async fn stored_price(db: &TestDb, shop: &Shop) -> String {
    db.scalar::<String>(&format!(
        "SELECT price::text FROM order_items WHERE order_id = '{}' AND order_item_id = {}",
        shop.items[1][0], shop.items[1][1]
    ))
    .await
}

/// A copy of `from` in `to` with the first item's price raised by 7.
fn with_other_price(from: &Path, to: &Path) -> Shop {
    copy_dir(from, to);
    let mut shop = Shop::read(to);
    let price: f64 = shop.items[1][5].parse().unwrap();
    shop.items[1][5] = format!("{:.2}", price + 7.0);
    shop.write(to);
    shop
}

fn datasets(out: &str) -> Vec<serde_json::Value> {
    let run: serde_json::Value = serde_json::from_str(out).unwrap();
    run["datasets"].as_array().unwrap().clone()
}

fn read_again(out: &str, dataset: &str) -> bool {
    datasets(out)
        .iter()
        .find(|d| d["dataset"] == dataset)
        .unwrap()["unchanged_since_run"]
        .is_null()
}

#[tokio::test]
async fn a_run_that_waited_for_another_load_decides_on_what_that_load_committed() {
    let db = TestDb::new().await;
    let (dir, e1) = generated(&db, &["--orders", "20000", "--seed", "21"]);
    let e2 = dir.path().join("e2");
    let shop2 = with_other_price(&e1, &e2);
    let shop1 = Shop::read(&e1);
    let (e1_arg, e2_arg) = (e1.to_str().unwrap(), e2.to_str().unwrap());
    db.ok(&["--data-dir", e1_arg, "run"]);
    let price1 = stored_price(&db, &shop1).await;

    // E2 loads; once it holds the load lock, a run of E1 starts and must wait for it.
    // E2 is stopped while it holds the lock, until E1 waits for it: the order is certain.
    let mut load_e2 = spawn(&db, &["--data-dir", e2_arg, "run"]);
    let lock = |granted: &'static str| {
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND {granted}
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid = x'50490001'::int::oid AND objid = 0 AND mode = 'ExclusiveLock')"
        )
    };
    assert!(
        stop_when(&mut load_e2, "the E2 load took the load lock", async || {
            db.scalar::<bool>(&lock("granted")).await
        })
        .await,
        "the E2 load ended before it was seen holding the load lock"
    );
    let mut run_e1 = spawn(&db, &["--data-dir", e1_arg, "run", "--format", "json"]);
    assert!(
        stop_when(&mut run_e1, "the E1 run waited for the lock", async || {
            db.scalar::<bool>(&lock("NOT granted")).await
        })
        .await,
        "the E1 run ended while E2 held the load lock"
    );
    signal(run_e1.id(), "CONT");
    signal(load_e2.id(), "CONT");
    let (code, stderr) = finish(load_e2);
    assert_eq!(code, Some(0), "{stderr}");
    let out = run_e1.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // E2 committed first, so E1's items file is not what the table holds: it is read.
    assert!(
        read_again(&text(&out.stdout), "order_items"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(stored_price(&db, &shop1).await, price1);
    db.assert_fresh("after the two runs").await;
    // Now the table holds E1: skipped rightly, and E2 read again.
    let again = db.ok(&["--data-dir", e1_arg, "run", "--format", "json"]);
    assert!(!read_again(&again, "order_items"), "{again}");
    let e2_again = db.ok(&["--data-dir", e2_arg, "run", "--format", "json"]);
    assert!(read_again(&e2_again, "order_items"), "{e2_again}");
    assert_eq!(
        stored_price(&db, &shop2).await,
        format!("{:.2}", price1.parse::<f64>().unwrap() + 7.0)
    );
}

#[tokio::test]
async fn a_load_under_another_stage_name_or_config_is_seen_by_the_skip() {
    let db = TestDb::new().await;
    let (dir, s1) = generated(&db, &["--orders", "300", "--seed", "31"]);
    let s2 = dir.path().join("s2");
    with_other_price(&s1, &s2);
    let shop1 = Shop::read(&s1);
    let config_a = write_config(dir.path(), &s1, "", "");
    let config_b = dir.path().join("b.toml");
    std::fs::write(
        &config_b,
        std::fs::read_to_string(&config_a)
            .unwrap()
            .replace("name = \"load\"", "name = \"loader\""),
    )
    .unwrap();
    let (a, b) = (config_a.to_str().unwrap(), config_b.to_str().unwrap());
    let (s1_arg, s2_arg) = (s1.to_str().unwrap(), s2.to_str().unwrap());

    db.ok(&["--config", a, "--data-dir", s1_arg, "run"]);
    let price1 = stored_price(&db, &shop1).await;
    db.ok(&["--config", b, "--data-dir", s2_arg, "run"]);
    assert_ne!(stored_price(&db, &shop1).await, price1);
    let out = db.ok(&[
        "--config",
        a,
        "--data-dir",
        s1_arg,
        "run",
        "--format",
        "json",
    ]);
    assert!(read_again(&out, "order_items"), "{out}");
    assert_eq!(stored_price(&db, &shop1).await, price1);
    db.assert_fresh("back to the first export under the first config")
        .await;
}

#[tokio::test]
async fn a_table_written_by_anything_but_a_load_is_read_again() {
    let db = TestDb::new().await;
    let (_dir, data) = generated(&db, &["--orders", "300", "--seed", "41"]);
    let data_arg = data.to_str().unwrap();
    db.ok(&["--data-dir", data_arg, "run"]);
    let expected = db.data_checksum().await;
    // A hand edit of one table: its file is read again, the others are not.
    let mut conn = db.connect().await;
    sqlx::query("DELETE FROM order_items WHERE order_item_id = 1 AND ctid IN (SELECT ctid FROM order_items LIMIT 5)")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = db.ok(&["--data-dir", data_arg, "run", "--format", "json"]);
    assert!(read_again(&out, "order_items"), "{out}");
    assert!(!read_again(&out, "orders"), "{out}");
    assert_eq!(db.data_checksum().await, expected);
    // Every table emptied by hand: everything is read again.
    sqlx::query("TRUNCATE order_items, orders, customers, products")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = db.ok(&["--data-dir", data_arg, "run", "--format", "json"]);
    assert!(
        datasets(&out)
            .iter()
            .all(|d| d["unchanged_since_run"].is_null()),
        "{out}"
    );
    assert_eq!(db.data_checksum().await, expected);
}
