//! `engine = "datafusion"` against `engine = "postgres"`: on the same loaded tables, both leave
//! `customer_daily_stats` equal in every row and column, under both customer keys, for backfills,
//! daily runs with late changes and full refreshes, edge cases included (canceled and unavailable
//! orders, days without items, cents, a person with many customer ids). Switching the engine marks
//! no day stale, and a computation that fails half way leaves every day as it was.

#![cfg(feature = "datafusion")]

mod common;

use std::path::Path;

use chrono::NaiveDate;
use common::Shop;
use common::{
    TestDb, add_edge_cases, assert_same_rows, generated, random_edit, repo, stored_rows,
    write_config,
};
use rand::{Rng, SeedableRng};

/// A config of the default stages over `data`, the statistics keyed by `key` and computed by
/// `engine`.
fn config(dir: &Path, data: &Path, key: &str, engine: &str) -> String {
    write_config(
        dir,
        data,
        "",
        &format!("customer_key = \"{key}\"\nengine = \"{engine}\""),
    )
    .to_str()
    .unwrap()
    .to_owned()
}

/// Recomputes every day with `engine` (`--full-refresh` of the aggregate) and returns the rows.
async fn full_refresh(
    db: &TestDb,
    dir: &Path,
    data: &Path,
    key: &str,
    engine: &str,
) -> Vec<String> {
    let config = config(dir, data, key, engine);
    db.ok(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--full-refresh",
    ]);
    stored_rows(db).await
}

#[tokio::test]
async fn the_sample_gives_the_same_rows_under_both_engines_and_both_keys() {
    for key in ["customer_unique_id", "customer_id"] {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut shop = Shop::read(&repo().join("datasets/sample"));
        add_edge_cases(&mut shop);
        shop.write(&data);
        let postgres = config(dir.path(), &data, key, "postgres");
        db.ok(&["--config", &postgres, "run"]);
        let by_postgres = stored_rows(&db).await;
        assert!(by_postgres.len() > 1000);
        db.assert_fresh_keyed_by(key, key).await;

        // The engine is a tuning option: switching it leaves every day fresh.
        let datafusion = config(dir.path(), &data, key, "datafusion");
        assert_eq!(db.status_check(&datafusion), Some(0), "{key}");
        let by_datafusion = full_refresh(&db, dir.path(), &data, key, "datafusion").await;
        assert_same_rows(&by_datafusion, &by_postgres, "datafusion", key);
        db.assert_fresh_keyed_by(key, key).await;
        let computed_by: i64 = db
            .scalar("SELECT count(DISTINCT run_id) FROM customer_daily_stats")
            .await;
        assert_eq!(computed_by, 1, "one run wrote every row");
    }
}

/// Money the loader refuses but the tables can hold (an analyst's `UPDATE`): negative prices and
/// days that total zero, for repeat customers too. The in-process statement's running totals sum
/// the positive and the negative parts apart; both engines give the same lifetime columns.
#[tokio::test]
async fn negative_and_zero_money_give_the_same_rows_under_both_engines() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut shop = Shop::read(&repo().join("datasets/sample"));
    add_edge_cases(&mut shop);
    shop.write(&data);
    let key = "customer_unique_id";
    let postgres = config(dir.path(), &data, key, "postgres");
    db.ok(&["--config", &postgres, "run"]);
    let mut conn = db.connect().await;
    for change in [
        "UPDATE order_items SET price = -price - 1 WHERE abs(hashtext(order_id)) % 3 = 0",
        "UPDATE order_items SET price = 0, freight_value = 0 WHERE abs(hashtext(order_id)) % 7 = 1",
    ] {
        sqlx::query(change).execute(&mut conn).await.unwrap();
    }
    let negative_repeaters: i64 = db
        .scalar(
            "SELECT count(*) FROM (SELECT c.customer_unique_id FROM orders o \
             JOIN customers c USING (customer_id) JOIN order_items i USING (order_id) \
             GROUP BY c.customer_unique_id \
             HAVING count(DISTINCT o.order_id) > 1 AND min(i.price) < 0 AND max(i.price) > 0) r",
        )
        .await;
    assert!(
        negative_repeaters > 0,
        "the case needs repeat customers with both signs"
    );
    let by_postgres = full_refresh(&db, dir.path(), &data, key, "postgres").await;
    let negative_lifetimes: i64 = db
        .scalar("SELECT count(*) FROM customer_daily_stats WHERE lifetime_spent < 0")
        .await;
    assert!(negative_lifetimes > 0);
    let by_datafusion = full_refresh(&db, dir.path(), &data, key, "datafusion").await;
    assert_same_rows(
        &by_datafusion,
        &by_postgres,
        "datafusion",
        "negative and zero money",
    );
}

