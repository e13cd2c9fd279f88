//! `deletes = "snapshot"`: the rules of what a full export deletes, each against a first load of
//! the same export into an empty database (what the tables must equal), and what it never deletes.
//! The day-by-day replay is in `daily.rs`.

mod common;

use std::path::{Path, PathBuf};

use common::{Shop, TestDb, generated, snapshot_config, text, write_config};

/// A snapshot pipeline reading `data` (`snapshot.toml`) and the plain one (`pipeline.toml`).
fn configs(dir: &Path, data: &Path) -> (PathBuf, PathBuf) {
    // A fresh load of an export whose items name a dropped product rejects those lines: more of
    // them than the default ratio allows in a small shop.
    let plain = write_config(dir, data, "max_reject_ratio = 0.5", "");
    (snapshot_config(&plain), plain)
}

/// Panics unless `db`'s tables equal a first load of the files in `data` under `plain`, and its
/// statistics a fresh computation over them.
async fn assert_equals_a_fresh_load(db: &TestDb, plain: &str, case: &str) {
    let fresh = TestDb::new().await;
    fresh.ok(&["--config", plain, "run", "--stage", "load"]);
    assert_eq!(
        db.shop_checksums().await,
        fresh.shop_checksums().await,
        "{case}: the tables differ from a fresh load"
    );
    db.assert_fresh(case).await;
}

fn shop(db: &TestDb) -> (tempfile::TempDir, PathBuf, Shop) {
    let (dir, data) = generated(
        db,
        &[
            "--orders",
            "300",
            "--days",
            "20",
            "--start",
            "2017-03-01",
            "--seed",
            "5",
        ],
    );
    let shop = Shop::read(&data);
    (dir, data, shop)
}

