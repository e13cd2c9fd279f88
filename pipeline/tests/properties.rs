//! Properties over random small shops (the generator with random seeds, reproducible): loading the
//! same files twice equals loading them once, and per-day runs in random order equal one backfill.

mod common;

use common::{TestDb, generated, write_config};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[tokio::test]
async fn random_shops_load_idempotently_and_days_compose_into_the_backfill() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(424242);
    for _ in 0..4 {
        let seed: u64 = rng.gen_range(1..1_000_000);
        let orders: u64 = rng.gen_range(50..600);
        let days: u32 = rng.gen_range(5..40);
        let defect_rate = if rng.gen_bool(0.5) { "0.02" } else { "0" };
        let once = TestDb::new().await;
        let (dir, data) = generated(
            &once,
            &[
                "--orders",
                &orders.to_string(),
                "--days",
                &days.to_string(),
                "--seed",
                &seed.to_string(),
                "--defect-rate",
                defect_rate,
            ],
        );
        let chunk = rng.gen_range(1..10);
        let config = write_config(
            dir.path(),
            &data,
            "max_reject_ratio = 0.5",
            &format!("chunk_days = {chunk}"),
        );
        let config = config.to_str().unwrap();
        let case = format!(
            "seed {seed}, {orders} orders over {days} days, defects {defect_rate}, chunks of {chunk}"
        );

        once.ok(&["--config", config, "run"]);
        let expected = once.data_checksum().await;

        // Loading twice equals loading once.
        let twice = TestDb::new().await;
        twice.ok(&["--config", config, "run", "--stage", "load"]);
        twice.ok(&["--config", config, "run", "--stage", "load"]);
        // Per-day runs in random order equal one backfill.
        let first: chrono::NaiveDate = twice
            .scalar("SELECT min(order_purchase_timestamp)::date FROM orders")
            .await;
        let last: chrono::NaiveDate = twice
            .scalar("SELECT max(order_purchase_timestamp)::date FROM orders")
            .await;
        let mut all_days: Vec<chrono::NaiveDate> =
            first.iter_days().take_while(|d| *d <= last).collect();
        all_days.shuffle(&mut rng);
        for day in &all_days {
            twice.ok(&[
                "--config",
                config,
                "run",
                "--stage",
                "customer_daily_stats",
                "--date",
                &day.to_string(),
            ]);
        }
        assert_eq!(twice.data_checksum().await, expected, "{case}");
        assert_eq!(
            twice.checksum(&common::stats_columns()).await,
            once.checksum(&common::stats_columns()).await,
            "{case}"
        );
    }
}