/// A fresh database per engine, loaded from the same files and backfilled from scratch: the
/// first run of a history (its scope from the first day on).
#[tokio::test]
async fn a_first_backfill_gives_the_same_rows_under_both_engines() {
    let datafusion_db = TestDb::new().await;
    let (dir, data) = generated(
        &datafusion_db,
        &[
            "--orders",
            "600",
            "--days",
            "40",
            "--start",
            "2017-03-01",
            "--seed",
            "7",
        ],
    );
    let mut shop = Shop::read(&data);
    add_edge_cases(&mut shop);
    shop.write(&data);
    let mut rows = Vec::new();
    for (engine, db) in [
        ("datafusion", &datafusion_db),
        ("postgres", &TestDb::new().await),
    ] {
        let config = config(dir.path(), &data, "customer_unique_id", engine);
        db.ok(&["--config", &config, "run"]);
        db.assert_fresh(engine).await;
        rows.push(stored_rows(db).await);
    }
    assert_same_rows(&rows[0], &rows[1], "datafusion", "first backfill");
}

/// Daily runs with late changes under `engine = "datafusion"`: days computed alone (a scope that
/// starts after the first day), stale pairs recomputed, every computed day fresh after each run;
/// then a full refresh by each engine gives the same rows.
#[tokio::test]
async fn daily_runs_with_late_changes_stay_fresh_and_agree_with_postgres() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261206);
    for key in ["customer_unique_id", "customer_id"] {
        let db = TestDb::new().await;
        let (dir, data) = generated(
            &db,
            &[
                "--orders",
                "300",
                "--days",
                "25",
                "--start",
                "2017-01-01",
                "--seed",
                "11",
            ],
        );
        let config = config(dir.path(), &data, key, "datafusion");
        let mut shop = Shop::read(&data);
        add_edge_cases(&mut shop);
        shop.write(&data);
        let first = NaiveDate::from_ymd_opt(2017, 1, 1).unwrap();
        db.ok(&["--config", &config, "run", "--date", "2017-01-10"]);
        let mut history = vec![format!("keyed by {key}")];
        for step in 0..6 {
            for _ in 0..rng.gen_range(1..4) {
                history.push(random_edit(&mut shop, &mut rng));
            }
            shop.write(&data);
            let day = first + chrono::Days::new(rng.gen_range(0..28));
            history.push(format!("step {step}: run --date {day}"));
            db.ok(&["--config", &config, "run", "--date", &day.to_string()]);
            db.assert_fresh_keyed_by(key, &history.join("\n  ")).await;
        }
        db.ok(&["--config", &config, "run"]);
        db.assert_fresh_keyed_by(key, &history.join("\n  ")).await;
        let by_datafusion = full_refresh(&db, dir.path(), &data, key, "datafusion").await;
        let by_postgres = full_refresh(&db, dir.path(), &data, key, "postgres").await;
        assert_same_rows(
            &by_datafusion,
            &by_postgres,
            "datafusion",
            &history.join("\n  "),
        );
    }
}

/// The rows go back through `COPY`, in the stage's transaction: when it fails after rows were
/// sent, the transaction rolls back and every day keeps its rows and records.
#[tokio::test]
async fn a_copy_back_that_fails_half_way_leaves_every_day_as_it_was() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &repo().join("datasets/sample"),
        "customer_unique_id",
        "datafusion",
    );
    db.ok(&["--config", &config, "run"]);
    let state = "SELECT (SELECT md5(string_agg(s::text, '|' ORDER BY s::text)) FROM customer_daily_stats s), \
                 (SELECT md5(string_agg(d::text, '|' ORDER BY d::text)) FROM aggregate_days d)";
    let before: (String, String) = {
        let mut conn = db.connect().await;
        sqlx::query_as(sqlx::AssertSqlSafe(state))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    // One person's row fails its insert; the rows copied before it were already sent.
    let mut conn = db.connect().await;
    for statement in [
        "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.customer_unique_id = (SELECT max(customer_unique_id) FROM customers) THEN \
             RAISE EXCEPTION 'refused on purpose'; \
           END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_row BEFORE INSERT ON customer_daily_stats \
         FOR EACH ROW EXECUTE FUNCTION refuse_row()",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let out = db.run(&[
        "--config",
        &config,
        "run",
        "--stage",
        "customer_daily_stats",
        "--full-refresh",
    ]);
    assert!(!out.status.success());
    assert!(
        common::text(&out.stderr).contains("refused on purpose"),
        "{}",
        common::text(&out.stderr)
    );
    let after: (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(state))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(after, before);
}