#[tokio::test]
async fn a_rejected_line_keeps_its_row_and_a_line_without_a_readable_key_keeps_every_row() {
    let db = TestDb::new().await;
    let (dir, data, mut shop) = shop(&db);
    let (snapshot, _) = configs(dir.path(), &data);
    let snapshot = snapshot.to_str().unwrap();
    db.ok(&["--config", snapshot, "run"]);

    // Order 1's line turns bad (its key still readable): its stored row stays. Order 2 leaves the
    // export with its items: it goes.
    let (kept, gone) = (shop.orders[1][0].clone(), shop.orders[2][0].clone());
    shop.orders[1][2] = "lost_in_the_mail".to_owned();
    shop.orders.remove(2);
    shop.items.retain(|i| i[0] != gone);
    shop.write(&data);
    let out = db.ok(&["--config", snapshot, "run", "--format", "json"]);
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    let orders = &record["datasets"][2];
    assert_eq!(orders["dataset"], "orders");
    assert_eq!(
        (orders["rejected"].as_u64(), orders["deleted"].as_u64()),
        (Some(1), Some(1))
    );
    let count = |order: &str| format!("SELECT count(*) FROM orders WHERE order_id = '{order}'");
    assert_eq!(db.scalar::<i64>(&count(&kept)).await, 1);
    assert_eq!(db.scalar::<i64>(&count(&gone)).await, 0);
    db.assert_fresh("after a bad line and a removed order")
        .await;

    // A line whose key cannot be read (not valid UTF-8) could be any order: nothing of the table
    // is deleted for lacking from the file, and the run says so.
    let third = shop.orders[2][0].clone();
    shop.orders.remove(2);
    shop.items.retain(|i| i[0] != third);
    shop.write(&data);
    let orders_file = data.join("olist_orders_dataset.csv");
    let mut bytes = std::fs::read(&orders_file).unwrap();
    bytes.extend_from_slice(b"\xff\xfe,broken\n");
    std::fs::write(&orders_file, bytes).unwrap();
    let out = db.run(&["--config", snapshot, "run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no row of orders is deleted for lacking from the file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(db.scalar::<i64>(&count(&third)).await, 1);
    db.assert_fresh("after a line without a readable key").await;
}

#[tokio::test]
async fn a_product_dropped_under_an_unchanged_items_file_takes_its_items_and_gives_them_back() {
    let db = TestDb::new().await;
    let (dir, data, shop) = shop(&db);
    let (snapshot, plain) = configs(dir.path(), &data);
    let (snapshot, plain) = (snapshot.to_str().unwrap(), plain.to_str().unwrap());
    // Written as the edits below write them, so that an unedited file keeps its bytes.
    shop.write(&data);
    db.ok(&["--config", snapshot, "run"]);

    // The product of the first item leaves the catalog; the items file stays as it is (not read
    // again), yet the stored items of that product go with it, as a fresh load would reject them.
    let product = shop.items[1][2].clone();
    let mut without = shop.clone();
    without.products.retain(|p| p[0] != product);
    without.write(&data);
    // A popular product of a small shop: more than the guard's 5% of the items, refused until
    // allowed.
    let refused = db.run(&["--config", snapshot, "run"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("olist_order_items_dataset.csv: would delete"),
        "{}",
        text(&refused.stderr)
    );
    let out = db.ok(&[
        "--config",
        snapshot,
        "run",
        "--allow-deletes",
        "--format",
        "json",
    ]);
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = &record["datasets"][3];
    assert_eq!(items["dataset"], "order_items");
    assert!(items["unchanged_since_run"].is_i64(), "{items}");
    assert!(items["deleted"].as_u64().unwrap() >= 1, "{items}");
    assert_equals_a_fresh_load(&db, plain, "the product dropped").await;

    // The product comes back: the items file, unchanged all along, is read again and its items
    // return.
    shop.write(&data);
    let out = db.ok(&["--config", snapshot, "run", "--format", "json"]);
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        record["datasets"][3]["unchanged_since_run"].is_null(),
        "{out}"
    );
    assert_equals_a_fresh_load(&db, plain, "the product back").await;
}

#[tokio::test]
async fn a_customer_remapped_away_from_a_deleted_customer_keeps_the_order() {
    let db = TestDb::new().await;
    let (dir, data, mut shop) = shop(&db);
    let (snapshot, plain) = configs(dir.path(), &data);
    let (snapshot, plain) = (snapshot.to_str().unwrap(), plain.to_str().unwrap());
    db.ok(&["--config", snapshot, "run"]);

    // Customer A leaves the export; A's order now names customer B: the order is updated, not
    // deleted. Customer C leaves with its order still naming it: that order is rejected in the
    // file and deleted from the table, with its items.
    let (a, b, c) = (
        shop.orders[1][1].clone(),
        shop.orders[2][1].clone(),
        shop.orders[3][1].clone(),
    );
    let (a_order, c_order) = (shop.orders[1][0].clone(), shop.orders[3][0].clone());
    shop.customers.retain(|row| row[0] != a && row[0] != c);
    shop.orders[1][1] = b.clone();
    shop.write(&data);
    let out = db.run(&["--config", snapshot, "run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let customer_of =
        |order: &str| format!("SELECT max(customer_id) FROM orders WHERE order_id = '{order}'");
    assert_eq!(
        db.scalar::<Option<String>>(&customer_of(&a_order)).await,
        Some(b)
    );
    assert_eq!(
        db.scalar::<Option<String>>(&customer_of(&c_order)).await,
        None
    );
    // C's order line did not change: it is rejected because its customer goes, as a fresh load
    // rejects it.
    assert_eq!(
        db.scalar::<Option<String>>(&format!(
            "SELECT max(reason) FROM rejected_rows WHERE dataset = 'orders' AND raw_line LIKE '%{c_order}%'"
        ))
        .await,
        Some(format!("customer_id \"{c}\" is not in customers"))
    );
    assert_equals_a_fresh_load(&db, plain, "customers dropped").await;
}
