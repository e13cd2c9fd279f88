//! `pipeline erase`: the person is gone from every table (found by scanning every text and jsonb
//! column of the database, not a list kept by hand), other people's rows are as they were, the
//! aggregates equal a fresh computation, a later export still holding the person loads nothing of
//! theirs, a dry run writes nothing, and a process killed inside the erase leaves nothing erased.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Shop, TestDb, generated, stats_columns, text, write_config};
use rust_decimal::Decimal;
use sqlx::Connection;

/// The pipeline with `product_daily_stats` declared beside the customer aggregate.
const PRODUCTS_STAGE: &str = "\n[[stages]]\nname = \"products\"\ntype = \"product_daily_stats\"\n";

/// A generated shop, loaded and computed, with two extra lines of the person that the load
/// rejects (so their raw text is in `rejected_rows`): a conflicting copy of one of their customer
/// lines, and an order of theirs with an unknown status. Returns the database, the directory (kept
/// alive), the data directory, the config, and the person erased later with their ids.
struct Setup {
    db: TestDb,
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: String,
    person: Ids,
}

/// The ids of a person.
#[derive(Clone, Debug)]
struct Ids {
    person: String,
    customer_ids: Vec<String>,
    order_ids: Vec<String>,
}

impl Ids {
    fn all(&self) -> Vec<String> {
        std::iter::once(self.person.clone())
            .chain(self.customer_ids.iter().cloned())
            .chain(self.order_ids.iter().cloned())
            .collect()
    }
}

/// The person with the most customer ids (ties: the first), who must have at least two.
fn person_with_most_customer_ids(shop: &Shop) -> Ids {
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in shop.customers.iter().skip(1) {
        ids.entry(c[1].clone()).or_default().push(c[0].clone());
    }
    let (person, customer_ids) = ids.into_iter().max_by_key(|(_, cids)| cids.len()).unwrap();
    assert!(customer_ids.len() >= 2, "the shop has no repeat customer");
    let order_ids = shop
        .orders
        .iter()
        .skip(1)
        .filter(|o| customer_ids.contains(&o[1]))
        .map(|o| o[0].clone())
        .collect();
    Ids {
        person,
        customer_ids,
        order_ids,
    }
}

async fn setup() -> Setup {
    let db = TestDb::new().await;
    let (dir, data) = generated(&db, &["--orders", "600", "--seed", "23"]);
    let mut shop = Shop::read(&data);
    let person = person_with_most_customer_ids(&shop);
    let mut conflicting = shop
        .customers
        .iter()
        .find(|c| c[0] == person.customer_ids[0])
        .unwrap()
        .clone();
    conflicting[3] = "elsewhere".to_owned();
    shop.customers.push(conflicting);
    let mut bad_order = shop
        .orders
        .iter()
        .find(|o| o[0] == person.order_ids[0])
        .unwrap()
        .clone();
    bad_order[0] = "erase0test0order".to_owned();
    bad_order[2] = "lost".to_owned();
    shop.orders.push(bad_order);
    shop.write(&data);
    let config = write_config(dir.path(), &data, "", PRODUCTS_STAGE);
    let config = config.to_str().unwrap().to_owned();
    db.ok(&["--config", &config, "run"]);
    let kept: i64 = db.scalar("SELECT count(*) FROM rejected_rows").await;
    assert_eq!(kept, 2, "the person's two bad lines are rejected");
    Setup {
        db,
        _dir: dir,
        data,
        config,
        person,
    }
}

/// Every row of every table, each table's rows in order: what a write anywhere changes.
async fn database_checksum(db: &TestDb) -> String {
    let tables: Vec<String> = {
        let mut conn = db.connect().await;
        let tables = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        tables
    };
    let mut parts = Vec::new();
    for table in tables {
        parts.push(format!(
            "{table}:{}",
            db.checksum(&format!("SELECT * FROM {table}")).await
        ));
    }
    parts.join(",")
}

