//! The generated files as a whole: determinism, format, shape, and a manifest that matches a
//! reference validator following the rules in the crate docs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

use chrono::NaiveDate;

use generator::{GenerateOptions, MANIFEST_FILE, MAX_DAYS, generate};
use olist::{Dataset, ORDER_STATUSES};

/// The data files, in the order the manifest lists them.
fn files() -> [&'static str; 4] {
    [
        Dataset::Customers,
        Dataset::Orders,
        Dataset::OrderItems,
        Dataset::Products,
    ]
    .map(Dataset::default_file)
}

fn opts(dir: &Path, orders: u64, seed: u64, rate: f64) -> GenerateOptions {
    GenerateOptions {
        seed,
        defect_rate: rate,
        ..GenerateOptions::new(dir, orders)
    }
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap()
}

/// Data lines as (physical line number, raw line).
fn data_lines(text: &str) -> Vec<(u64, &str)> {
    assert!(text.ends_with('\n'));
    assert!(!text.contains('\r'));
    text.lines()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i as u64 + 1, l))
        .collect()
}

fn fields(line: &str) -> Vec<&str> {
    line.split(',').map(|f| f.trim_matches('"')).collect()
}

fn header_len(text: &str) -> usize {
    text.lines().next().unwrap().split(',').count()
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let sa = generate(&opts(a.path(), 3000, 7, 0.05)).unwrap();
    let sb = generate(&opts(b.path(), 3000, 7, 0.05)).unwrap();
    generate(&opts(c.path(), 3000, 8, 0.05)).unwrap();
    assert_eq!(sa, sb);
    for name in files().iter().chain([&MANIFEST_FILE]) {
        assert_eq!(
            fs::read(a.path().join(name)).unwrap(),
            fs::read(b.path().join(name)).unwrap(),
            "{name}"
        );
        assert_ne!(
            fs::read(a.path().join(name)).unwrap(),
            fs::read(c.path().join(name)).unwrap(),
            "{name}"
        );
    }
    // No temporary files left behind.
    assert_eq!(fs::read_dir(a.path()).unwrap().count(), 5);
}

#[test]
fn clean_data_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 5000, 42, 0.0)).unwrap();
    assert_eq!(s.orders, 5000);
    assert_eq!(s.customers, 5000);
    assert_eq!(s.defects, 0);
    let mut keys: HashMap<&str, HashSet<String>> = HashMap::new();
    let texts: Vec<String> = files().iter().map(|f| read(dir.path(), f)).collect();
    let headers = [
        "\"customer_id\",\"customer_unique_id\",\"customer_zip_code_prefix\",\"customer_city\",\"customer_state\"\n",
        "\"order_id\",\"customer_id\",\"order_status\",\"order_purchase_timestamp\",\"order_approved_at\",\"order_delivered_carrier_date\",\"order_delivered_customer_date\",\"order_estimated_delivery_date\"\n",
        "\"order_id\",\"order_item_id\",\"product_id\",\"seller_id\",\"shipping_limit_date\",\"price\",\"freight_value\"\n",
        "\"product_id\",\"product_category_name\",\"product_name_lenght\",\"product_description_lenght\",\"product_photos_qty\",\"product_weight_g\",\"product_length_cm\",\"product_height_cm\",\"product_width_cm\"\n",
    ];
    for ((name, text), header) in files().iter().zip(&texts).zip(headers) {
        assert!(text.starts_with(header));
        let n = header_len(text);
        let set = keys.entry(name).or_default();
        for (_, line) in data_lines(text) {
            let f = fields(line);
            assert_eq!(f.len(), n, "{name}: {line}");
            let key = if *name == Dataset::OrderItems.default_file() {
                format!("{}/{}", f[0], f[1])
            } else {
                f[0].to_string()
            };
            assert!(set.insert(key), "duplicate key in {name}: {line}");
            // Quoting: ids quoted exactly when they start with a digit.
            let raw = line.split(',').next().unwrap();
            let id = raw.trim_matches('"');
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(
                raw.starts_with('"'),
                id.as_bytes()[0].is_ascii_digit(),
                "{line}"
            );
        }
    }
    let customers = &keys[Dataset::Customers.default_file()];
    let orders = &keys[Dataset::Orders.default_file()];
    let products = &keys[Dataset::Products.default_file()];
    for (_, line) in data_lines(&texts[1]) {
        let f = fields(line);
        assert!(customers.contains(f[1]), "{line}");
        assert!(f[7].ends_with(" 00:00:00"));
    }
    for (_, line) in data_lines(&texts[2]) {
        let f = fields(line);
        assert!(orders.contains(f[0]) && products.contains(f[2]), "{line}");
        let price: f64 = f[5].parse().unwrap();
        let freight: f64 = f[6].parse().unwrap();
        assert!(
            (0.85..=6735.0).contains(&price) && (0.0..=400.0).contains(&freight),
            "{line}"
        );
        assert_eq!(f[5].split('.').nth(1).unwrap().len(), 2);
    }
    for (_, line) in data_lines(&texts[0]) {
        let raw_zip = line.split(',').nth(2).unwrap();
        assert!(raw_zip.len() == 7 && raw_zip.starts_with('"') && raw_zip.ends_with('"'));
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&read(dir.path(), MANIFEST_FILE)).unwrap();
    assert_eq!(manifest["defects"].as_array().unwrap().len(), 0);
    assert_eq!(
        manifest["files"][Dataset::Orders.default_file()]["loaded"],
        5000
    );
}

