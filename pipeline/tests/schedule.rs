//! `pipeline schedule` on the bundled sample: each run brings the data's days up to date and prints
//! one line; no day outside the data is computed; `--once` exits 0 only when its run succeeded.

mod common;

use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{TestDb, repo, text};

/// The days of the bundled sample: its first to its last purchase day.
const SAMPLE_DAYS: i64 = 698;
const SAMPLE_LAST_DAY: &str = "2018-08-04";

/// The binary against `url` from the repository root, at the default log level, with `env` set.
fn pipeline(url: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipeline"));
    command
        .args(args)
        .current_dir(repo())
        .env("DATABASE_URL", url)
        .env_remove("RUST_LOG")
        .env_remove("PIPELINE_DATA_DIR")
        .envs(env.iter().copied());
    command
}

fn run(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    pipeline(url, args, env).output().unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    text(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Asserts that stderr holds the warning that the sample ends long before yesterday, and nothing
/// else but the lines `also` accepts.
fn assert_only_the_data_warning(out: &Output, also: impl Fn(&str) -> bool) {
    let stderr = lines(&out.stderr);
    let (warnings, others): (Vec<&String>, Vec<&String>) = stderr.iter().partition(|l| {
        l.contains(&format!("the data ends on {SAMPLE_LAST_DAY}, "))
            && l.ends_with(" days before yesterday; is the export up to date?")
    });
    assert_eq!(warnings.len(), 1, "{stderr:#?}");
    assert!(others.iter().all(|l| also(l)), "{stderr:#?}");
}

async fn computed_days(db: &TestDb) -> (i64, i64) {
    let all = db
        .scalar::<i64>(
            "SELECT count(*) FROM aggregate_days WHERE stage_name = 'customer_daily_stats'",
        )
        .await;
    let after = db
        .scalar::<i64>(&format!(
            "SELECT count(*) FROM aggregate_days WHERE day > '{SAMPLE_LAST_DAY}' OR day < '2016-09-06'"
        ))
        .await;
    (all, after)
}

#[tokio::test]
async fn schedule_once_computes_the_days_of_the_data_then_is_up_to_date() {
    let db = TestDb::new().await;

    let out = run(&db.url, &["schedule", "--once"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = lines(&out.stdout);
    assert_eq!(stdout.len(), 1, "{stdout:#?}");
    assert!(
        stdout[0].starts_with("done: ")
            && stdout[0].contains(&format!(
                "customer_daily_stats: {SAMPLE_DAYS} days computed (2016-09-06..{SAMPLE_LAST_DAY})"
            )),
        "{}",
        stdout[0]
    );
    assert_only_the_data_warning(&out, |_| false);
    assert_eq!(computed_days(&db).await, (SAMPLE_DAYS, 0));

    let out = run(&db.url, &["schedule", "--once"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = lines(&out.stdout);
    assert_eq!(stdout.len(), 1, "{stdout:#?}");
    assert!(
        stdout[0].starts_with("up to date: ") && stdout[0].contains("nothing to do"),
        "{}",
        stdout[0]
    );
    assert_only_the_data_warning(&out, |_| false);
    assert_eq!(computed_days(&db).await, (SAMPLE_DAYS, 0));

    // A configuration that still sets max_catch_up_days works, with a warning that it is ignored.
    let out = run(
        &db.url,
        &["schedule", "--once"],
        &[("PIPELINE_SCHEDULE__MAX_CATCH_UP_DAYS", "7")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lines(&out.stdout).len(), 1);
    assert_only_the_data_warning(&out, |l| {
        l.contains("schedule.max_catch_up_days = 7 is ignored and can be removed")
    });
}

#[tokio::test]
async fn schedule_once_exits_1_with_the_error_when_its_run_fails() {
    let db = TestDb::new().await;
    let empty = tempfile::tempdir().unwrap();
    let out = run(
        &db.url,
        &[
            "schedule",
            "--once",
            "--data-dir",
            empty.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: ")
            && stderr.contains("olist_customers_dataset.csv: file not found"),
        "{stderr}"
    );
    // The run's line, saying it failed.
    let stdout = lines(&out.stdout);
    assert_eq!(stdout.len(), 1, "{stdout:#?}");
    assert!(stdout[0].starts_with("failed"), "{}", stdout[0]);
    assert_eq!(computed_days(&db).await, (0, 0));
}

#[test]
fn schedule_once_exits_1_when_the_database_stays_unreachable() {
    // Nothing listens on port 1.
    let out = run(
        "postgres://postgres@127.0.0.1:1/nothing",
        &["schedule", "--once"],
        &[
            ("PIPELINE_SCHEDULE__ONCE_ATTEMPTS", "2"),
            ("PIPELINE_SCHEDULE__RETRY_INITIAL_SECS", "1"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: database unreachable after 2 attempts, giving up: "),
        "{stderr}"
    );
    // No run happened, so no line.
    assert!(lines(&out.stdout).is_empty(), "{}", text(&out.stdout));
}

#[tokio::test]
async fn schedule_runs_at_start_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let mut child = pipeline(&db.url, &["schedule"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // The first run is at start, whatever `at` says.
    let first = rx
        .recv_timeout(Duration::from_mins(2))
        .expect("the scheduler prints its first run's line");
    assert!(first.starts_with("done: "), "{first}");
    assert_eq!(computed_days(&db).await, (SAMPLE_DAYS, 0));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(rx.try_iter().next().is_none(), "one line per run");
}