/// Where any of `ids` occurs: `table.column` of every text, varchar and jsonb column of the
/// database (cast to text), with the count of rows holding one.
async fn occurrences(db: &TestDb, ids: &[String]) -> Vec<String> {
    let mut conn = db.connect().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
          WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json')
          ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(columns.len() > 20, "{columns:?}");
    let mut found = Vec::new();
    for (table, column) in columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} t WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) id WHERE strpos(t.{column}::text, id) > 0)"
        )))
        .bind(ids)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if n > 0 {
            found.push(format!("{table}.{column}: {n}"));
        }
    }
    conn.close().await.ok();
    found
}

/// The rows of other people: the shop's tables and `customer_daily_stats` without the person's
/// rows (the run columns left out).
async fn others_checksum(db: &TestDb, ids: &Ids) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (cids, oids) = (list(&ids.customer_ids), list(&ids.order_ids));
    let mut parts = Vec::new();
    for sql in [
        format!(
            "SELECT * FROM customers WHERE customer_unique_id <> '{}'",
            ids.person
        ),
        format!("SELECT * FROM orders WHERE customer_id NOT IN ({cids})"),
        format!("SELECT * FROM order_items WHERE order_id NOT IN ({oids})"),
        "SELECT * FROM products".to_owned(),
        format!(
            "SELECT s.* FROM ({}) s WHERE s.customer_unique_id <> '{}'",
            stats_columns(),
            ids.person
        ),
    ] {
        parts.push(db.checksum(&sql).await);
    }
    parts.join(",")
}

/// `product_daily_stats` as stored, and as a fresh computation over the computed days.
async fn products_stored_and_fresh(db: &TestDb) -> (String, String) {
    let stored = db
        .checksum(
            "SELECT stat_date, product_id, orders_count, items_count, items_value, freight_value, customers_count
               FROM product_daily_stats",
        )
        .await;
    let fresh = db
        .checksum(
            "SELECT o.order_purchase_timestamp::date, i.product_id, count(DISTINCT o.order_id), count(*),
                    sum(i.price)::numeric(28,2), sum(i.freight_value)::numeric(28,2), count(DISTINCT c.customer_unique_id)
               FROM orders o JOIN order_items i ON i.order_id = o.order_id
               JOIN customers c ON c.customer_id = o.customer_id
              WHERE o.order_status NOT IN ('canceled', 'unavailable')
                AND o.order_purchase_timestamp::date IN (SELECT day FROM aggregate_days WHERE stage_name = 'products')
              GROUP BY 1, 2",
        )
        .await;
    (stored, fresh)
}

