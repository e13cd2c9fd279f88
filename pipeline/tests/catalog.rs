//! The bad-input catalog: one test per kind of bad input, each asserting the exact message or reason
//! and that nothing else changed. Every case starts from the `stats` fixture (9 customers, 3
//! products, 9 orders, 9 items) with one file spoilt.

mod common;

use std::io::Write;
use std::path::Path;

use common::{TestDb, copy_fixture, text, write_config};
use sqlx::Connection;

const CUSTOMERS: &str = "olist_customers_dataset.csv";
const PRODUCTS: &str = "olist_products_dataset.csv";
const ORDERS: &str = "olist_orders_dataset.csv";
const ITEMS: &str = "olist_order_items_dataset.csv";

struct Case {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Case {
    async fn new() -> Self {
        Self {
            db: TestDb::new().await,
            dir: copy_fixture("stats"),
        }
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    fn write(&self, file: &str, bytes: &[u8]) {
        std::fs::write(self.path(file), bytes).unwrap();
    }

    fn append_line(&self, file: &str, line: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path(file))
            .unwrap();
        f.write_all(line).unwrap();
        f.write_all(b"\n").unwrap();
    }

    fn config(&self) -> String {
        let config_dir = self.dir.path().join("config");
        std::fs::create_dir_all(&config_dir).unwrap();
        write_config(&config_dir, self.dir.path(), "max_reject_ratio = 1.0", "")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Runs the load; expects a fatal error whose message contains `message`, and an untouched database.
    async fn fatal(&self, message: &str) {
        let out = self
            .db
            .run(&["--config", &self.config(), "run", "--stage", "load"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(message),
            "expected {message:?} in:\n{stderr}"
        );
        for table in [
            "customers",
            "products",
            "orders",
            "order_items",
            "rejected_rows",
        ] {
            assert_eq!(
                self.db
                    .scalar::<i64>(&format!("SELECT count(*) FROM {table}"))
                    .await,
                0,
                "{table}"
            );
        }
    }

    /// Runs the load; expects exactly one rejected line, in `file` at `line`, for `reason`, and every
    /// other line loaded.
    async fn rejected(&self, file: &str, line: i64, reason: &str) {
        self.db
            .ok(&["--config", &self.config(), "run", "--stage", "load"]);
        let mut conn = self.db.connect().await;
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT source_file, line_number, reason FROM rejected_rows")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(rows, vec![(file.to_owned(), line, reason.to_owned())]);
        for (table, count) in [
            ("customers", 9),
            ("products", 3),
            ("orders", 9),
            ("order_items", 9),
        ] {
            assert_eq!(
                self.db
                    .scalar::<i64>(&format!("SELECT count(*) FROM {table}"))
                    .await,
                count,
                "{table}"
            );
        }
    }
}

fn header(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_empty_file() {
    let case = Case::new().await;
    case.write(PRODUCTS, b"");
    case.fatal("olist_products_dataset.csv: file is empty (no header line)")
        .await;
}

#[tokio::test]
async fn a_header_only_file_loads_nothing_from_it() {
    let case = Case::new().await;
    let h = header(&case.path(ITEMS));
    case.write(ITEMS, format!("{h}\n").as_bytes());
    case.db
        .ok(&["--config", &case.config(), "run", "--stage", "load"]);
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM order_items")
            .await,
        0
    );
    assert_eq!(
        case.db.scalar::<i64>("SELECT count(*) FROM orders").await,
        9
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM rejected_rows")
            .await,
        0
    );
}

#[tokio::test]
async fn a_wrong_delimiter() {
    let case = Case::new().await;
    let content = std::fs::read_to_string(case.path(CUSTOMERS))
        .unwrap()
        .replace(',', ";");
    case.write(CUSTOMERS, content.as_bytes());
    case.fatal("olist_customers_dataset.csv: header is separated by ';', not by commas")
        .await;
}

#[tokio::test]
async fn binary_garbage() {
    let case = Case::new().await;
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    case.write(ORDERS, &garbage);
    case.fatal("olist_orders_dataset.csv: header").await;
}

#[tokio::test]
async fn invalid_utf8_in_a_field() {
    let case = Case::new().await;
    case.append_line(CUSTOMERS, b"\"cx1\",\"ux\",\"01001\",s\xe3o paulo,SP");
    case.rejected(
        CUSTOMERS,
        11,
        "malformed CSV record: invalid UTF-8 at byte 21 of the line",
    )
    .await;
}

#[tokio::test]
async fn a_ten_megabyte_line() {
    let case = Case::new().await;
    let city = "x".repeat(10 * 1024 * 1024);
    case.append_line(
        CUSTOMERS,
        format!("\"cx1\",\"ux\",\"01001\",{city},SP").as_bytes(),
    );
    case.rejected(
        CUSTOMERS,
        11,
        "line is 10485782 bytes, longer than max_line_bytes (1048576)",
    )
    .await;
    let raw_len: i32 = case
        .db
        .scalar("SELECT length(raw_line) FROM rejected_rows")
        .await;
    assert!(raw_len <= 1024 * 1024 + 12);
}

#[tokio::test]
async fn a_missing_file() {
    let case = Case::new().await;
    std::fs::remove_file(case.path(PRODUCTS)).unwrap();
    case.fatal("olist_products_dataset.csv: file not found (neither it nor")
        .await;
}

#[tokio::test]
async fn a_missing_data_directory() {
    let case = Case::new().await;
    let out = case.db.run(&[
        "--config",
        &case.config(),
        "--data-dir",
        "/nonexistent/dir",
        "run",
        "--stage",
        "load",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("data directory /nonexistent/dir does not exist or is not a directory")
    );
}

#[tokio::test]
async fn an_unreadable_directory() {
    use std::os::unix::fs::PermissionsExt;
    let case = Case::new().await;
    std::fs::set_permissions(case.dir.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::read_dir(case.dir.path()).is_ok();
    if readable {
        // The superuser reads every directory; the check is then the same as for a readable one.
        std::fs::set_permissions(case.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipped: running as a user who can read a mode-000 directory");
        return;
    }
    let out = case.db.run(&[
        "--data-dir",
        case.dir.path().to_str().unwrap(),
        "run",
        "--stage",
        "load",
    ]);
    std::fs::set_permissions(case.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read data directory"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn a_header_with_a_missing_column() {
    let case = Case::new().await;
    let content = std::fs::read_to_string(case.path(ITEMS)).unwrap().replacen(
        "\"seller_id\"",
        "\"vendor\"",
        1,
    );
    case.write(ITEMS, content.as_bytes());
    case.fatal("olist_order_items_dataset.csv: header lacks required column \"seller_id\"")
        .await;
}

#[tokio::test]
async fn a_header_with_a_duplicated_column() {
    let case = Case::new().await;
    let content = std::fs::read_to_string(case.path(ITEMS)).unwrap().replacen(
        "\"seller_id\"",
        "\"price\"",
        1,
    );
    case.write(ITEMS, content.as_bytes());
    case.fatal("header lacks required column \"seller_id\"; header repeats column \"price\"")
        .await;
}

#[tokio::test]
async fn a_truncated_gzip_file() {
    let case = Case::new().await;
    let content = std::fs::read(case.path(ORDERS)).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&content).unwrap();
    let gz = encoder.finish().unwrap();
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    case.write(&format!("{ORDERS}.gz"), &gz[..gz.len() - 20]);
    case.fatal("olist_orders_dataset.csv.gz: cannot read after line")
        .await;
}

#[tokio::test]
async fn a_whole_gzip_file_loads_like_the_plain_one() {
    let case = Case::new().await;
    let content = std::fs::read(case.path(ORDERS)).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&content).unwrap();
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    case.write(&format!("{ORDERS}.gz"), &encoder.finish().unwrap());
    case.db
        .ok(&["--config", &case.config(), "run", "--stage", "load"]);
    assert_eq!(
        case.db.scalar::<i64>("SELECT count(*) FROM orders").await,
        9
    );
}

#[tokio::test]
async fn a_line_of_empty_fields() {
    let case = Case::new().await;
    case.append_line(PRODUCTS, b",,,,,,,,");
    case.rejected(PRODUCTS, 5, "product_id is empty (a value is required)")
        .await;
}

#[tokio::test]
async fn a_nul_byte() {
    let case = Case::new().await;
    case.append_line(PRODUCTS, b"\"px\",ar\0tes,1,1,1,1,1,1,1");
    case.rejected(
        PRODUCTS,
        5,
        "malformed CSV record: the line contains a NUL byte",
    )
    .await;
    let raw: String = case.db.scalar("SELECT raw_line FROM rejected_rows").await;
    assert_eq!(raw, "\"px\",ar\u{FFFD}tes,1,1,1,1,1,1,1");
}

#[tokio::test]
async fn a_shifted_column() {
    let case = Case::new().await;
    case.append_line(CUSTOMERS, b"\"cx1\",\"ux\",sao paulo,SP,");
    case.rejected(
        CUSTOMERS,
        11,
        "customer_zip_code_prefix \"sao paulo\" is not a postal code prefix (digits only)",
    )
    .await;
}

#[tokio::test]
async fn an_order_whose_customer_is_missing() {
    let case = Case::new().await;
    case.append_line(
        ORDERS,
        b"\"ox\",\"nobody\",delivered,2017-03-02 10:00:00,,,,",
    );
    case.rejected(ORDERS, 11, "customer_id \"nobody\" is not in customers")
        .await;
}

#[tokio::test]
async fn an_item_whose_product_is_missing() {
    let case = Case::new().await;
    case.append_line(
        ITEMS,
        b"\"oa1\",3,\"nothing\",\"s1\",2017-03-03 09:00:00,1.00,1.00",
    );
    case.rejected(ITEMS, 11, "product_id \"nothing\" is not in products")
        .await;
}

#[tokio::test]
async fn an_exact_duplicate_is_counted_not_rejected() {
    let case = Case::new().await;
    case.append_line(ORDERS, b"\"oa1\",\"ca1\",delivered,2017-03-01 09:00:00,,,,");
    case.db
        .ok(&["--config", &case.config(), "run", "--stage", "load"]);
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM rejected_rows")
            .await,
        0
    );
    assert_eq!(
        case.db.scalar::<i64>("SELECT count(*) FROM orders").await,
        9
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT rows_duplicate FROM pipeline_runs WHERE stage_name = 'load'")
            .await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Hardening: inputs and operators that tried to break it.

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Runs the binary against `db` with `envs` added, and kills it (failing the test) if it has not
/// ended within two minutes: some of these inputs used to keep it reading forever.
fn run_bounded(db: &TestDb, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(args)
        .current_dir(common::repo())
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .env_remove("PIPELINE_DATA_DIR")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("pipeline {args:?} did not end within two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Asserts a usage error: exit 2, `message` on stderr, no panic.
fn usage_error(out: &std::process::Output, message: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_gzip_file_of_several_members_is_read_whole() {
    let case = Case::new().await;
    let content = std::fs::read(case.path(ORDERS)).unwrap();
    // Boundaries inside the header, inside a data line and right after a line end.
    let line_end = content.iter().rposition(|&b| b == b'\n').unwrap() - 40;
    let line_end = line_end
        + content[line_end..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        + 1;
    let cuts = [0, 17, content.len() / 2 + 3, line_end, content.len()];
    let mut gz = Vec::new();
    for pair in cuts.windows(2) {
        gz.extend(gzip(&content[pair[0]..pair[1]]));
    }
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    case.write(&format!("{ORDERS}.gz"), &gz);
    case.db
        .ok(&["--config", &case.config(), "run", "--stage", "load"]);
    assert_eq!(
        case.db.scalar::<i64>("SELECT count(*) FROM orders").await,
        9
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM rejected_rows")
            .await,
        0
    );
}

#[tokio::test]
async fn data_after_the_last_gzip_member() {
    let case = Case::new().await;
    let content = std::fs::read(case.path(ORDERS)).unwrap();
    let (first, second) = content.split_at(300);
    let mut gz = gzip(first);
    gz.extend(gzip(second));
    gz.extend_from_slice(b"\n-- appended by mistake --\n");
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    case.write(&format!("{ORDERS}.gz"), &gz);
    case.fatal(
        "olist_orders_dataset.csv.gz: cannot read after line 10: the data after gzip member 2 is not a gzip member (it starts with byte 0x0a); the file has trailing garbage",
    )
    .await;
}

#[tokio::test]
async fn prices_at_the_limit_aggregate_without_overflow() {
    let case = Case::new().await;
    // 118 more items at the largest accepted price and freight in one order of person ua (more than
    // numeric(14,2) holds in one day), and 60 more in ua's later order (the lifetime grows past it).
    for id in 3..=120 {
        case.append_line(
            ITEMS,
            format!("\"oa1\",{id},\"p1\",\"s1\",2017-03-03 09:00:00,9999999999.99,9999999999.99")
                .as_bytes(),
        );
    }
    for id in 1..=60 {
        case.append_line(
            ITEMS,
            format!("\"oa4\",{id},\"p2\",\"s2\",2017-03-07 09:00:00,9999999999.99,9999999999.99")
                .as_bytes(),
        );
    }
    case.db.ok(&["--config", &case.config(), "run"]);
    let mut conn = case.db.connect().await;
    let rows: Vec<(String, i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT stat_date::text, items_count, items_value::text, freight_value::text, total_spent::text,
                avg_order_value::text, lifetime_spent::text
           FROM customer_daily_stats WHERE customer_unique_id = 'ua' ORDER BY stat_date",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let row = |day: &str, items, values: [&str; 5]| {
        (
            day.to_owned(),
            items,
            values[0].to_owned(),
            values[1].to_owned(),
            values[2].to_owned(),
            values[3].to_owned(),
            values[4].to_owned(),
        )
    };
    assert_eq!(
        rows,
        vec![
            row(
                "2017-03-01",
                121,
                [
                    "1180000000038.82",
                    "1180000000002.82",
                    "2360000000041.64",
                    "1180000000020.82",
                    "2360000000041.64"
                ]
            ),
            row(
                "2017-03-05",
                60,
                [
                    "599999999999.40",
                    "599999999999.40",
                    "1199999999998.80",
                    "1199999999998.80",
                    "3560000000040.44"
                ]
            ),
        ]
    );
    let csv = case.db.ok(&[
        "--config",
        &case.config(),
        "stats",
        "--date",
        "2017-03-01",
        "--format",
        "csv",
    ]);
    assert!(csv.contains(",2360000000041.64,"), "{csv}");
    case.db
        .ok(&["--config", &case.config(), "top-customers", "--limit", "1"]);
}

#[tokio::test]
async fn concurrent_first_runs_create_and_migrate_the_database_once() {
    let case = Case::new().await;
    // The database does not exist yet: every process finds it missing.
    let mut admin = sqlx::PgConnection::connect(&common::admin_url())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {}",
        case.db.name
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let config = case.config();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = case.db.url.clone();
            let config = config.clone();
            std::thread::spawn(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
                    .args(["--config", &config, "run"])
                    .current_dir(common::repo())
                    .env("DATABASE_URL", url)
                    .env("RUST_LOG", "warn")
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(
        case.db.scalar::<i64>("SELECT count(*) FROM orders").await,
        9
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM seaql_migrations")
            .await,
        case.db
            .scalar::<i64>("SELECT count(DISTINCT version) FROM seaql_migrations")
            .await
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM pipeline_runs WHERE status <> 'succeeded'")
            .await,
        0
    );
}

#[tokio::test]
async fn escape_sequences_in_the_data_reach_no_terminal() {
    let case = Case::new().await;
    let evil = "sao paulo\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m";
    let content = std::fs::read_to_string(case.path(CUSTOMERS))
        .unwrap()
        .replace(
            "\"ca1\",\"ua\",\"01001\",sao paulo,SP",
            &format!("\"ca1\",\"ua\",\"01001\",\"{evil}\",SP"),
        )
        .replace(
            "\"ca4\",\"ua\",\"13000\",campinas,SP",
            &format!("\"ca4\",\"ua\",\"13000\",\"{evil}\",SP"),
        );
    case.write(CUSTOMERS, content.as_bytes());
    case.db.ok(&["--config", &case.config(), "run"]);
    let table = case.db.ok(&["--config", &case.config(), "top-customers"]);
    assert!(
        !table.chars().any(|c| c.is_control() && c != '\n'),
        "{table:?}"
    );
    assert!(
        table.contains("sao paulo\\x1b]0;owned\\x07\\x1b[2J\\x9b31m"),
        "{table}"
    );
    // CSV and JSON stay faithful.
    let csv = case.db.ok(&[
        "--config",
        &case.config(),
        "top-customers",
        "--format",
        "csv",
    ]);
    assert!(csv.contains(evil), "{csv:?}");
    let json = case.db.ok(&[
        "--config",
        &case.config(),
        "top-customers",
        "--format",
        "json",
    ]);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ua = parsed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer_unique_id"] == "ua")
        .unwrap();
    assert_eq!(ua["city"], evil);
}

#[tokio::test]
async fn a_leap_second() {
    let case = Case::new().await;
    case.append_line(ORDERS, b"\"ox\",\"cd1\",delivered,2016-12-31 23:59:60,,,,");
    case.rejected(
        ORDERS,
        11,
        "order_purchase_timestamp \"2016-12-31 23:59:60\" is a leap second (second 60), which would be stored as the next minute, possibly of the next day",
    )
    .await;
}

#[allow(
    clippy::too_many_lines,
    reason = "one case per option, in a table read top to bottom"
)]
#[tokio::test]
async fn numbers_out_of_range_are_usage_errors_not_panics() {
    let case = Case::new().await;
    let config = case.config();
    for (args, message) in [
        (
            vec![
                "stats",
                "--date",
                "2017-03-01",
                "--limit",
                "9223372036854775808",
            ],
            "invalid value '9223372036854775808' for '--limit <N>'",
        ),
        (
            vec!["top-customers", "--limit", "18446744073709551616"],
            "invalid value '18446744073709551616' for '--limit <N>'",
        ),
        (
            vec!["run", "--date", "+262142-12-31"],
            "invalid value '+262142-12-31' for '--date <YYYY-MM-DD>': +262142-12-31 is not between 0001-01-01 and 9999-12-31",
        ),
        (
            vec!["run", "--range", "2017-01-01..+262142-12-31"],
            "for '--range <A..B>'",
        ),
        (
            vec![
                "generate",
                "--out",
                "/nonexistent/x",
                "--orders",
                "10",
                "--days",
                "4294967295",
            ],
            "invalid value '4294967295' for '--days <K>'",
        ),
        (
            vec![
                "generate",
                "--out",
                "/nonexistent/x",
                "--orders",
                "10",
                "--start",
                "9999-12-01",
            ],
            "--start 9999-12-01 --days 730: the history would run past 9999-12-31",
        ),
        (
            vec![
                "generate",
                "--out",
                "/nonexistent/x",
                "--orders",
                "10",
                "--start",
                "1999-12-31",
            ],
            "--start 1999-12-31: the history must not start before 2000-01-01",
        ),
        (
            vec![
                "generate",
                "--out",
                "/nonexistent/x",
                "--orders",
                "10",
                "--defect-rate",
                "NaN",
            ],
            "invalid value 'NaN' for '--defect-rate <R>'",
        ),
    ] {
        let mut full = vec!["--config", config.as_str()];
        full.extend(args.iter().copied());
        usage_error(&run_bounded(&case.db, &full, &[]), message);
    }
    // Nothing reached the database, not even a ledger row.
    assert_eq!(
        case.db
            .scalar::<i64>(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'pipeline_runs'"
            )
            .await,
        0
    );
    let text = std::fs::read_to_string(&config).unwrap();
    for (after, option, message) in [
        (
            "type = \"validate\"",
            "planned_days_ahead = 4294967295",
            "stages[1] \"validate\" (validate): planned_days_ahead: must be at most 36500, got 4294967295",
        ),
        (
            "type = \"csv_extract\"",
            "batch_size = 100000000000",
            "stages[0] \"extract\" (csv_extract): batch_size: must be between 1 and 1000000, got 100000000000",
        ),
    ] {
        std::fs::write(&config, text.replace(after, &format!("{after}\n{option}"))).unwrap();
        usage_error(
            &run_bounded(&case.db, &["--config", &config, "run"], &[]),
            message,
        );
    }
}

#[tokio::test]
async fn a_named_pipe_or_a_device_in_place_of_a_file() {
    let case = Case::new().await;
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(case.path(ORDERS))
        .status()
        .unwrap();
    assert!(status.success());
    let config = case.config();
    for command in ["run", "validate"] {
        let out = run_bounded(&case.db, &["--config", &config, command], &[]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            text(&out.stderr).contains(
                "olist_orders_dataset.csv: not a regular file (a named pipe); only regular files and .gz of them are read"
            ),
            "{}",
            text(&out.stderr)
        );
    }
    std::fs::remove_file(case.path(ORDERS)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", case.path(ORDERS)).unwrap();
    for command in ["run", "validate"] {
        let out = run_bounded(&case.db, &["--config", &config, command], &[]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            text(&out.stderr).contains("not a regular file (a character device)"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM customers")
            .await,
        0
    );
}

#[tokio::test]
async fn a_header_without_a_newline() {
    let case = Case::new().await;
    case.write(PRODUCTS, &vec![b'a'; 3 * 1024 * 1024]);
    case.fatal(
        "olist_products_dataset.csv: header line is longer than max_line_bytes (1048576); is this a CSV file?",
    )
    .await;
}

#[tokio::test]
async fn latest_in_the_space_form_of_the_shipped_example() {
    let case = Case::new().await;
    let config_dir = case.dir.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = common::write_config(
        &config_dir,
        case.dir.path(),
        "max_reject_ratio = 1.0\nlatest = \"2017-03-05 11:00:00\"",
        "",
    );
    let out = case.db.ok(&[
        "--config",
        config.to_str().unwrap(),
        "run",
        "--stage",
        "load",
    ]);
    assert!(out.contains("orders"), "{out}");
    let reason: String = case
        .db
        .scalar("SELECT reason FROM rejected_rows WHERE dataset = 'orders'")
        .await;
    assert_eq!(
        reason,
        "order_purchase_timestamp \"2017-03-05 12:00:00\" is later than 2017-03-05 11:00:00"
    );
}

#[tokio::test]
async fn misleading_configuration_messages_point_the_right_way() {
    let case = Case::new().await;
    let config_dir = case.dir.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = common::write_config(&config_dir, case.dir.path(), "", "customer_key = \"email\"");
    let config = config.to_str().unwrap();
    let out = run_bounded(&case.db, &["--config", config, "run"], &[]);
    usage_error(
        &out,
        "stages[3] \"customer_daily_stats\" (customer_daily_stats): customer_key: unknown variant \"email\", expected \"customer_unique_id\" or \"customer_id\"",
    );
    assert!(!text(&out.stderr).contains("unknown stage type"));

    let good = case.config();
    usage_error(
        &run_bounded(
            &case.db,
            &["--config", &good, "status"],
            &[("PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS", "soon")],
        ),
        "error: environment variable PIPELINE_DATABASE__CONNECT_TIMEOUT_SECS: invalid type: found string \"soon\", expected u64",
    );
    let out = run_bounded(
        &case.db,
        &["--config", &good, "status"],
        &[("DATABASE_URL", "postgres://shop:hunter2@db:port/shop")],
    );
    usage_error(
        &out,
        "error: environment variable DATABASE_URL: database.url: not a PostgreSQL URL",
    );
    assert!(!text(&out.stderr).contains("hunter2"));
}

#[tokio::test]
async fn a_toml_syntax_error_on_the_url_line_hides_the_password() {
    let case = Case::new().await;
    let config = case.config();
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text_before}\n[database]\nurl = \"postgres://shop:hunter2@db.example:5432/shop\" # ok\"\nurl2 = \n"),
    )
    .unwrap();
    let out = run_bounded(&case.db, &["--config", &config, "status"], &[]);
    usage_error(&out, "TOML parse error");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    std::fs::write(
        &config,
        format!(
            "{text_before}\n[database]\nurl = \"postgres://shop:hunter2@db.example:5432/shop\" x\n"
        ),
    )
    .unwrap();
    let out = run_bounded(&case.db, &["--config", &config, "status"], &[]);
    usage_error(&out, "postgres://shop:***@db.example:5432/shop");
    assert!(!text(&out.stderr).contains("hunter2"));
}

#[tokio::test]
async fn two_stages_writing_customer_daily_stats() {
    let case = Case::new().await;
    let config = case.config();
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text_before}\n[[stages]]\nname = \"per_order\"\ntype = \"customer_daily_stats\"\ncustomer_key = \"customer_id\"\n"),
    )
    .unwrap();
    usage_error(
        &run_bounded(&case.db, &["--config", &config, "run"], &[]),
        "stages: stages[3] \"customer_daily_stats\", stages[4] \"per_order\" all write the table customer_daily_stats, so each would overwrite the others' rows; declare one",
    );
}

/// A role with read rights only, dropped with everything granted to it at the end of the test.
struct ReadOnlyRole {
    name: String,
    db_url: String,
}

impl ReadOnlyRole {
    async fn new(db: &TestDb) -> Self {
        let name = format!("{}_reader", db.name);
        let mut admin = sqlx::PgConnection::connect(&common::admin_url())
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {name} LOGIN PASSWORD 'reader'"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        Self {
            name,
            db_url: db.url.clone(),
        }
    }

    /// Grants reading every table of `db` as it is now.
    async fn grant(&self, db: &TestDb) {
        let mut conn = db.connect().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }

    /// The test database's URL with this role as the user.
    fn url(&self) -> String {
        let (scheme, rest) = self.db_url.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        format!("{scheme}://{}:reader@{host}", self.name)
    }
}

impl Drop for ReadOnlyRole {
    fn drop(&mut self) {
        let (name, db_url) = (self.name.clone(), self.db_url.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&db_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP OWNED BY {name}")))
                        .execute(&mut conn)
                        .await;
                }
                if let Ok(mut admin) = sqlx::PgConnection::connect(&common::admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn a_read_only_role_runs_the_read_commands_and_never_migrates() {
    let case = Case::new().await;
    let reader = ReadOnlyRole::new(&case.db).await;
    let config = case.config();
    let url = reader.url();
    let read_commands: [&[&str]; 4] = [
        &["stats", "--date", "2017-03-01"],
        &["status"],
        &["top-customers"],
        &["repeaters"],
    ];
    // A database never migrated: the read commands say so and change nothing.
    for command in read_commands {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        let out = run_bounded(&case.db, &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(
            text(&out.stderr).contains("run `pipeline migrate`"),
            "{command:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        case.db
            .scalar::<i64>(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            .await,
        0
    );
    case.db.ok(&["--config", &config, "run"]);
    reader.grant(&case.db).await;
    for command in read_commands {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        let out = run_bounded(&case.db, &args, &[("DATABASE_URL", &url)]);
        assert!(out.status.success(), "{command:?}: {}", text(&out.stderr));
    }
    // A schema behind this version: told to migrate, and nothing is migrated.
    let mut conn = case.db.connect().await;
    sqlx::query(
        "DELETE FROM seaql_migrations WHERE version = (SELECT max(version) FROM seaql_migrations)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let before: i64 = case
        .db
        .scalar("SELECT count(*) FROM seaql_migrations")
        .await;
    let out = run_bounded(
        &case.db,
        &["--config", &config, "status"],
        &[("DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("1 migration pending")
            && text(&out.stderr).contains("run `pipeline migrate`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        case.db
            .scalar::<i64>("SELECT count(*) FROM seaql_migrations")
            .await,
        before
    );
}
