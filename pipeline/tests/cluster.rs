//! The cluster roles as real processes of this binary (`pipeline cluster scheduler|executor`): a
//! scheduler and two executors run a SQL job that shuffles between them. Built with the feature
//! `ballista` only: `cargo test -p pipeline --features ballista --test cluster`.
#![cfg(feature = "ballista")]

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ballista::datafusion::arrow::array::{Array, Int64Array};
use ballista::datafusion::prelude::{CsvReadOptions, SessionContext};
use ballista::prelude::SessionContextExt;

/// A port free now, whose next port is free too (an executor takes both).
fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and two executors; killed when dropped.
struct Cluster {
    scheduler_port: u16,
    children: Vec<Child>,
}

impl Cluster {
    fn start(work_dirs: [&Path; 2]) -> Self {
        let binary = env!("CARGO_BIN_EXE_pipeline");
        let scheduler_port = free_port_pair();
        let mut children = vec![
            Command::new(binary)
                .args([
                    "cluster",
                    "scheduler",
                    "--port",
                    &scheduler_port.to_string(),
                ])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        ];
        wait_listening(scheduler_port, "the scheduler");
        for dir in work_dirs {
            let port = free_port_pair();
            children.push(
                Command::new(binary)
                    .args([
                        "cluster",
                        "executor",
                        "--scheduler",
                        &format!("127.0.0.1:{scheduler_port}"),
                        "--port",
                        &port.to_string(),
                        "--vcores",
                        "1",
                        "--memory-mb",
                        "256",
                        "--work-dir",
                        dir.to_str().unwrap(),
                    ])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            wait_listening(port + 1, "an executor");
        }
        Self {
            scheduler_port,
            children,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// Under `root`: the two executors' work directories and the data's, created.
fn directories(root: &Path) -> [std::path::PathBuf; 3] {
    ["a", "b", "data"].map(|name| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduler_and_two_executors_of_this_binary_run_a_shuffled_job() {
    let dir = tempfile::tempdir().unwrap();
    let [work_a, work_b, data] = directories(dir.path());
    // Four files, so that the scan has four partitions for two executors of one task slot each.
    let mut expected = vec![(0_i64, 0_i64); 97];
    for part in 0..4 {
        let mut text = String::from("k,v\n");
        for i in (part * 5000)..((part + 1) * 5000) {
            let k = i % 97;
            writeln!(text, "{k},{i}").unwrap();
            expected[k as usize].0 += 1;
            expected[k as usize].1 += i;
        }
        std::fs::write(data.join(format!("part{part}.csv")), text).unwrap();
    }
    let cluster = Cluster::start([&work_a, &work_b]);
    let ctx = SessionContext::remote(&format!("df://127.0.0.1:{}", cluster.scheduler_port))
        .await
        .unwrap();
    ctx.register_csv("t", data.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    let batches = tokio::time::timeout(
        Duration::from_mins(2),
        ctx.sql("SELECT k, count(*) AS c, sum(v) AS s FROM t GROUP BY k ORDER BY k")
            .await
            .unwrap()
            .collect(),
    )
    .await
    .expect("the job finishes")
    .unwrap();
    let mut got = Vec::new();
    for batch in &batches {
        let column = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone()
        };
        let (k, c, s) = (column(0), column(1), column(2));
        for row in 0..batch.num_rows() {
            got.push((k.value(row), c.value(row), s.value(row)));
        }
    }
    let expected: Vec<(i64, i64, i64)> = expected
        .iter()
        .enumerate()
        .map(|(k, (c, s))| (k as i64, *c, *s))
        .collect();
    assert_eq!(got, expected);
    // Both executors ran tasks: each wrote shuffle files into its own work directory.
    assert!(
        files_under(&work_a) > 0 && files_under(&work_b) > 0,
        "shuffle files: {} and {}",
        files_under(&work_a),
        files_under(&work_b)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_executor_killed_mid_job_leaves_the_job_finished_right_or_failed() {
    let dir = tempfile::tempdir().unwrap();
    let [work_a, work_b, data] = directories(dir.path());
    // Enough rows that the job runs for a while on one task slot per executor.
    let mut total = 0_i64;
    for part in 0..8 {
        let mut text = String::from("k,v\n");
        for i in (part * 300_000)..((part + 1) * 300_000) {
            writeln!(text, "{},{i}", i % 100_003).unwrap();
            total += i;
        }
        std::fs::write(data.join(format!("part{part}.csv")), text).unwrap();
    }
    let mut cluster = Cluster::start([&work_a, &work_b]);
    let ctx = SessionContext::remote(&format!("df://127.0.0.1:{}", cluster.scheduler_port))
        .await
        .unwrap();
    ctx.register_csv("t", data.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    let job = tokio::spawn(async move {
        let started = Instant::now();
        let result = ctx
            .sql("SELECT sum(s) FROM (SELECT k, sum(v) AS s FROM t GROUP BY k)")
            .await
            .unwrap()
            .collect()
            .await;
        (result, started.elapsed())
    });
    // Kill the first executor once it has written shuffle files (it is running tasks).
    let started = Instant::now();
    while files_under(&work_a) == 0 && !job.is_finished() {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "no task started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_mid_job = !job.is_finished();
    cluster.children[1].kill().unwrap();
    let (result, took) = tokio::time::timeout(Duration::from_mins(5), job)
        .await
        .expect("the job ends")
        .unwrap();
    // Ballista gives the lost executor's tasks (and the shuffle output they held) to the other
    // one: the job finishes, and right, within the scheduler's executor timeout (30 s here, 3
    // minutes by Ballista's default) plus the work.
    assert!(
        killed_mid_job,
        "the job ended before an executor was killed"
    );
    let batches = result.expect("the job finishes on the executor left");
    let sum = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(sum, total);
    assert!(took < Duration::from_secs(150), "the job took {took:?}");
}