/// The report's daily orders and revenue, by day.
fn report_daily(db: &TestDb, config: &str) -> BTreeMap<String, (i64, Decimal)> {
    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "report", "--format", "json"])).unwrap();
    json["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_owned(),
                (
                    d["orders"].as_i64().unwrap(),
                    d["revenue"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect()
}

/// The person's stored daily rows: orders and `total_spent` by day.
async fn person_daily(db: &TestDb, person: &str) -> BTreeMap<String, (i64, Decimal)> {
    let mut conn = db.connect().await;
    let rows: Vec<(String, i64, Decimal)> = sqlx::query_as(
        "SELECT stat_date::text, orders_count, total_spent FROM customer_daily_stats WHERE customer_unique_id = $1",
    )
    .bind(person)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    rows.into_iter().map(|(d, o, t)| (d, (o, t))).collect()
}

fn erase_json(db: &TestDb, config: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", config, "erase", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&db.ok(&all)).unwrap()
}

/// Kept whole: one scenario, each step checking what the one before it did.
#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn erase_removes_the_person_from_every_table_and_nothing_else() {
    let s = setup().await;
    let (db, config, ids) = (&s.db, s.config.as_str(), &s.person);
    assert!(!occurrences(db, &ids.all()).await.is_empty());
    let others = others_checksum(db, ids).await;
    let report_before = report_daily(db, config);
    let theirs = person_daily(db, &ids.person).await;
    assert!(!theirs.is_empty());

    let out = erase_json(
        db,
        config,
        &[
            "--customer-id",
            &ids.customer_ids[1],
            "--reason",
            "LGPD request 17",
        ],
    );
    assert_eq!(out["status"], "erased");
    assert_eq!(
        out["rows_removed"]["customers"],
        ids.customer_ids.len() as u64
    );
    assert_eq!(out["rows_removed"]["orders"], ids.order_ids.len() as u64);
    assert_eq!(out["rows_removed"]["rejected_rows"], 2);
    assert_eq!(
        out["rows_removed"]["customer_daily_stats"],
        theirs.len() as u64
    );
    assert!(
        !out["days_recomputed"]["products"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Nowhere, in any table or column.
    assert_eq!(occurrences(db, &ids.all()).await, Vec::<String>::new());
    // Everyone else as before, and every aggregate equal to a fresh computation.
    assert_eq!(others_checksum(db, ids).await, others);
    db.assert_fresh("after the erase").await;
    let (stored, fresh) = products_stored_and_fresh(db).await;
    assert_eq!(
        stored, fresh,
        "product_daily_stats differs from a fresh computation"
    );
    let recorded_rows: i64 = db
        .scalar("SELECT sum(rows)::bigint FROM aggregate_days WHERE stage_name = 'customer_daily_stats'")
        .await;
    let rows: i64 = db.scalar("SELECT count(*) FROM customer_daily_stats").await;
    assert_eq!(
        recorded_rows, rows,
        "aggregate_days.rows follows the deletes"
    );
    assert_eq!(db.status_check(config), Some(0), "every day still fresh");

    // The report's totals moved by exactly the person's amounts.
    let report_after = report_daily(db, config);
    for (day, (orders, revenue)) in &report_before {
        let (theirs_orders, theirs_revenue) = theirs.get(day).copied().unwrap_or_default();
        let after = report_after.get(day).copied().unwrap_or_default();
        assert_eq!(
            after,
            (orders - theirs_orders, *revenue - theirs_revenue),
            "{day}"
        );
    }

    // What stays: the audit row and the hashes, no id.
    let hashed: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM erasures WHERE key_kind = 'customer_id' AND key_hash = encode(sha256('{}'::bytea), 'hex') AND reason = 'LGPD request 17'",
            ids.customer_ids[1]
        ))
        .await;
    assert_eq!(hashed, 1);
    let listed: i64 = db.scalar("SELECT count(*) FROM erased_keys").await;
    assert_eq!(listed, ids.all().len() as i64);
    let status = db.status_json(config);
    assert_eq!(status["erasures"]["people_erased"], 1);
    assert_eq!(status["erasures"]["last"]["reason"], "LGPD request 17");

    // Again: already erased, by either key; an unknown id fails and writes nothing.
    let again = erase_json(db, config, &["--person", &ids.person]);
    assert_eq!(again["status"], "already_erased");
    let before = database_checksum(db).await;
    let unknown = db.run(&["--config", config, "erase", "--person", "nobody_at_all"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("--person nobody_at_all: no such customer_unique_id"),
        "{}",
        text(&unknown.stderr)
    );
    assert_eq!(database_checksum(db).await, before);
    let usage = db.run(&["--config", config, "erase"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn a_later_export_still_holding_the_person_loads_nothing_of_theirs() {
    let s = setup().await;
    let (db, config, ids) = (&s.db, s.config.as_str(), &s.person);
    erase_json(db, config, &["--person", &ids.person]);
    let others = others_checksum(db, ids).await;

    // The same export, plus a new order of one of their customer ids whose customer line is gone,
    // with an item: skipped through the listed customer id, and its order id.
    let mut shop = Shop::read(&s.data);
    shop.customers.retain(|c| c[0] != ids.customer_ids[0]);
    let mut order = shop
        .orders
        .iter()
        .find(|o| o[1] == ids.customer_ids[0])
        .unwrap()
        .clone();
    order[0] = "erase0new0order".to_owned();
    shop.orders.push(order);
    let mut item = shop.items[1].clone();
    item[0] = "erase0new0order".to_owned();
    shop.items.push(item);
    shop.write(&s.data);
    let run: serde_json::Value =
        serde_json::from_str(&db.ok(&["--config", config, "run", "--format", "json"])).unwrap();
    let erased = |dataset: &str| {
        run["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dataset"] == dataset)
            .unwrap()["erased"]
            .as_u64()
            .unwrap()
    };
    let items = shop
        .items
        .iter()
        .filter(|i| ids.order_ids.contains(&i[0]))
        .count() as u64;
    // The customer lines of the person but the first customer id's (and its conflicting copy).
    assert_eq!(erased("customers"), ids.customer_ids.len() as u64 - 1);
    // Their orders, the one with a bad status (rejected by the row rules) and the new one.
    assert_eq!(erased("orders"), ids.order_ids.len() as u64 + 2);
    assert_eq!(erased("order_items"), items + 1);
    assert_eq!(erased("products"), 0);
    for dataset in run["datasets"].as_array().unwrap() {
        assert_eq!(
            dataset["read"].as_u64(),
            ["loaded", "duplicate", "rejected", "erased"]
                .iter()
                .map(|k| dataset[k].as_u64().unwrap())
                .sum::<u64>()
                .into(),
            "{dataset}"
        );
        assert_eq!(dataset["rejected"], 0, "{dataset}");
    }
    let mut all = ids.all();
    all.push("erase0new0order".to_owned());
    assert_eq!(occurrences(db, &all).await, Vec::<String>::new());
    assert_eq!(others_checksum(db, ids).await, others);
    db.assert_fresh("after the later load").await;
    // The new order id is listed too.
    let listed: i64 = db
        .scalar("SELECT count(*) FROM erased_keys WHERE kind = 'order_id' AND key_hash = erasure_hash('erase0new0order')")
        .await;
    assert_eq!(listed, 1);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_says_what_the_erase_removes() {
    let s = setup().await;
    let (db, config, ids) = (&s.db, s.config.as_str(), &s.person);
    let before = database_checksum(db).await;
    let dry = erase_json(db, config, &["--person", &ids.person, "--dry-run"]);
    assert_eq!(dry["status"], "dry_run");
    assert_eq!(database_checksum(db).await, before, "the dry run wrote");
    let real = erase_json(db, config, &["--person", &ids.person]);
    assert_eq!(real["status"], "erased");
    assert_eq!(dry["rows_removed"], real["rows_removed"]);
    assert_eq!(dry["days_recomputed"], real["days_recomputed"]);
    assert!(real["rows_total"].as_u64().unwrap() > 0);
}

/// Waits until the erase of `db` waits for a lock while writing its audit row: everything else of
/// it is done, uncommitted.
async fn wait_for_the_audit_insert(db: &TestDb) {
    for _ in 0..400 {
        let waiting: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event_type = 'Lock'
                    AND query LIKE 'INSERT INTO erasures%'",
                db.name
            ))
            .await;
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the erase never reached its audit row");
}

#[tokio::test]
async fn killing_the_erase_inside_its_transaction_erases_nothing() {
    let s = setup().await;
    let (db, config, ids) = (&s.db, s.config.as_str(), &s.person);
    let before = database_checksum(db).await;
    // Another session holds the audit table, so the erase stops inside its transaction, after
    // every delete and recomputation.
    let mut holder = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE erasures IN EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["--config", config, "erase", "--person", &ids.person])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_the_audit_insert(db).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.ok();
    // The server ends the killed client's session (and rolls its transaction back) once it notices.
    for _ in 0..200 {
        let left: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                db.name
            ))
            .await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing erased, the ledger row aside (left running until the next start closes it).
    let data_tables = |c: String| {
        c.split(',')
            .filter(|p| !p.starts_with("pipeline_runs:"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(
        data_tables(database_checksum(db).await),
        data_tables(before)
    );
    // The next erase closes the dead one's ledger row and erases everything.
    let out = erase_json(db, config, &["--person", &ids.person]);
    assert_eq!(out["status"], "erased");
    assert_eq!(occurrences(db, &ids.all()).await, Vec::<String>::new());
    let failed: i64 = db
        .scalar("SELECT count(*) FROM pipeline_runs WHERE kind = 'erase' AND status = 'failed' AND error LIKE 'interrupted%'")
        .await;
    assert_eq!(failed, 1);
}
