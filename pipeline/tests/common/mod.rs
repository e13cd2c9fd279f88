//! Shared helpers of the integration tests: a fresh `PostgreSQL` database per test (dropped after),
//! and the built `pipeline` binary run against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub mod chromium;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod replay;

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

    /// The exit code of `status --check` under `config`.
    pub fn status_check(&self, config: &str) -> Option<i32> {
        self.run(&["--config", config, "status", "--check"])
            .status
            .code()
    }

    /// `status --format json` under `config`.
    pub fn status_json(&self, config: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["--config", config, "status", "--format", "json"])).unwrap()
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

    /// The checksums of the four shop tables, in load order.
    pub async fn shop_checksums(&self) -> Vec<String> {
        let mut sums = Vec::new();
        for table in ["customers", "products", "orders", "order_items"] {
            sums.push(self.checksum(&format!("SELECT * FROM {table}")).await);
        }
        sums
    }

    /// Checksum of every data table (without ledger columns).
    pub async fn data_checksum(&self) -> String {
        let mut parts = self.shop_checksums().await;
        parts.push(self.checksum(&stats_columns()).await);
        parts.join(",")
    }
}

/// The stats table without the columns that say which run wrote a row; the columns come from the
/// entity, in its order.
pub fn stats_columns() -> String {
    use sea_orm::{IdenStatic, Iterable};
    use stages::entities::customer_daily_stats::Column;
    let columns: Vec<&str> = Column::iter()
        .filter(|c| !matches!(c, Column::RunId | Column::ComputedAt))
        .map(|c| c.as_str())
        .collect();
    format!("SELECT {} FROM customer_daily_stats", columns.join(", "))
}

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
            });
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

/// The pipeline at `config` with `deletes = "snapshot"` on its load, written beside it as
/// `snapshot.toml`.
pub fn snapshot_config(config: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap().replace(
        "type = \"postgres_load\"\n",
        "type = \"postgres_load\"\ndeletes = \"snapshot\"\n",
    );
    let snapshot = config.with_file_name("snapshot.toml");
    std::fs::write(&snapshot, text).unwrap();
    snapshot
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

/// Every row `customer_daily_stats` should hold, computed from scratch over the loaded tables with
/// the default options, written independently of the stage's SQL (the lifetime columns from a
/// self-join of each person's days instead of window functions): the reference the daily-operation
/// tests compare the stored rows with.
pub const FRESH_STATS_SQL: &str = "
WITH order_totals AS (
    SELECT order_id, count(*) AS items, sum(price) AS val, sum(freight_value) AS fr
      FROM order_items GROUP BY order_id
),
po AS (
    SELECT c.customer_unique_id AS person, o.order_id, o.order_purchase_timestamp AS ts,
           o.order_purchase_timestamp::date AS day,
           o.order_status IN ('canceled', 'unavailable') AS excluded,
           coalesce(t.items, 0) AS items, coalesce(t.val, 0) AS val, coalesce(t.fr, 0) AS fr
      FROM orders o
      JOIN customers c ON c.customer_id = o.customer_id
      LEFT JOIN order_totals t ON t.order_id = o.order_id
),
pd AS (
    SELECT person, day, count(*) AS orders_count, count(*) FILTER (WHERE excluded) AS canceled,
           coalesce(sum(items) FILTER (WHERE NOT excluded), 0) AS items,
           coalesce(sum(val) FILTER (WHERE NOT excluded), 0) AS val,
           coalesce(sum(fr) FILTER (WHERE NOT excluded), 0) AS fr,
           min(ts) AS first_at, max(ts) AS last_at
      FROM po GROUP BY person, day
),
kinds AS (
    SELECT po.person, po.day, count(DISTINCT i.product_id) AS products, count(DISTINCT i.seller_id) AS sellers
      FROM po JOIN order_items i ON i.order_id = po.order_id
     WHERE NOT po.excluded GROUP BY po.person, po.day
),
life AS (
    SELECT a.person, a.day, sum(b.orders_count) AS lifetime_orders, sum(b.val + b.fr) AS lifetime_spent,
           min(b.day) AS first_day, max(b.day) FILTER (WHERE b.day < a.day) AS previous_day
      FROM pd a JOIN pd b ON b.person = a.person AND b.day <= a.day
     GROUP BY a.person, a.day
)
SELECT pd.day, pd.person, pd.orders_count, pd.canceled, pd.items, coalesce(k.products, 0),
       coalesce(k.sellers, 0), pd.val::numeric(14,2), pd.fr::numeric(14,2), (pd.val + pd.fr)::numeric(14,2),
       CASE WHEN pd.orders_count > pd.canceled
            THEN round((pd.val + pd.fr) / (pd.orders_count - pd.canceled), 2)::numeric(14,2) END,
       pd.first_at, pd.last_at, l.lifetime_orders, l.lifetime_spent::numeric(14,2), l.first_day,
       pd.day - l.previous_day, l.lifetime_orders >= 2
  FROM pd
  JOIN life l ON l.person = pd.person AND l.day = pd.day
  LEFT JOIN kinds k ON k.person = pd.person AND k.day = pd.day";

/// The days the `customer_daily_stats` stage recorded as computed.
const COMPUTED_DAYS: &str =
    "SELECT day FROM aggregate_days WHERE stage_name = 'customer_daily_stats'";

impl TestDb {
    /// Panics unless every day recorded as computed holds exactly the rows a fresh computation gives,
    /// and no other day holds rows. `case` says what led here.
    pub async fn assert_fresh(&self, case: &str) {
        self.assert_fresh_keyed_by("customer_unique_id", case).await;
    }

    /// [`TestDb::assert_fresh`] for a stage whose `customer_key` is `key`.
    pub async fn assert_fresh_keyed_by(&self, key: &str, case: &str) {
        let fresh_sql = match key {
            "customer_id" => FRESH_STATS_SQL.replace(
                "SELECT c.customer_unique_id AS person,",
                "SELECT o.customer_id AS person,",
            ),
            _ => FRESH_STATS_SQL.to_owned(),
        };
        let stored = format!(
            "SELECT s.* FROM ({}) s WHERE s.stat_date IN ({COMPUTED_DAYS})",
            stats_columns()
        );
        let fresh = format!("SELECT f.* FROM ({fresh_sql}) f WHERE f.day IN ({COMPUTED_DAYS})");
        let q = |sql: &str| format!("SELECT t::text FROM ({sql}) t ORDER BY 1");
        let mut conn = self.connect().await;
        let stored_rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(q(&stored)))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let fresh_rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(q(&fresh)))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let stray: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM customer_daily_stats WHERE stat_date NOT IN ({COMPUTED_DAYS})"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        if stored_rows != fresh_rows {
            let only_stored: Vec<&String> = stored_rows
                .iter()
                .filter(|r| !fresh_rows.contains(r))
                .collect();
            let only_fresh: Vec<&String> = fresh_rows
                .iter()
                .filter(|r| !stored_rows.contains(r))
                .collect();
            panic!(
                "{case}: stored rows differ from a fresh computation\n  only stored: {only_stored:#?}\n  only fresh: {only_fresh:#?}"
            );
        }
        assert_eq!(stray, 0, "{case}: rows on days not recorded as computed");
    }
}