#[test]
fn shape_like_the_real_shop() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 20_000, 42, 0.0)).unwrap();
    let per_order = s.order_items as f64 / s.orders as f64;
    assert!(
        (1.08..=1.20).contains(&per_order),
        "items per order {per_order}"
    );

    let customers = read(dir.path(), Dataset::Customers.default_file());
    let mut people: HashMap<&str, u32> = HashMap::new();
    for (_, line) in data_lines(&customers) {
        *people.entry(fields(line)[1]).or_default() += 1;
    }
    let repeat = people.values().filter(|&&n| n > 1).count() as f64 / people.len() as f64;
    assert!((0.015..=0.05).contains(&repeat), "repeat share {repeat}");

    let orders = read(dir.path(), Dataset::Orders.default_file());
    let mut status: HashMap<String, u64> = HashMap::new();
    let mut days: HashMap<String, u64> = HashMap::new();
    for (_, line) in data_lines(&orders) {
        let f = fields(line);
        *status.entry(f[2].to_string()).or_default() += 1;
        *days.entry(f[3][..10].to_string()).or_default() += 1;
        match f[2] {
            "delivered" => assert!(f[4..8].iter().all(|x| !x.is_empty())),
            "shipped" => assert!(!f[5].is_empty() && f[6].is_empty()),
            "created" => assert!(f[4..7].iter().all(|x| x.is_empty())),
            "invoiced" | "processing" | "approved" | "unavailable" => {
                assert!(!f[4].is_empty() && f[5].is_empty() && f[6].is_empty());
            }
            _ => assert!(f[6].is_empty()),
        }
    }
    let delivered = status["delivered"] as f64 / 20_000.0;
    assert!((0.94..=0.99).contains(&delivered), "delivered {delivered}");
    assert!(status.get("canceled").copied().unwrap_or(0) < 200);
    assert!(status.get("unavailable").copied().unwrap_or(0) < 200);
    let items = read(dir.path(), Dataset::OrderItems.default_file());
    let with_items: HashSet<&str> = data_lines(&items)
        .iter()
        .map(|(_, l)| fields(l)[0])
        .collect();
    let without = 20_000 - with_items.len();
    assert!(
        without > 0 && without < 200,
        "orders without items {without}"
    );
    // Black Friday 2017 is several times a normal Friday; some days are empty.
    let bf = days["2017-11-24"] as f64;
    let normal = days["2017-11-17"] as f64;
    assert!(bf > 2.5 * normal, "black friday {bf} vs {normal}");
    assert!(
        days.len() < 730 && days.len() > 500,
        "days with orders {}",
        days.len()
    );
    let products = read(dir.path(), Dataset::Products.default_file());
    let empty = data_lines(&products)
        .iter()
        .filter(|(_, l)| fields(l)[1].is_empty())
        .count();
    let share = empty as f64 / s.products as f64;
    assert!(
        (0.005..=0.03).contains(&share),
        "empty category share {share}"
    );
}

