//! The bad-input catalog: one test per kind of bad input, each asserting the exact message or reason
//! and that nothing else changed. Every case starts from the `stats` fixture (9 customers, 3
//! products, 9 orders, 9 items) with one file spoilt.

mod common;

use std::io::Write;
use std::path::Path;

use common::{TestDb, copy_fixture, text, write_config};

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