/// The four files of a shop as CSV records, to edit like a shop's system would between exports.
#[derive(Clone, Debug)]
pub struct Shop {
    /// `olist_customers_dataset.csv`, header first.
    pub customers: Vec<Vec<String>>,
    /// `olist_products_dataset.csv`, header first.
    pub products: Vec<Vec<String>>,
    /// `olist_orders_dataset.csv`, header first.
    pub orders: Vec<Vec<String>>,
    /// `olist_order_items_dataset.csv`, header first.
    pub items: Vec<Vec<String>>,
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn write_csv(path: &Path, rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

impl Shop {
    /// Reads the four files of `dir`.
    pub fn read(dir: &Path) -> Self {
        Self {
            customers: read_csv(&dir.join("olist_customers_dataset.csv")),
            products: read_csv(&dir.join("olist_products_dataset.csv")),
            orders: read_csv(&dir.join("olist_orders_dataset.csv")),
            items: read_csv(&dir.join("olist_order_items_dataset.csv")),
        }
    }

    /// Writes the four files into `dir`, replacing what is there.
    pub fn write(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        write_csv(&dir.join("olist_customers_dataset.csv"), &self.customers);
        write_csv(&dir.join("olist_products_dataset.csv"), &self.products);
        write_csv(&dir.join("olist_orders_dataset.csv"), &self.orders);
        write_csv(&dir.join("olist_order_items_dataset.csv"), &self.items);
    }

    /// The person (`customer_unique_id`) of `customer_id`.
    pub fn person_of(&self, customer_id: &str) -> Option<String> {
        self.customers
            .iter()
            .skip(1)
            .find(|c| c[0] == customer_id)
            .map(|c| c[1].clone())
    }

    /// The purchase day of an order row.
    pub fn day_of(order: &[String]) -> chrono::NaiveDate {
        order[3][..10].parse().unwrap()
    }
}

/// One random change a shop's system could make to its export.
pub fn random_edit(shop: &mut Shop, rng: &mut impl rand::Rng) -> String {
    use rand::seq::SliceRandom;
    let orders = shop.orders.len() - 1;
    let items = shop.items.len() - 1;
    match rng.gen_range(0..6) {
        0 => {
            let i = rng.gen_range(1..=items);
            let price: f64 = shop.items[i][5].parse().unwrap();
            shop.items[i][5] = format!("{:.2}", price + f64::from(rng.gen_range(1..50)));
            format!("price of item {:?}", &shop.items[i][..2])
        }
        1 => {
            let i = rng.gen_range(1..=orders);
            let status = ["canceled", "delivered", "unavailable", "shipped"]
                .choose(rng)
                .unwrap();
            shop.orders[i][2] = (*status).to_owned();
            format!("status of {} to {status}", shop.orders[i][0])
        }
        2 => {
            let a = rng.gen_range(1..shop.customers.len());
            let b = rng.gen_range(1..shop.customers.len());
            let person = shop.customers[b][1].clone();
            shop.customers[a][1] = person.clone();
            format!("customer {} to person {person}", shop.customers[a][0])
        }
        3 => {
            let i = rng.gen_range(1..=orders);
            let day = Shop::day_of(&shop.orders[i]);
            let shift = rng.gen_range(-5i64..=5);
            let new_day = day + chrono::Duration::days(shift);
            let rest = shop.orders[i][3][10..].to_owned();
            shop.orders[i][3] = format!("{new_day}{rest}");
            for field in &mut shop.orders[i][4..] {
                field.clear();
            }
            format!("purchase of {} moved {shift} days", shop.orders[i][0])
        }
        4 => {
            // A new order of an existing customer id, on a random past day, with one item.
            let c = rng.gen_range(1..shop.customers.len());
            let donor = rng.gen_range(1..=items);
            let day = Shop::day_of(&shop.orders[rng.gen_range(1..=orders)]);
            let id = format!("{:032x}", rng.r#gen::<u128>());
            let customer = shop.customers[c][0].clone();
            shop.orders.push(vec![
                id.clone(),
                customer,
                "delivered".into(),
                format!("{day} 12:00:00"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            let mut item = shop.items[donor].clone();
            item[0] = id.clone();
            item[1] = "1".into();
            shop.items.push(item);
            format!("new order {id} on {day}")
        }
        _ => {
            // Another item in an existing order.
            let i = rng.gen_range(1..=orders);
            let order = shop.orders[i][0].clone();
            let next = shop.items[1..]
                .iter()
                .filter(|it| it[0] == order)
                .map(|it| it[1].parse::<i64>().unwrap())
                .max()
                .unwrap_or(0)
                + 1;
            let mut item = shop.items[rng.gen_range(1..=items)].clone();
            item[0] = order.clone();
            item[1] = next.to_string();
            shop.items.push(item);
            format!("item {next} added to {order}")
        }
    }
}

/// The stored rows, without the run's columns, as sorted text.
pub async fn stored_rows(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect().await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT t::text FROM ({}) t ORDER BY 1",
        stats_columns()
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Panics with the differing rows unless `a` (computed by `engine`) and `b` (by `PostgreSQL`) are
/// equal.
pub fn assert_same_rows(a: &[String], b: &[String], engine: &str, case: &str) {
    if a != b {
        let only_a: Vec<&String> = a.iter().filter(|r| !b.contains(r)).take(10).collect();
        let only_b: Vec<&String> = b.iter().filter(|r| !a.contains(r)).take(10).collect();
        panic!(
            "{case}: the engines differ\n  only {engine}: {only_a:#?}\n  only postgres: {only_b:#?}"
        );
    }
}

/// Makes sure the shop holds every edge case the engines must agree on.
pub fn add_edge_cases(shop: &mut Shop) {
    let orders = shop.orders.len();
    // Canceled and unavailable orders, with their items (which count in no money).
    shop.orders[1][2] = "canceled".into();
    shop.orders[2][2] = "unavailable".into();
    // A day with orders but no items: the order's items removed.
    let bare = shop.orders[3][0].clone();
    shop.items.retain(|item| item[0] != bare);
    // Cents that do not divide evenly over the orders of a day (the average's rounding).
    for item in shop.items.iter_mut().skip(1).take(40) {
        item[5] = "10.01".into();
        item[6] = "0.02".into();
    }
    // A person with many customer ids, on several days: five customers become one person.
    let person = shop.person_of(&shop.orders[orders - 1][1]).unwrap();
    for order in [4, orders / 3, orders / 2, orders - 2, orders - 3] {
        let customer = shop.orders[order][1].clone();
        for c in &mut shop.customers[1..] {
            if c[0] == customer {
                c[1] = person.clone();
            }
        }
    }
}