/// Reference validator following the rules in the module docs.
#[allow(
    clippy::too_many_lines,
    reason = "the reference validator states every rule of the module docs in one place"
)]
fn validate(dir: &Path) -> BTreeMap<(String, u64), String> {
    let mut out = BTreeMap::new();
    let now = chrono::Utc::now().naive_utc();
    let lo = NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let ts_check = |s: &str| -> Option<&'static str> {
        if s.is_empty() {
            return None;
        }
        match chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
            Err(_) => Some("bad_timestamp"),
            Ok(t) if t < lo || t > now => Some("timestamp_out_of_window"),
            Ok(_) => None,
        }
    };
    let number_ok = |s: &str| s.parse::<f64>().is_ok_and(|x| x >= 0.0);
    let int_ok = |s: &str| s.is_empty() || s.parse::<u32>().is_ok();
    let mut loaded_keys: HashMap<Dataset, HashSet<String>> = HashMap::new();
    let mut rejected_orders: HashSet<String> = HashSet::new();
    let mut any_customer: HashSet<String> = HashSet::new();
    for dataset in Dataset::LOAD_ORDER {
        let name = dataset.default_file();
        let text = read(dir, name);
        let width = header_len(&text);
        let (required, key_len): (&[usize], usize) = match dataset {
            Dataset::Customers => (&[0, 1], 1),
            Dataset::Products => (&[0], 1),
            Dataset::Orders => (&[0, 1, 2, 3], 1),
            Dataset::OrderItems => (&[0, 1, 2, 3, 5, 6], 2),
        };
        let mut seen_lines: HashSet<&str> = HashSet::new();
        let mut keys: HashSet<String> = HashSet::new();
        for (n, line) in data_lines(&text) {
            let f = fields(line);
            if dataset == Dataset::Customers && !f[0].is_empty() {
                any_customer.insert(f[0].to_string());
            }
            let kind: Option<&str> = if f.len() != width {
                Some("field_count")
            } else if required.iter().any(|&i| f[i].is_empty()) {
                Some("missing_required")
            } else {
                let fmt = match dataset {
                    Dataset::Products => {
                        (!f[2..].iter().all(|x| int_ok(x))).then_some("bad_integer")
                    }
                    Dataset::Orders => f[3..]
                        .iter()
                        .find_map(|x| ts_check(x))
                        .or_else(|| (!ORDER_STATUSES.contains(&f[2])).then_some("bad_status")),
                    Dataset::OrderItems => ts_check(f[4])
                        .or_else(|| (!(number_ok(f[5]) && number_ok(f[6]))).then_some("bad_number"))
                        .or_else(|| {
                            (!f[1].parse::<u32>().is_ok_and(|x| x >= 1)).then_some("bad_integer")
                        }),
                    Dataset::Customers => None,
                };
                let key = f[..key_len].join("/");
                fmt.or_else(|| {
                    if seen_lines.contains(line) {
                        Some("exact_duplicate")
                    } else if keys.contains(&key) {
                        Some("conflicting_duplicate")
                    } else {
                        match dataset {
                            Dataset::Orders if !loaded_keys[&Dataset::Customers].contains(f[1]) => {
                                assert!(
                                    !any_customer.contains(f[1]),
                                    "order of a rejected customer"
                                );
                                Some("orphan_reference")
                            }
                            Dataset::OrderItems
                                if !loaded_keys[&Dataset::Products].contains(f[2]) =>
                            {
                                Some("orphan_reference")
                            }
                            Dataset::OrderItems
                                if !loaded_keys[&Dataset::Orders].contains(f[0]) =>
                            {
                                if rejected_orders.contains(f[0]) {
                                    Some("item_of_rejected_order")
                                } else {
                                    Some("orphan_reference")
                                }
                            }
                            _ => None,
                        }
                    }
                })
            };
            match kind {
                None => {
                    seen_lines.insert(line);
                    keys.insert(f[..key_len].join("/"));
                }
                Some(k) => {
                    if dataset == Dataset::Orders && k != "exact_duplicate" {
                        rejected_orders.insert(f[0].to_string());
                    }
                    out.insert((name.to_string(), n), k.to_string());
                }
            }
        }
        loaded_keys.insert(dataset, keys);
    }
    out
}

