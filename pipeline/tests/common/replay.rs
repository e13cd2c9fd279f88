//! The daily-export replay of a generated history (tests/daily.rs, and the same replay on the
//! Ballista engine): the late changes it makes and the export of each day.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Shop, TestDb, generated, text, write_config};

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The edits of the replay, chosen from the generated shop.
pub struct Edits {
    /// Orders shown as `processing` until three days after their purchase, then with their status.
    pub settle_late: Vec<String>,
    /// Items whose price rises by 10.00 from the export of that day on (older orders of people who
    /// bought again later).
    pub price_fixes: Vec<(String, NaiveDate)>,
    /// Customer ids moved to another person from that day's export on.
    pub moves: Vec<(String, String, NaiveDate)>,
    /// An order that arrives two days after its purchase day.
    pub late_order: String,
    /// An order whose purchase day is corrected four days back from the day after it on.
    pub redated: (String, NaiveDate),
    /// A person absent from the exports from that day on (loads keep what they loaded).
    pub vanishing: (String, NaiveDate),
}

/// Makes `groups` people of three orders on different days each (a short generated history has few
/// repeat customers): the later customers' ids become the first's person.
pub fn make_repeaters(shop: &mut Shop, groups: usize) {
    let mut orders: Vec<(NaiveDate, String)> = shop.orders[1..]
        .iter()
        .map(|o| (Shop::day_of(o), o[1].clone()))
        .collect();
    orders.sort();
    let n = orders.len();
    for g in 0..groups {
        // Three orders spread over the history: early, middle and late.
        let picks = [g, n / 2 + g, n - 1 - g * 3];
        let person = shop.person_of(&orders[picks[0]].1).unwrap();
        for &p in &picks[1..] {
            let customer = orders[p].1.clone();
            for c in &mut shop.customers[1..] {
                if c[0] == customer {
                    c[1] = person.clone();
                }
            }
        }
    }
}

/// A person's orders: (purchase day, order id, customer id), oldest first.
pub type PersonOrders = Vec<(NaiveDate, String, String)>;

pub fn choose_edits(shop: &Shop) -> Edits {
    let orders = &shop.orders[1..];
    let mut days_of: BTreeMap<String, PersonOrders> = BTreeMap::new();
    for o in orders {
        let person = shop.person_of(&o[1]).unwrap();
        days_of
            .entry(person)
            .or_default()
            .push((Shop::day_of(o), o[0].clone(), o[1].clone()));
    }
    for v in days_of.values_mut() {
        v.sort();
    }
    let repeaters: Vec<(&String, &PersonOrders)> = days_of
        .iter()
        .filter(|(_, v)| v.first().map(|f| f.0) != v.last().map(|l| l.0))
        .collect();
    // People of one order early enough in the replay for the edits to arrive within it.
    let singles: Vec<(&String, &PersonOrders)> = days_of
        .iter()
        .filter(|(_, v)| v.len() == 1 && v[0].0 <= d("2017-01-15"))
        .collect();
    assert!(
        repeaters.len() >= 6 && singles.len() >= 6,
        "the generated shop has repeat customers"
    );
    let has_items = |order: &str| shop.items.iter().any(|i| i[0] == order);
    let price_fixes = repeaters
        .iter()
        .take(4)
        .filter_map(|(_, v)| {
            let first = v.iter().find(|o| has_items(&o.1))?;
            let last_day = v.last().unwrap().0;
            Some((first.1.clone(), last_day + chrono::Days::new(1)))
        })
        .collect();
    // A customer id of a repeat customer moves to another repeat customer; a single customer's only
    // id moves to another person, so that person vanishes from the data.
    let (_, mover) = repeaters[4];
    let (target, _) = repeaters[5];
    let (_, lone) = singles[0];
    let (lone_target, _) = repeaters[1];
    let moves = vec![
        (
            mover[0].2.clone(),
            target.clone(),
            mover.last().unwrap().0 + chrono::Days::new(1),
        ),
        (
            lone[0].2.clone(),
            lone_target.clone(),
            lone[0].0 + chrono::Days::new(2),
        ),
    ];
    let settle_late = orders.iter().step_by(23).map(|o| o[0].clone()).collect();
    let late_order = singles[1].1[0].1.clone();
    let redated = (singles[2].1[0].1.clone(), singles[2].1[0].0);
    let vanishing = (
        singles[3].0.clone(),
        singles[3].1[0].0 + chrono::Days::new(3),
    );
    Edits {
        settle_late,
        price_fixes,
        moves,
        late_order,
        redated,
        vanishing,
    }
}

