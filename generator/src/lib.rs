//! Synthetic shop data in the Olist layout (`pipeline generate`).
//!
//! [`generate`] writes the four CSV files of the public Olist e-commerce export
//! (customers, orders, order items, products) with the original file names,
//! headers (including the misspelt `product_name_lenght` /
//! `product_description_lenght`) and quoting style, plus `manifest.json`. The
//! file names, the columns and the order statuses are those the pipeline reads
//! ([`olist`]).
//!
//! # Format
//!
//! * Header fields are all quoted; lines end with LF; the file ends with LF.
//! * Ids are 32 lowercase hex characters. Like the original export, an id is
//!   quoted when its first character is a digit and bare when it is a letter.
//!   Zip prefixes are always quoted (5 digits with leading zeros); city, state,
//!   category, status, numbers and timestamps are never quoted. No field ever
//!   contains a comma, a quote or a line break.
//! * Timestamps are `YYYY-MM-DD HH:MM:SS`; optional ones are empty when the
//!   event has not happened. `order_estimated_delivery_date` is at `00:00:00`.
//! * Prices and freight have two decimals.
//!
//! # Shape
//!
//! Orders are spread over `days` days from `start` with growth, a weekly
//! rhythm, a Black-Friday spike and empty days (mostly early on). Every order
//! gets its own `customer_id` (one customers line per order); about 3 % of the
//! people (`customer_unique_id`) come back, some on the same day. About 97 % of
//! the orders are delivered, under 1 % have no items, and there are about 1.14
//! items per order with heavy-tailed prices.
//!
//! # Determinism and memory
//!
//! The same options give the same bytes on the same platform: the data comes
//! from a `ChaCha8` stream seeded with `seed` and the defects from a second,
//! independent stream, so the clean content does not depend on `defect_rate`.
//! Orders, customers and items are streamed; only the products, sellers, a
//! queue of returning people and a few recent lines are kept in memory.
//! Defect entries are spilled to temporary files in `out` while generating.
//!
//! # Defects and manifest
//!
//! With `defect_rate` R > 0 about R of the lines of each file carry exactly one
//! defect. `manifest.json` (always written) lists every line a correct
//! validator rejects plus every exact duplicate, as
//! `{"file":..,"line":..,"kind":..}` where `line` is the 1-based physical line
//! (header = line 1). Rules the manifest assumes (checked in this order; every
//! injected line violates exactly one of them):
//!
//! 1. `field_count`: the line must have the header's number of fields.
//! 2. `missing_required`: non-empty `customer_id`, `customer_unique_id`,
//!    `product_id`, `order_id`, `order_status`, `order_purchase_timestamp`,
//!    `order_item_id`, `seller_id`, `price`, `freight_value`. Everything else
//!    may be empty (products lack category and some numbers in clean data).
//! 3. `bad_timestamp` / `timestamp_out_of_window`: a non-empty timestamp must
//!    parse as `%Y-%m-%d %H:%M:%S` and lie in 2000-01-01 00:00:00 ..= now.
//!    `bad_status`: status in the eight Olist values
//!    ([`ORDER_STATUSES`](olist::ORDER_STATUSES)). `bad_number`: price and
//!    freight parse as a number >= 0 (0.00 freight occurs in clean data).
//!    `bad_integer`: `order_item_id` and non-empty product integers parse as
//!    integers.
//! 4. `exact_duplicate`: the line equals an earlier loaded line of the file
//!    (counted as duplicate, not rejected). Checked before the key rule.
//! 5. `conflicting_duplicate`: same key as an earlier loaded line (keys:
//!    `customer_id`; `product_id`; `order_id`; (`order_id`, `order_item_id`)).
//! 6. `orphan_reference`: an order's `customer_id` is in no customers line, an
//!    item's `order_id` is in no orders line or its `product_id` in no products
//!    line. `item_of_rejected_order`: an item whose `order_id` is not loaded but
//!    appears as the first field of a rejected orders line.
//!
//! Defective customers and products are always extra lines nobody references,
//! so no knock-on rejects arise from them. A defective order is corrupted in
//! place (its `order_id`, the first field, is never touched); each item of it
//! is then recorded as `item_of_rejected_order` and gets no other defect.
//! Duplicate defects add an extra line right after a valid line.

mod defects;
mod format;
mod random;
mod records;
mod shop;
mod sink;
mod tables;

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use chrono::NaiveDate;
use serde::Serialize;

use crate::shop::Gen;

/// File name of the defect manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Options of one generation run.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Number of orders (data lines of the orders file before duplicates).
    pub orders: u64,
    /// Seed of the random streams.
    pub seed: u64,
    /// First purchase day (must not be before 2000-01-01).
    pub start: NaiveDate,
    /// Number of days orders are spread over (at least 1).
    pub days: u32,
    /// Share of lines per file that get one defect, in `[0, 1]`.
    pub defect_rate: f64,
}

impl GenerateOptions {
    /// Options with the CLI defaults: seed 42, start 2016-09-04, 730 days, no defects.
    pub fn new(out: impl Into<PathBuf>, orders: u64) -> Self {
        Self {
            out: out.into(),
            orders,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2016, 9, 4).expect("valid date"),
            days: 730,
            defect_rate: 0.0,
        }
    }
}

/// The most orders one call generates.
pub const MAX_ORDERS: u64 = 1_000_000_000;
/// The most days of history (a century).
pub const MAX_DAYS: u32 = 36_500;

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GenerateSummary {
    /// Data lines of the customers file (defective lines included).
    pub customers: u64,
    /// Data lines of the orders file (defective and duplicate lines included).
    pub orders: u64,
    /// Data lines of the order items file (defective lines included).
    pub order_items: u64,
    /// Data lines of the products file (defective lines included).
    pub products: u64,
    /// Entries of the manifest's defect list (all files, knock-ons included).
    pub defects: u64,
}

/// Writes the four CSV files and `manifest.json` into `opts.out`.
///
/// Existing files of the same names are overwritten.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let rate = opts.defect_rate;
    ensure!(
        rate.is_finite() && (0.0..=1.0).contains(&rate),
        "defect_rate must be within 0..=1, got {rate}"
    );
    ensure!(
        (1..=MAX_DAYS).contains(&opts.days),
        "days must be between 1 and {MAX_DAYS}, got {}",
        opts.days
    );
    ensure!(
        opts.orders <= MAX_ORDERS,
        "orders must be at most {MAX_ORDERS}, got {}",
        opts.orders
    );
    let min_start = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
    if opts.start < min_start {
        bail!("start {} is before 2000-01-01", opts.start);
    }
    fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;

    let mut g = Gen::new(opts)?;
    g.write_products()?;
    g.write_orders()?;
    g.finish()
}
