//! The cluster roles as real processes of this binary (`pipeline cluster scheduler|executor`): a
//! scheduler and two executors run a SQL job that shuffles between them. Built with the feature
//! `ballista` only: `cargo test -p pipeline --features ballista --test cluster`.
#![cfg(feature = "ballista")]

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ballista::datafusion::arrow::array::{Array, Int64Array};
use ballista::datafusion::prelude::{CsvReadOptions, SessionContext};
use ballista::prelude::SessionContextExt;
use common::cluster::{Cluster, directories, files_under};

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduler_and_two_executors_of_this_binary_run_a_shuffled_job() {
    let dir = tempfile::tempdir().unwrap();
    let [work_a, work_b, data] = directories(dir.path(), ["a", "b", "data"]);
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
    let [work_a, work_b, data] = directories(dir.path(), ["a", "b", "data"]);
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