/// The full export a shop would send at the end of `day`.
pub fn export(shop: &Shop, edits: &Edits, day: NaiveDate) -> Shop {
    let mut out = shop.clone();
    let vanished = day >= edits.vanishing.1;
    let vanished_customers: Vec<String> = shop.customers[1..]
        .iter()
        .filter(|c| vanished && c[1] == edits.vanishing.0)
        .map(|c| c[0].clone())
        .collect();
    out.customers = std::iter::once(shop.customers[0].clone())
        .chain(
            shop.customers[1..]
                .iter()
                .filter(|c| !vanished_customers.contains(&c[0]))
                .map(|c| {
                    let mut c = c.clone();
                    for (customer, person, from) in &edits.moves {
                        if c[0] == *customer && day >= *from {
                            c[1] = person.clone();
                        }
                    }
                    c
                }),
        )
        .collect();
    let mut kept_orders = Vec::new();
    out.orders = std::iter::once(shop.orders[0].clone())
        .chain(shop.orders[1..].iter().filter_map(|o| {
            let purchased = Shop::day_of(o);
            if purchased > day || vanished_customers.contains(&o[1]) {
                return None;
            }
            if o[0] == edits.late_order && day < purchased + chrono::Days::new(2) {
                return None;
            }
            let mut o = o.clone();
            if edits.settle_late.contains(&o[0]) && day < purchased + chrono::Days::new(3) {
                o[2] = "processing".to_owned();
            }
            if o[0] == edits.redated.0 && day > edits.redated.1 {
                let earlier = edits.redated.1 - chrono::Days::new(4);
                o[3] = format!("{earlier}{}", &o[3][10..]);
                // Its other timestamps stay consistent with an earlier purchase.
                for field in &mut o[4..] {
                    field.clear();
                }
            }
            kept_orders.push(o[0].clone());
            Some(o)
        }))
        .collect();
    out.items = std::iter::once(shop.items[0].clone())
        .chain(
            shop.items[1..]
                .iter()
                .filter(|i| kept_orders.contains(&i[0]))
                .map(|i| {
                    let mut i = i.clone();
                    for (order, from) in &edits.price_fixes {
                        if i[0] == *order && i[1] == "1" && day >= *from {
                            let price: f64 = i[5].parse().unwrap();
                            i[5] = format!("{:.2}", price + 10.0);
                        }
                    }
                    i
                }),
        )
        .collect();
    out
}

/// Replays 24 daily exports of a generated history with late changes, `run --date D` each day with
/// `stats_options` on the statistics stage; after every run every computed day equals a fresh
/// computation and `status --check` passes.
pub async fn replay_exports(stats_options: &str) {
    let db = TestDb::new().await;
    let (dir, base) = generated(
        &db,
        &[
            "--orders",
            "700",
            "--days",
            "30",
            "--start",
            "2017-01-01",
            "--seed",
            "11",
        ],
    );
    let mut shop = Shop::read(&base);
    make_repeaters(&mut shop, 8);
    let edits = choose_edits(&shop);
    let data = dir.path().join("daily");
    let config = write_config(dir.path(), &data, "", stats_options);
    let config = config.to_str().unwrap();
    let mut stale_seen = 0;
    for k in 0..24 {
        let day = d("2017-01-01") + chrono::Days::new(k);
        export(&shop, &edits, day).write(&data);
        let out = db.ok(&[
            "--config",
            config,
            "run",
            "--date",
            &day.to_string(),
            "--format",
            "json",
        ]);
        let record: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(record["status"], "succeeded", "{out}");
        stale_seen += record["aggregates"][0]["days_stale_count"]
            .as_u64()
            .unwrap();
        db.assert_fresh(&format!("after the export of {day}")).await;
        let check = db.run(&["--config", config, "status", "--check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "status --check after {day}:\n{}",
            text(&check.stdout)
        );
    }
    assert!(
        stale_seen >= 5,
        "only {stale_seen} stale days were recomputed"
    );
    // The person whose only customer id moved away has no rows left; the vanished person keeps the
    // rows of what was loaded (loads never delete).
    let lone = shop.person_of(&edits.moves[1].0).unwrap();
    let left: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM customer_daily_stats WHERE customer_unique_id = '{lone}'"
        ))
        .await;
    assert_eq!(left, 0);
    let kept: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM customer_daily_stats WHERE customer_unique_id = '{}'",
            edits.vanishing.0
        ))
        .await;
    assert!(kept >= 1);
}