#[test]
fn manifest_matches_reference_validator() {
    for (orders, rate, seed) in [
        (4000, 0.02, 42),
        (2000, 0.2, 1),
        (300, 1.0, 3),
        (500, 0.0, 5),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&opts(dir.path(), orders, seed, rate)).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&read(dir.path(), MANIFEST_FILE)).unwrap();
        assert_eq!(manifest["seed"], seed);
        assert_eq!(manifest["orders"], orders);
        let listed: BTreeMap<(String, u64), String> = manifest["defects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    (
                        d["file"].as_str().unwrap().to_string(),
                        d["line"].as_u64().unwrap(),
                    ),
                    d["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(listed.len() as u64, summary.defects);
        let expected = validate(dir.path());
        for (k, v) in &expected {
            assert_eq!(listed.get(k), Some(v), "validator finds {k:?} = {v}");
        }
        assert_eq!(listed, expected);

        for name in files() {
            let text = read(dir.path(), name);
            let lines = data_lines(&text);
            let m = &manifest["files"][name];
            let (data, loaded, dup, rej) = (
                m["data_lines"].as_u64().unwrap(),
                m["loaded"].as_u64().unwrap(),
                m["duplicate"].as_u64().unwrap(),
                m["rejected"].as_u64().unwrap(),
            );
            assert_eq!(data, lines.len() as u64);
            assert_eq!(data, loaded + dup + rej);
            let mine: Vec<_> = listed.iter().filter(|((f, _), _)| f == name).collect();
            assert_eq!(
                mine.iter().filter(|(_, k)| *k == "exact_duplicate").count() as u64,
                dup
            );
            assert_eq!(mine.len() as u64 - dup, rej);
            let width = header_len(&text);
            for ((_, n), kind) in mine {
                let line = lines[(*n - 2) as usize].1;
                match kind.as_str() {
                    "field_count" => assert_eq!(fields(line).len().abs_diff(width), 1),
                    "exact_duplicate" => {
                        assert!(lines[..(*n - 2) as usize].iter().any(|(_, l)| *l == line));
                    }
                    _ => assert_eq!(fields(line).len(), width),
                }
            }
            if rate > 0.0 && rate < 1.0 && orders >= 2000 {
                let share = (dup + rej) as f64 / data as f64;
                assert!(
                    share > rate * 0.4 && share < rate * 2.0,
                    "{name}: defect share {share} at rate {rate}"
                );
            }
        }
    }
}

#[test]
fn clean_content_does_not_depend_on_defect_rate() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&opts(a.path(), 1000, 9, 0.0)).unwrap();
    generate(&opts(b.path(), 1000, 9, 0.1)).unwrap();
    let clean = read(a.path(), Dataset::Orders.default_file());
    let dirty = read(b.path(), Dataset::Orders.default_file());
    let dirty: HashSet<&str> = dirty.lines().collect();
    let kept = clean.lines().filter(|l| dirty.contains(l)).count();
    assert!(kept > 900, "kept {kept}");
}

#[test]
fn edge_options() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(&dir.path().join("new/sub"), 0, 1, 0.0)).unwrap();
    assert_eq!((s.orders, s.customers, s.order_items), (0, 0, 0));
    let s = generate(&GenerateOptions {
        days: 1,
        ..opts(dir.path(), 50, 1, 0.5)
    })
    .unwrap();
    assert!(s.orders >= 50);
    assert!(generate(&opts(dir.path(), 10, 1, 1.5)).is_err());
    for days in [0, MAX_DAYS + 1, u32::MAX] {
        assert!(
            generate(&GenerateOptions {
                days,
                ..opts(dir.path(), 10, 1, 0.0)
            })
            .is_err()
        );
    }
    let early = NaiveDate::from_ymd_opt(1999, 12, 1).unwrap();
    assert!(
        generate(&GenerateOptions {
            start: early,
            ..opts(dir.path(), 10, 1, 0.0)
        })
        .is_err()
    );
}

/// Prints the release-mode throughput; run with
/// `cargo test --release -p generator -- --ignored --nocapture throughput`.
#[test]
#[ignore = "a measurement, run by hand in release"]
fn throughput() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [0.0, 0.02] {
        let t = std::time::Instant::now();
        let s = generate(&opts(dir.path(), 1_000_000, 42, rate)).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let bytes: u64 = files()
            .iter()
            .map(|f| fs::metadata(dir.path().join(f)).unwrap().len())
            .sum();
        println!(
            "rate {rate}: {} orders, {} items in {secs:.2} s ({:.0} orders/s, {:.0} MB/s)",
            s.orders,
            s.order_items,
            s.orders as f64 / secs,
            bytes as f64 / secs / 1e6
        );
    }
}
