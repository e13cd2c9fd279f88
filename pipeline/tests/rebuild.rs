//! A computation that replaces every row of `customer_daily_stats` (a first run, a full refresh)
//! drops the table's key and index and builds them once after writing, in its transaction, as
//! `pg_restore` does; any other computation writes through them. The keys come back exactly as the
//! migrations define them, and a reader holding the table makes the refresh keep them instead of
//! waiting.

mod common;

use common::TestDb;
use sqlx::{Connection, Executor};

/// The definition and the object id of each index of `customer_daily_stats` (its primary key's
/// included), by definition: a rebuilt index has the same definition and another id.
async fn indexes(db: &TestDb) -> Vec<(String, i64)> {
    let mut conn = db.connect().await;
    let found = sqlx::query_as(
        "SELECT pg_get_indexdef(indexrelid), indexrelid::bigint FROM pg_index
          WHERE indrelid = 'customer_daily_stats'::regclass ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    found
}

/// The primary key's definition.
async fn primary_key(db: &TestDb) -> String {
    db.scalar(
        "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conrelid = 'customer_daily_stats'::regclass AND contype = 'p'",
    )
    .await
}

fn definitions(indexes: &[(String, i64)]) -> Vec<&str> {
    indexes.iter().map(|(d, _)| d.as_str()).collect()
}

fn ids(indexes: &[(String, i64)]) -> Vec<i64> {
    indexes.iter().map(|(_, id)| *id).collect()
}

/// Asserts the indexes were built again since `before`: the migrated definitions (`migrated`) and
/// primary key (`key`), each under another id. Returns them.
async fn assert_rebuilt(
    db: &TestDb,
    migrated: &[(String, i64)],
    key: &str,
    before: &[(String, i64)],
) -> Vec<(String, i64)> {
    let now = indexes(db).await;
    assert_eq!(definitions(&now), definitions(migrated));
    assert_eq!(primary_key(db).await, key);
    for id in ids(&now) {
        assert!(!ids(before).contains(&id), "index {id} was not rebuilt");
    }
    now
}

#[tokio::test]
async fn the_keys_are_built_once_when_every_row_is_replaced_and_kept_otherwise() {
    let db = TestDb::new().await;
    db.ok(&["migrate"]);
    let migrated = indexes(&db).await;
    let key = primary_key(&db).await;
    assert_eq!(migrated.len(), 2, "{migrated:?}");

    // The first run replaces every row (there are none): the keys are built after the rows.
    db.ok(&["run"]);
    let first = assert_rebuilt(&db, &migrated, &key, &migrated).await;
    db.assert_fresh("after the first run").await;

    // One day among others: written through the keys.
    db.ok(&["run", "--date", "2017-01-20"]);
    assert_eq!(indexes(&db).await, first, "one day's run rebuilt the keys");
    db.assert_fresh("after one day's run").await;

    // A full refresh replaces every row again: rebuilt again.
    db.ok(&["run", "--stage", "customer_daily_stats", "--full-refresh"]);
    assert_rebuilt(&db, &migrated, &key, &first).await;
    db.assert_fresh("after the full refresh").await;
    // The key is a key: a row twice is refused.
    let mut conn = db.connect().await;
    let twice = conn
        .execute("INSERT INTO customer_daily_stats SELECT * FROM customer_daily_stats LIMIT 1")
        .await;
    assert!(twice.is_err(), "the rebuilt primary key took a row twice");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_reader_holding_the_table_keeps_the_keys_and_the_refresh_completes() {
    let db = TestDb::new().await;
    db.ok(&["run"]);
    let before = indexes(&db).await;
    let rows: i64 = db.scalar("SELECT count(*) FROM customer_daily_stats").await;

    // An analyst's open transaction that read the table holds its shared lock to the end.
    let mut reader = db.connect().await;
    let mut transaction = reader.begin().await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM customer_daily_stats")
        .fetch_one(&mut *transaction)
        .await
        .unwrap();
    assert_eq!(seen, rows);

    // The refresh waits for the table's exclusive lock a moment, then writes through the keys.
    let started = std::time::Instant::now();
    db.ok(&["run", "--stage", "customer_daily_stats", "--full-refresh"]);
    assert!(
        started.elapsed() < std::time::Duration::from_mins(1),
        "the refresh waited for the reader"
    );
    transaction.commit().await.unwrap();
    reader.close().await.unwrap();
    assert_eq!(
        indexes(&db).await,
        before,
        "the keys were rebuilt under a reader"
    );
    db.assert_fresh("after a refresh beside a reader").await;
}
