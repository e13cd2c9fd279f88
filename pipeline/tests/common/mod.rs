//! Shared helpers of the integration tests: a fresh PostgreSQL database per test (dropped after),
//! and the built `pipeline` binary run against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};

pub mod chromium;

/// The server tests create their databases on; `TEST_DATABASE_URL` overrides it.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A database that exists for one test.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// Creates a fresh, empty database.
    pub async fn new() -> Self {
        let name = format!(
            "pipeline_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("the test PostgreSQL server is reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = admin_url();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        Self { name, url }
    }

    /// A connection to it.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    /// Runs the pipeline binary with `args` against this database, from `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args(args)
            .current_dir(dir)
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .env_remove("PIPELINE_DATA_DIR")
            .output()
            .unwrap()
    }

    /// Runs the pipeline binary from the repository root.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_in(&repo(), args)
    }

    /// Runs the binary and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pipeline {args:?} failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// One scalar.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut conn = self.connect().await;
        let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        value
    }

    /// A checksum of a query's rows, to compare table states.
    pub async fn checksum(&self, sql: &str) -> String {
        self.scalar::<Option<String>>(&format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ({sql}) t"
        ))
        .await
        .unwrap_or_default()
    }

    /// Checksum of every data table (without ledger columns).
    pub async fn data_checksum(&self) -> String {
        let mut parts = Vec::new();
        for table in ["customers", "products", "orders", "order_items"] {
            parts.push(self.checksum(&format!("SELECT * FROM {table}")).await);
        }
        parts.push(self.checksum(STATS_COLUMNS).await);
        parts.join(",")
    }
}

/// The stats table without the columns that say which run wrote a row.
pub const STATS_COLUMNS: &str = "SELECT stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count, \
     distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value, first_order_at, \
     last_order_at, lifetime_orders, lifetime_spent, first_order_date, days_since_previous_order, is_repeat_customer \
     FROM customer_daily_stats";

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            })
        })
        .join();
    }
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fixture directory of the repository.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("datasets/fixtures").join(name)
}

/// Copies a fixture's files into a fresh temporary directory, for tests that change them.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// A pipeline.toml with the default stages, reading `data_dir`, with `validate_options` added to the validate stage.
pub fn write_config(
    dir: &Path,
    data_dir: &Path,
    validate_options: &str,
    stats_options: &str,
) -> PathBuf {
    let path = dir.join("pipeline.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = {:?}\n\n[[stages]]\nname = \"extract\"\ntype = \"csv_extract\"\n\n[[stages]]\nname = \"validate\"\ntype = \"validate\"\n{validate_options}\n\n[[stages]]\nname = \"load\"\ntype = \"postgres_load\"\n\n[[stages]]\nname = \"customer_daily_stats\"\ntype = \"customer_daily_stats\"\n{stats_options}\n",
            data_dir.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Generates a shop with `options` (the flags after `--out`) into `data/` of a fresh temporary
/// directory; returns the directory (kept alive by the caller) and the data path.
pub fn generated(db: &TestDb, options: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = vec!["generate", "--out", data.to_str().unwrap()];
    args.extend_from_slice(options);
    db.ok(&args);
    (dir, data)
}
