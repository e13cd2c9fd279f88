//! Synthetic shop data in the Olist layout (`pipeline generate`).
//!
//! [`generate`] writes the four CSV files of the public Olist e-commerce export
//! (customers, orders, order items, products) with the original file names,
//! headers (including the misspelt `product_name_lenght` /
//! `product_description_lenght`) and quoting style, plus `manifest.json`.
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
//! from a ChaCha8 stream seeded with `seed` and the defects from a second,
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
//!    `bad_status`: status in the eight Olist values. `bad_number`: price and
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

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use chrono::{Datelike, NaiveDate, Weekday};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// File name of the customers file.
pub const CUSTOMERS_FILE: &str = "olist_customers_dataset.csv";
/// File name of the orders file.
pub const ORDERS_FILE: &str = "olist_orders_dataset.csv";
/// File name of the order items file.
pub const ORDER_ITEMS_FILE: &str = "olist_order_items_dataset.csv";
/// File name of the products file.
pub const PRODUCTS_FILE: &str = "olist_products_dataset.csv";
/// File name of the defect manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

const CUSTOMERS_HEADER: &str = "\"customer_id\",\"customer_unique_id\",\"customer_zip_code_prefix\",\"customer_city\",\"customer_state\"\n";
const ORDERS_HEADER: &str = "\"order_id\",\"customer_id\",\"order_status\",\"order_purchase_timestamp\",\"order_approved_at\",\"order_delivered_carrier_date\",\"order_delivered_customer_date\",\"order_estimated_delivery_date\"\n";
const ITEMS_HEADER: &str = "\"order_id\",\"order_item_id\",\"product_id\",\"seller_id\",\"shipping_limit_date\",\"price\",\"freight_value\"\n";
const PRODUCTS_HEADER: &str = "\"product_id\",\"product_category_name\",\"product_name_lenght\",\"product_description_lenght\",\"product_photos_qty\",\"product_weight_g\",\"product_length_cm\",\"product_height_cm\",\"product_width_cm\"\n";

/// Unparseable timestamps injected as `bad_timestamp`.
const BAD_TIMESTAMPS: [&str; 3] = ["2017-13-45 25:61:00", "yesterday", "2018-02-30 12:00:00"];
/// Well-formed timestamps outside 2000-01-01 ..= now, injected as `timestamp_out_of_window`.
const OUT_OF_WINDOW: [&str; 4] = [
    "1970-01-01 00:00:00",
    "1999-12-31 23:59:59",
    "2077-08-15 07:55:36",
    "2099-12-31 23:59:59",
];
/// Statuses outside the Olist set, injected as `bad_status`.
const BAD_STATUSES: [&str; 4] = ["delivred", "lost", "returned", "pending"];
/// Non-numeric or negative amounts, injected as `bad_number`.
const BAD_NUMBERS: [&str; 4] = ["12.5x", "-3.00", "-0.01", "1.2.3"];
/// Non-integers, injected as `bad_integer`.
const BAD_INTEGERS: [&str; 3] = ["1.5", "two", "#1"];

const BUF_SIZE: usize = 1 << 20;
const RING: usize = 32;
const SECS_PER_DAY: i64 = 86_400;
/// Largest number of pending returns kept in memory.
const MAX_PENDING_RETURNS: usize = 1_000_000;

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

// ---------------------------------------------------------------------------
// Reference tables (shapes only; names are generic vocabulary).

/// State code, weight, zip prefix range, cities (most populous first).
type StateRow = (&'static str, u32, u32, u32, &'static [&'static str]);

#[rustfmt::skip]
const STATES: &[StateRow] = &[
    ("SP", 420, 1000, 19999, &["sao paulo", "campinas", "guarulhos", "sao bernardo do campo", "santo andre", "osasco", "santos", "sorocaba", "ribeirao preto", "sao jose dos campos", "jundiai", "piracicaba", "bauru", "franca", "limeira"]),
    ("RJ", 130, 20000, 28999, &["rio de janeiro", "niteroi", "sao goncalo", "duque de caxias", "nova iguacu", "petropolis", "campos dos goytacazes", "volta redonda"]),
    ("MG", 117, 30000, 39999, &["belo horizonte", "contagem", "juiz de fora", "uberlandia", "betim", "montes claros", "uberaba", "governador valadares"]),
    ("RS", 55, 90000, 99999, &["porto alegre", "caxias do sul", "canoas", "pelotas", "santa maria", "novo hamburgo"]),
    ("PR", 48, 80000, 87999, &["curitiba", "londrina", "maringa", "ponta grossa", "cascavel", "sao jose dos pinhais"]),
    ("SC", 38, 88000, 89999, &["florianopolis", "joinville", "blumenau", "sao jose", "itajai", "chapeco"]),
    ("BA", 34, 40000, 48999, &["salvador", "feira de santana", "vitoria da conquista", "camacari", "ilheus"]),
    ("DF", 23, 70000, 72799, &["brasilia"]),
    ("GO", 20, 72800, 76799, &["goiania", "aparecida de goiania", "anapolis", "rio verde"]),
    ("ES", 20, 29000, 29999, &["vitoria", "vila velha", "serra", "cariacica", "cachoeiro de itapemirim"]),
    ("PE", 17, 50000, 56999, &["recife", "jaboatao dos guararapes", "olinda", "caruaru", "petrolina"]),
    ("CE", 14, 60000, 63999, &["fortaleza", "caucaia", "juazeiro do norte", "sobral"]),
    ("PA", 11, 66000, 68899, &["belem", "ananindeua", "santarem", "maraba"]),
    ("MT", 9, 78000, 78899, &["cuiaba", "varzea grande", "rondonopolis", "sinop"]),
    ("MA", 7, 65000, 65999, &["sao luis", "imperatriz", "caxias"]),
    ("MS", 7, 79000, 79999, &["campo grande", "dourados", "tres lagoas"]),
    ("PI", 5, 64000, 64999, &["teresina", "parnaiba", "picos"]),
    ("RN", 5, 59000, 59999, &["natal", "mossoro", "parnamirim"]),
    ("PB", 5, 58000, 58999, &["joao pessoa", "campina grande", "patos"]),
    ("SE", 3, 49000, 49999, &["aracaju", "nossa senhora do socorro", "lagarto"]),
    ("AL", 3, 57000, 57999, &["maceio", "arapiraca"]),
    ("RO", 2, 76800, 76999, &["porto velho", "ji-parana"]),
    ("TO", 2, 77000, 77999, &["palmas", "araguaina"]),
    ("AM", 2, 69000, 69299, &["manaus", "parintins"]),
    ("AP", 1, 68900, 68999, &["macapa", "santana"]),
    ("AC", 1, 69900, 69999, &["rio branco", "cruzeiro do sul"]),
    ("RR", 1, 69300, 69389, &["boa vista"]),
];

/// Category name, weight, median price in reais.
const CATEGORIES: &[(&str, u32, f64)] = &[
    ("cama_mesa_banho", 30, 70.0),
    ("esporte_lazer", 29, 80.0),
    ("moveis_decoracao", 27, 75.0),
    ("beleza_saude", 25, 90.0),
    ("utilidades_domesticas", 24, 60.0),
    ("automotivo", 19, 80.0),
    ("informatica_acessorios", 17, 90.0),
    ("brinquedos", 14, 75.0),
    ("relogios_presentes", 13, 150.0),
    ("telefonia", 11, 45.0),
    ("bebes", 9, 100.0),
    ("perfumaria", 9, 75.0),
    ("papelaria", 9, 60.0),
    ("fashion_bolsas_e_acessorios", 9, 50.0),
    ("cool_stuff", 8, 120.0),
    ("ferramentas_jardim", 8, 80.0),
    ("pet_shop", 7, 70.0),
    ("eletronicos", 5, 50.0),
    ("construcao_ferramentas_construcao", 4, 100.0),
    ("eletrodomesticos", 4, 200.0),
    ("malas_acessorios", 4, 130.0),
    ("consoles_games", 3, 90.0),
    ("moveis_escritorio", 3, 150.0),
    ("instrumentos_musicais", 3, 180.0),
    ("eletroportateis", 2, 230.0),
    ("casa_construcao", 2, 110.0),
    ("livros_interesse_geral", 2, 50.0),
    ("fashion_calcados", 2, 90.0),
    ("moveis_sala", 2, 140.0),
    ("climatizacao", 1, 170.0),
    ("livros_tecnicos", 1, 70.0),
    ("telefonia_fixa", 1, 140.0),
    ("casa_conforto", 1, 90.0),
    ("alimentos_bebidas", 1, 50.0),
    ("artigos_de_natal", 1, 60.0),
    ("audio", 1, 120.0),
    ("artes", 1, 90.0),
    ("pcs", 1, 1000.0),
    ("market_place", 1, 70.0),
    ("agro_industria_e_comercio", 1, 200.0),
];

/// Relative purchase volume per hour of day.
const HOUR_WEIGHTS: [u32; 24] = [
    27, 12, 6, 3, 2, 2, 6, 13, 31, 44, 65, 69, 61, 63, 63, 64, 67, 59, 59, 61, 64, 62, 58, 38,
];

/// Relative volume Monday..Sunday.
const WEEKDAY_FACTORS: [f64; 7] = [1.15, 1.12, 1.07, 1.04, 1.0, 0.78, 0.83];

/// Cumulative items-per-order distribution (1..=6 items), per 10 000.
const ITEM_COUNT_CUM: [u32; 6] = [9000, 9760, 9895, 9948, 9972, 10_000];

/// Share of new people that come back (some orders of theirs fall after the window).
const RETURN_SHARE: f64 = 0.034;

// ---------------------------------------------------------------------------
// Small helpers.

type Id = [u8; 16];

fn new_id<R: RngCore>(rng: &mut R) -> Id {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id
}

/// Standard normal variate (Box-Muller, one half).
fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Cumulative weights for weighted picks.
struct Weighted(Vec<u32>);

impl Weighted {
    fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut acc = 0;
        Weighted(
            weights
                .into_iter()
                .map(|w| {
                    acc += w;
                    acc
                })
                .collect(),
        )
    }

    fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let total = *self.0.last().expect("non-empty table");
        let x = rng.gen_range(0..total);
        self.0.partition_point(|&c| c <= x)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_since_epoch(date: NaiveDate) -> i64 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days()
}

fn black_friday(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4)?.succ_opt()
}

// ---------------------------------------------------------------------------
// Formatting without per-field allocations.

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_id(buf: &mut Vec<u8>, id: &Id) {
    let quoted = (id[0] >> 4) < 10;
    if quoted {
        buf.push(b'"');
    }
    for &b in id {
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 15)]);
    }
    if quoted {
        buf.push(b'"');
    }
}

fn push_uint(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn push_opt_uint(buf: &mut Vec<u8>, n: Option<u32>) {
    if let Some(n) = n {
        push_uint(buf, u64::from(n));
    }
}

fn push_2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push_money(buf: &mut Vec<u8>, cents: u32) {
    push_uint(buf, u64::from(cents / 100));
    buf.push(b'.');
    push_2(buf, cents % 100);
}

/// `YYYY-MM-DD HH:MM:SS` of seconds since 1970-01-01 00:00:00.
fn push_ts(buf: &mut Vec<u8>, secs: i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
    let y = y.clamp(0, 9999) as u32;
    push_2(buf, y / 100);
    push_2(buf, y % 100);
    buf.push(b'-');
    push_2(buf, m);
    buf.push(b'-');
    push_2(buf, d);
    buf.push(b' ');
    push_2(buf, sod / 3600);
    buf.push(b':');
    push_2(buf, sod / 60 % 60);
    buf.push(b':');
    push_2(buf, sod % 60);
}

fn push_opt_ts(buf: &mut Vec<u8>, secs: Option<i64>) {
    if let Some(s) = secs {
        push_ts(buf, s);
    }
}

// Line surgery for defective lines only (rare, so allocations are fine).

fn split_line(line: &[u8]) -> Vec<Vec<u8>> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    body.split(|&b| b == b',').map(<[u8]>::to_vec).collect()
}

fn join_line(fields: &[Vec<u8>], line: &mut Vec<u8>) {
    line.clear();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(f);
    }
    line.push(b'\n');
}

fn set_field(line: &mut Vec<u8>, idx: usize, value: &[u8]) {
    let mut fields = split_line(line);
    fields[idx] = value.to_vec();
    join_line(&fields, line);
}

fn id_field(id: &Id) -> Vec<u8> {
    let mut v = Vec::with_capacity(34);
    push_id(&mut v, id);
    v
}

/// Drops a field or inserts an extra one, never touching the first field.
fn shift_fields<R: Rng>(line: &mut Vec<u8>, rng: &mut R) {
    let mut fields = split_line(line);
    let n = fields.len();
    if rng.gen_bool(0.5) {
        fields.remove(rng.gen_range(1..n));
    } else {
        let at = rng.gen_range(1..=n);
        let extra = if rng.gen_bool(0.5) {
            Vec::new()
        } else {
            fields[at - 1].clone()
        };
        fields.insert(at, extra);
    }
    join_line(&fields, line);
}

fn pick<'a, R: Rng>(rng: &mut R, values: &[&'a str]) -> &'a [u8] {
    values[rng.gen_range(0..values.len())].as_bytes()
}

// ---------------------------------------------------------------------------
// Records.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    FieldCount,
    MissingRequired,
    BadTimestamp,
    TimestampOutOfWindow,
    BadStatus,
    BadNumber,
    BadInteger,
    ExactDuplicate,
    ConflictingDuplicate,
    OrphanReference,
    ItemOfRejectedOrder,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::FieldCount => "field_count",
            Kind::MissingRequired => "missing_required",
            Kind::BadTimestamp => "bad_timestamp",
            Kind::TimestampOutOfWindow => "timestamp_out_of_window",
            Kind::BadStatus => "bad_status",
            Kind::BadNumber => "bad_number",
            Kind::BadInteger => "bad_integer",
            Kind::ExactDuplicate => "exact_duplicate",
            Kind::ConflictingDuplicate => "conflicting_duplicate",
            Kind::OrphanReference => "orphan_reference",
            Kind::ItemOfRejectedOrder => "item_of_rejected_order",
        }
    }
}

const ORDER_KINDS: [Kind; 8] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::BadTimestamp,
    Kind::TimestampOutOfWindow,
    Kind::BadStatus,
    Kind::OrphanReference,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];
/// Leading entries of [`ORDER_KINDS`] that reject the order line itself.
const ORDER_IN_PLACE: usize = 6;
const ITEM_KINDS: [Kind; 9] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::BadTimestamp,
    Kind::TimestampOutOfWindow,
    Kind::BadNumber,
    Kind::BadInteger,
    Kind::OrphanReference,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];
const CUSTOMER_KINDS: [Kind; 4] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];
const PRODUCT_KINDS: [Kind; 5] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::BadInteger,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Created,
    Approved,
    Invoiced,
    Processing,
    Shipped,
    Delivered,
    Canceled,
    Unavailable,
}

impl Status {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Status::Created => b"created",
            Status::Approved => b"approved",
            Status::Invoiced => b"invoiced",
            Status::Processing => b"processing",
            Status::Shipped => b"shipped",
            Status::Delivered => b"delivered",
            Status::Canceled => b"canceled",
            Status::Unavailable => b"unavailable",
        }
    }

    /// Real-shop-like mix (per 100 000 orders).
    fn sample<R: Rng>(rng: &mut R) -> Status {
        const MIX: [(u32, Status); 7] = [
            (5, Status::Created),
            (3, Status::Approved),
            (320, Status::Invoiced),
            (300, Status::Processing),
            (1110, Status::Shipped),
            (630, Status::Canceled),
            (610, Status::Unavailable),
        ];
        let mut x = rng.gen_range(0..100_000u32);
        for (w, s) in MIX {
            if x < w {
                return s;
            }
            x -= w;
        }
        Status::Delivered
    }

    /// Probability that an order of this status has no items.
    fn no_items_share(self) -> f64 {
        match self {
            Status::Unavailable => 0.985,
            Status::Canceled => 0.26,
            Status::Created => 0.5,
            Status::Invoiced => 0.006,
            Status::Shipped => 0.001,
            Status::Delivered => 0.0001,
            Status::Approved | Status::Processing => 0.0,
        }
    }
}

#[derive(Clone, Copy)]
struct Customer {
    id: Id,
    uid: Id,
    zip: u32,
    state: u8,
    city: u8,
}

impl Customer {
    fn format(&self, line: &mut Vec<u8>) {
        line.clear();
        push_id(line, &self.id);
        line.push(b',');
        push_id(line, &self.uid);
        line.extend_from_slice(b",\"");
        let z = self.zip;
        push_2(line, z / 1000);
        push_2(line, z / 10 % 100);
        line.push(b'0' + (z % 10) as u8);
        line.extend_from_slice(b"\",");
        let (code, _, _, _, cities) = STATES[usize::from(self.state)];
        line.extend_from_slice(cities[usize::from(self.city)].as_bytes());
        line.push(b',');
        line.extend_from_slice(code.as_bytes());
        line.push(b'\n');
    }
}

#[derive(Clone, Copy)]
struct Order {
    id: Id,
    customer: Id,
    status: Status,
    purchase: i64,
    approved: Option<i64>,
    carrier: Option<i64>,
    delivered: Option<i64>,
    estimated: i64,
}

impl Order {
    fn format(&self, line: &mut Vec<u8>) {
        line.clear();
        push_id(line, &self.id);
        line.push(b',');
        push_id(line, &self.customer);
        line.push(b',');
        line.extend_from_slice(self.status.as_bytes());
        line.push(b',');
        push_ts(line, self.purchase);
        line.push(b',');
        push_opt_ts(line, self.approved);
        line.push(b',');
        push_opt_ts(line, self.carrier);
        line.push(b',');
        push_opt_ts(line, self.delivered);
        line.push(b',');
        push_ts(line, self.estimated);
        line.push(b'\n');
    }
}

#[derive(Clone, Copy)]
struct Item {
    order: Id,
    n: u32,
    product: Id,
    seller: Id,
    limit: i64,
    price: u32,
    freight: u32,
}

impl Item {
    fn format(&self, line: &mut Vec<u8>) {
        line.clear();
        push_id(line, &self.order);
        line.push(b',');
        push_uint(line, u64::from(self.n));
        line.push(b',');
        push_id(line, &self.product);
        line.push(b',');
        push_id(line, &self.seller);
        line.push(b',');
        push_ts(line, self.limit);
        line.push(b',');
        push_money(line, self.price);
        line.push(b',');
        push_money(line, self.freight);
        line.push(b'\n');
    }
}

#[derive(Clone, Copy)]
struct Product {
    id: Id,
    category: Option<u8>,
    name_len: Option<u32>,
    desc_len: Option<u32>,
    photos: Option<u32>,
    weight: Option<u32>,
    length: Option<u32>,
    height: Option<u32>,
    width: Option<u32>,
    /// List price in cents (not written to the products file).
    price: u32,
    /// Weight used for freight, also when the weight field is empty.
    ship_grams: u32,
    /// Index into the sellers list.
    seller: u32,
}

impl Product {
    fn format(&self, line: &mut Vec<u8>) {
        line.clear();
        push_id(line, &self.id);
        line.push(b',');
        if let Some(c) = self.category {
            line.extend_from_slice(CATEGORIES[usize::from(c)].0.as_bytes());
        }
        for v in [
            self.name_len,
            self.desc_len,
            self.photos,
            self.weight,
            self.length,
            self.height,
            self.width,
        ] {
            line.push(b',');
            push_opt_uint(line, v);
        }
        line.push(b'\n');
    }

    fn sample<R: Rng>(rng: &mut R, categories: &Weighted, sellers: u32) -> Product {
        let id = new_id(rng);
        let cat = categories.pick(rng);
        let median = CATEGORIES[cat].2;
        let mut reais = lognormal(rng, median, 0.9);
        if rng.gen_bool(0.003) {
            reais *= 8.0;
        }
        let raw = (reais * 100.0).round().clamp(85.0, 673_500.0) as u32;
        let price = match rng.gen_range(0..100) {
            0..45 => raw / 100 * 100 + 90,
            45..65 => raw / 100 * 100 + 99,
            _ => raw,
        }
        .clamp(85, 673_500);
        let grams = lognormal(rng, 700.0, 1.6).clamp(50.0, 40_000.0);
        let scale = (grams / 700.0).cbrt();
        let length = (25.0 * scale * (0.3 * normal(rng)).exp()).clamp(7.0, 105.0) as u32;
        let height = (13.0 * scale * (0.5 * normal(rng)).exp()).clamp(2.0, 105.0) as u32;
        let width = (20.0 * scale * (0.3 * normal(rng)).exp()).clamp(6.0, 118.0) as u32;
        let name_len = (49.0 + 10.0 * normal(rng)).clamp(5.0, 76.0) as u32;
        let desc_len = lognormal(rng, 595.0, 0.9).clamp(4.0, 3992.0) as u32;
        let photos = match rng.gen_range(0..100) {
            0..50 => 1,
            50..70 => 2,
            70..81 => 3,
            81..88 => 4,
            88..93 => 5,
            93..96 => 6,
            _ => rng.gen_range(7..=20),
        };
        // Relative seller rank: a few sellers have many products.
        let seller = ((f64::from(sellers) * rng.r#gen::<f64>().powf(1.5)) as u32).min(sellers - 1);
        let no_category = rng.gen_bool(0.0185);
        let no_dimensions = rng.gen_bool(0.0002);
        Product {
            id,
            category: (!no_category).then_some(cat as u8),
            name_len: (!no_category).then_some(name_len),
            desc_len: (!no_category).then_some(desc_len),
            photos: (!no_category).then_some(photos),
            weight: (!no_dimensions).then_some(grams as u32),
            length: (!no_dimensions).then_some(length),
            height: (!no_dimensions).then_some(height),
            width: (!no_dimensions).then_some(width),
            price,
            ship_grams: grams as u32,
            seller,
        }
    }
}

/// A person scheduled to order again.
struct Return {
    due: u32,
    seq: u64,
    uid: Id,
    zip: u32,
    state: u8,
    city: u8,
}

impl PartialEq for Return {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Return {}
impl PartialOrd for Return {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Return {
    /// Reversed, so that the max-heap pops the earliest due day first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The last few valid records of a file, for duplicates.
struct Ring<T: Copy> {
    buf: Vec<T>,
    next: usize,
}

impl<T: Copy> Ring<T> {
    fn new() -> Self {
        Ring {
            buf: Vec::with_capacity(RING),
            next: 0,
        }
    }

    fn push(&mut self, t: T) {
        if self.buf.len() < RING {
            self.buf.push(t);
        } else {
            self.buf[self.next] = t;
        }
        self.next = (self.next + 1) % RING;
    }

    fn pick<R: Rng>(&self, rng: &mut R) -> T {
        self.buf[rng.gen_range(0..self.buf.len())]
    }
}

// ---------------------------------------------------------------------------
// Output files.

struct Sink {
    name: &'static str,
    w: BufWriter<File>,
    spill: BufWriter<File>,
    spill_path: PathBuf,
    /// Physical lines written so far (header included).
    lines: u64,
    duplicate: u64,
    rejected: u64,
}

impl Sink {
    fn create(dir: &Path, name: &'static str, header: &str) -> Result<Sink> {
        let path = dir.join(name);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let spill_path = dir.join(format!(".{name}.defects.tmp"));
        let spill = File::create(&spill_path)
            .with_context(|| format!("creating {}", spill_path.display()))?;
        let mut sink = Sink {
            name,
            w: BufWriter::with_capacity(BUF_SIZE, file),
            spill: BufWriter::with_capacity(1 << 16, spill),
            spill_path,
            lines: 0,
            duplicate: 0,
            rejected: 0,
        };
        sink.write(header.as_bytes())?;
        Ok(sink)
    }

    /// Writes one line (ending with LF) and returns its physical line number.
    fn write(&mut self, line: &[u8]) -> io::Result<u64> {
        self.w.write_all(line)?;
        self.lines += 1;
        Ok(self.lines)
    }

    /// Writes a line and records it as defective.
    fn write_defect(&mut self, line: &[u8], kind: Kind) -> io::Result<()> {
        let n = self.write(line)?;
        if kind == Kind::ExactDuplicate {
            self.duplicate += 1;
        } else {
            self.rejected += 1;
        }
        writeln!(
            self.spill,
            "{{\"file\":\"{}\",\"line\":{},\"kind\":\"{}\"}}",
            self.name,
            n,
            kind.as_str()
        )
    }

    fn data_lines(&self) -> u64 {
        self.lines - 1
    }
}

// ---------------------------------------------------------------------------
// The generator.

struct Gen<'a> {
    opts: &'a GenerateOptions,
    rng: ChaCha8Rng,
    /// Defect decisions and defect content only, so clean data ignores the rate.
    drng: ChaCha8Rng,
    rate: f64,
    /// Probability of an extra defective line after a customer or product line.
    extra_rate: f64,
    /// Probability of an own defect for an item of a valid order.
    item_rate: f64,
    states: Weighted,
    categories: Weighted,
    hours: Weighted,
    sellers: Vec<Id>,
    products: Vec<Product>,
    /// Product indices grouped by seller; `seller_start[s]..seller_start[s+1]`.
    seller_products: Vec<u32>,
    seller_start: Vec<u32>,
    customers: Sink,
    orders: Sink,
    items: Sink,
    product_sink: Sink,
    line: Vec<u8>,
    /// Counter making conflicting duplicates differ from each other.
    conflict_seq: u64,
}

impl<'a> Gen<'a> {
    fn new(opts: &'a GenerateOptions) -> Result<Self> {
        let rate = opts.defect_rate;
        let rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let mut drng = ChaCha8Rng::seed_from_u64(opts.seed);
        drng.set_stream(1);
        let in_place = rate * ORDER_IN_PLACE as f64 / ORDER_KINDS.len() as f64;
        let item_rate = if in_place >= 1.0 {
            0.0
        } else {
            ((rate - in_place) / (1.0 - in_place)).clamp(0.0, 1.0)
        };
        let extra_rate = if rate >= 0.5 {
            1.0
        } else {
            rate / (1.0 - rate)
        };
        let dir = &opts.out;
        Ok(Gen {
            opts,
            rng,
            drng,
            rate,
            extra_rate,
            item_rate,
            states: Weighted::new(STATES.iter().map(|s| s.1)),
            categories: Weighted::new(CATEGORIES.iter().map(|c| c.1)),
            hours: Weighted::new(HOUR_WEIGHTS),
            sellers: Vec::new(),
            products: Vec::new(),
            seller_products: Vec::new(),
            seller_start: Vec::new(),
            customers: Sink::create(dir, CUSTOMERS_FILE, CUSTOMERS_HEADER)?,
            orders: Sink::create(dir, ORDERS_FILE, ORDERS_HEADER)?,
            items: Sink::create(dir, ORDER_ITEMS_FILE, ITEMS_HEADER)?,
            product_sink: Sink::create(dir, PRODUCTS_FILE, PRODUCTS_HEADER)?,
            line: Vec::with_capacity(512),
            conflict_seq: 0,
        })
    }

    fn defects_on(&self) -> bool {
        self.rate > 0.0
    }

    fn next_conflict(&mut self) -> u64 {
        self.conflict_seq += 1;
        self.conflict_seq
    }

    // -- products ----------------------------------------------------------

    fn write_products(&mut self) -> Result<()> {
        let n_orders = self.opts.orders;
        let n_sellers = (n_orders / 32 + 5).min(3000) as u32;
        let n_products = (n_orders / 3 + 50).min(35_000) as usize;
        self.sellers = (0..n_sellers).map(|_| new_id(&mut self.rng)).collect();
        let mut products = Vec::with_capacity(n_products);
        for _ in 0..n_products {
            products.push(Product::sample(&mut self.rng, &self.categories, n_sellers));
        }
        // Group products by seller for "more from the same seller" picks.
        let mut counts = vec![0u32; n_sellers as usize + 1];
        for p in &products {
            counts[p.seller as usize + 1] += 1;
        }
        for s in 1..counts.len() {
            counts[s] += counts[s - 1];
        }
        let mut fill = counts.clone();
        let mut grouped = vec![0u32; products.len()];
        for (i, p) in products.iter().enumerate() {
            let slot = &mut fill[p.seller as usize];
            grouped[*slot as usize] = i as u32;
            *slot += 1;
        }
        self.seller_start = counts;
        self.seller_products = grouped;

        let mut line = std::mem::take(&mut self.line);
        for i in 0..products.len() {
            products[i].format(&mut line);
            self.product_sink.write(&line)?;
            if self.defects_on() && self.drng.gen_bool(self.extra_rate) {
                let kind = PRODUCT_KINDS[self.drng.gen_range(0..PRODUCT_KINDS.len())];
                let d = &mut self.drng;
                match kind {
                    Kind::ExactDuplicate => products[d.gen_range(0..=i)].format(&mut line),
                    Kind::ConflictingDuplicate => {
                        let mut p = products[d.gen_range(0..=i)];
                        let bump = 1 + (self.conflict_seq % 1000) as u32;
                        self.conflict_seq += 1;
                        p.weight = Some(p.weight.unwrap_or(0) + bump);
                        p.format(&mut line);
                    }
                    _ => {
                        let fresh = Product::sample(d, &self.categories, n_sellers);
                        fresh.format(&mut line);
                        match kind {
                            Kind::FieldCount => shift_fields(&mut line, d),
                            Kind::MissingRequired => set_field(&mut line, 0, b""),
                            _ => set_field(&mut line, 4, pick(d, &BAD_INTEGERS)),
                        }
                    }
                }
                self.product_sink.write_defect(&line, kind)?;
            }
        }
        self.line = line;
        self.products = products;
        Ok(())
    }

    /// Popularity-skewed product pick (rank = index).
    fn pick_product(&mut self) -> usize {
        let u: f64 = self.rng.r#gen();
        ((u * u * self.products.len() as f64) as usize).min(self.products.len() - 1)
    }

    // -- orders ------------------------------------------------------------

    /// Orders per day: growth, weekly rhythm, Black Friday, empty days.
    fn day_counts(&mut self) -> Vec<u64> {
        let opts = self.opts;
        let days = opts.days as usize;
        let mut weights = Vec::with_capacity(days);
        for d in 0..days {
            let date = opts.start + chrono::Days::new(d as u64);
            let t = d as f64 / days as f64;
            let growth = 0.03 + 1.0 / (1.0 + (-(t - 0.3) / 0.08).exp());
            let weekday = WEEKDAY_FACTORS[date.weekday().num_days_from_monday() as usize];
            let noise = (0.15 * normal(&mut self.rng)).exp();
            let mut w = growth * weekday * noise;
            let bf = black_friday(date.year());
            if bf == Some(date) {
                w *= 4.5;
            } else if bf.is_some_and(|b| date > b && date <= b + chrono::Days::new(3)) {
                w *= 1.6;
            }
            if (date.month() == 12 && (date.day() == 24 || date.day() == 25 || date.day() == 31))
                || (date.month() == 1 && date.day() == 1)
            {
                w *= 0.5;
            }
            let p_zero = 0.7 * (-t / 0.06).exp() + 0.004;
            if d > 0 && self.rng.gen_bool(p_zero) {
                w = 0.0;
            }
            weights.push(w);
        }
        let total: f64 = weights.iter().sum();
        let n = opts.orders;
        let mut counts = Vec::with_capacity(days);
        let mut acc = 0.0;
        let mut done = 0u64;
        for (d, w) in weights.iter().enumerate() {
            acc += w;
            let target = if d + 1 == days {
                n
            } else {
                ((n as f64 * acc / total).round() as u64).min(n)
            };
            counts.push(target - done);
            done = target;
        }
        counts
    }

    fn new_person(&mut self) -> (Id, u32, u8, u8) {
        let uid = new_id(&mut self.rng);
        let state = self.states.pick(&mut self.rng);
        let (_, _, lo, hi, cities) = STATES[state];
        let zip = self.rng.gen_range(lo..=hi);
        let u: f64 = self.rng.r#gen();
        let city = ((u * u * cities.len() as f64) as usize).min(cities.len() - 1);
        (uid, zip, state as u8, city as u8)
    }

    fn write_orders(&mut self) -> Result<()> {
        let counts = self.day_counts();
        let start = days_since_epoch(self.opts.start);
        let last_day = self.opts.days as i64 - 1;
        // Export date: later events have not happened yet.
        let as_of = (start + last_day + 31) * SECS_PER_DAY - 1;
        let mut pending: BinaryHeap<Return> = BinaryHeap::new();
        let mut seq = 0u64;
        let mut items: Vec<Item> = Vec::with_capacity(16);
        let mut cust_ring = Ring::new();
        let mut order_ring = Ring::new();
        let mut item_ring = Ring::new();

        for (day, &count) in counts.iter().enumerate() {
            let day = day as u32;
            let day_secs = (start + i64::from(day)) * SECS_PER_DAY;
            for _ in 0..count {
                let hour = self.hours.pick(&mut self.rng) as i64;
                let purchase = day_secs + hour * 3600 + self.rng.gen_range(0..3600);

                // The person: a due returner or somebody new.
                let (uid, zip, state, city) = if pending.peek().is_some_and(|r| r.due <= day) {
                    let r = pending.pop().expect("peeked");
                    (r.uid, r.zip, r.state, r.city)
                } else {
                    let person = self.new_person();
                    if self.rng.gen_bool(RETURN_SHARE) {
                        let extra = match self.rng.gen_range(0..100) {
                            0..85 => 1,
                            85..96 => 2,
                            96..99 => 3,
                            _ => 4,
                        };
                        let mut due = day;
                        for _ in 0..extra {
                            let gap = if self.rng.gen_bool(0.12) {
                                0
                            } else {
                                1 + (-80.0 * (1.0 - self.rng.r#gen::<f64>()).ln()).min(600.0) as u32
                            };
                            due += gap;
                            if pending.len() < MAX_PENDING_RETURNS {
                                seq += 1;
                                pending.push(Return {
                                    due,
                                    seq,
                                    uid: person.0,
                                    zip: person.1,
                                    state: person.2,
                                    city: person.3,
                                });
                            }
                        }
                    }
                    person
                };
                let customer = Customer {
                    id: new_id(&mut self.rng),
                    uid,
                    zip,
                    state,
                    city,
                };
                let order = self.sample_order(customer.id, purchase, as_of);
                self.sample_items(&order, state, &mut items);

                self.emit_customer(&customer, &mut cust_ring)?;
                self.emit_order(&order, &items, &mut order_ring, &mut item_ring)?;
            }
        }
        Ok(())
    }

    fn sample_order(&mut self, customer: Id, purchase: i64, as_of: i64) -> Order {
        let rng = &mut self.rng;
        let id = new_id(rng);
        let mut status = Status::sample(rng);
        let approve_delay = if rng.gen_bool(0.72) {
            lognormal(rng, 720.0, 0.8).clamp(60.0, 6.0 * 3600.0)
        } else {
            lognormal(rng, 20.0 * 3600.0, 0.7).clamp(3600.0, 17.0 * 86_400.0)
        } as i64;
        let carrier_delay =
            lognormal(rng, 1.8 * 86_400.0, 0.8).clamp(7200.0, 60.0 * 86_400.0) as i64;
        let deliver_delay =
            lognormal(rng, 7.0 * 86_400.0, 0.7).clamp(6.0 * 3600.0, 120.0 * 86_400.0) as i64;
        let estimate_days = lognormal(rng, 23.0, 0.33).clamp(3.0, 90.0) as i64;
        let canceled_approved = rng.gen_bool(0.9);
        let canceled_shipped = rng.gen_bool(0.12);

        let a = purchase + approve_delay;
        let c = a + carrier_delay;
        let d = c + deliver_delay;
        let (mut approved, mut carrier, mut delivered) = match status {
            Status::Created => (None, None, None),
            Status::Approved | Status::Invoiced | Status::Processing | Status::Unavailable => {
                (Some(a), None, None)
            }
            Status::Shipped => (Some(a), Some(c), None),
            Status::Delivered => (Some(a), Some(c), Some(d)),
            Status::Canceled => (
                canceled_approved.then_some(a),
                (canceled_approved && canceled_shipped).then_some(c),
                None,
            ),
        };
        // Events after the export date have not happened yet.
        if delivered.is_some_and(|t| t > as_of) {
            delivered = None;
            status = Status::Shipped;
        }
        if carrier.is_some_and(|t| t > as_of) {
            carrier = None;
            if status == Status::Shipped {
                status = Status::Invoiced;
            }
        }
        if approved.is_some_and(|t| t > as_of) {
            approved = None;
            if status != Status::Canceled {
                status = Status::Created;
            }
        }
        let estimated = (purchase.div_euclid(SECS_PER_DAY) + estimate_days) * SECS_PER_DAY;
        Order {
            id,
            customer,
            status,
            purchase,
            approved,
            carrier,
            delivered,
            estimated,
        }
    }

    fn sample_items(&mut self, order: &Order, state: u8, items: &mut Vec<Item>) {
        items.clear();
        let no_items = self.rng.gen_bool(order.status.no_items_share());
        let x = self.rng.gen_range(0..10_000u32);
        let n = ITEM_COUNT_CUM.iter().position(|&c| x < c).unwrap_or(0) as u32 + 1;
        let base = order.approved.unwrap_or(order.purchase);
        let limit_days = match self.rng.gen_range(0..100) {
            0..10 => self.rng.gen_range(2..=4),
            10..75 => 6,
            75..92 => self.rng.gen_range(5..=9),
            _ => self.rng.gen_range(10..=20),
        };
        let jitter = if self.rng.gen_bool(0.8) {
            0
        } else {
            self.rng.gen_range(0..SECS_PER_DAY)
        };
        let limit = base + limit_days * SECS_PER_DAY + jitter;
        if no_items {
            return;
        }
        // Distant states pay more freight.
        let distance = if state < 6 { 1.0 } else { 1.4 };
        let mut prev: Option<(usize, u32, u32)> = None;
        for k in 1..=n {
            let repeat = prev.is_some() && self.rng.gen_bool(0.7);
            let (p, price, freight) = match prev {
                Some(same) if repeat => same,
                _ => {
                    let p = match prev {
                        Some((q, _, _)) if self.rng.gen_bool(0.6) => {
                            let s = self.products[q].seller as usize;
                            let (lo, hi) = (self.seller_start[s], self.seller_start[s + 1]);
                            self.seller_products[self.rng.gen_range(lo..hi) as usize] as usize
                        }
                        _ => self.pick_product(),
                    };
                    let prod = &self.products[p];
                    let list = prod.price;
                    let kg = f64::from(prod.ship_grams) / 1000.0;
                    let price = if self.rng.gen_bool(0.15) {
                        ((f64::from(list) * self.rng.gen_range(0.85..1.15)).round() as u32)
                            .clamp(85, 673_500)
                    } else {
                        list
                    };
                    let fr = (12.0 + 1.8 * kg.powf(0.85)) * distance;
                    let fr = lognormal(&mut self.rng, fr, 0.4).clamp(0.0, 400.0);
                    let freight = if self.rng.gen_bool(0.004) {
                        0
                    } else {
                        (fr * 100.0).round() as u32
                    };
                    (p, price, freight)
                }
            };
            let prod = &self.products[p];
            items.push(Item {
                order: order.id,
                n: k,
                product: prod.id,
                seller: self.sellers[prod.seller as usize],
                limit,
                price,
                freight,
            });
            prev = Some((p, price, freight));
        }
    }

    fn emit_customer(&mut self, c: &Customer, ring: &mut Ring<Customer>) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        c.format(&mut line);
        self.customers.write(&line)?;
        ring.push(*c);
        if self.defects_on() && self.drng.gen_bool(self.extra_rate) {
            let kind = CUSTOMER_KINDS[self.drng.gen_range(0..CUSTOMER_KINDS.len())];
            match kind {
                Kind::ExactDuplicate => ring.pick(&mut self.drng).format(&mut line),
                Kind::ConflictingDuplicate => {
                    let mut x = ring.pick(&mut self.drng);
                    let bump = 1 + (self.next_conflict() % 997) as u32;
                    x.zip = (x.zip + bump) % 100_000;
                    x.format(&mut line);
                }
                _ => {
                    let d = &mut self.drng;
                    let state = self.states.pick(d);
                    let (_, _, lo, hi, cities) = STATES[state];
                    let fresh = Customer {
                        id: new_id(d),
                        uid: new_id(d),
                        zip: d.gen_range(lo..=hi),
                        state: state as u8,
                        city: d.gen_range(0..cities.len()) as u8,
                    };
                    fresh.format(&mut line);
                    if kind == Kind::FieldCount {
                        shift_fields(&mut line, d);
                    } else {
                        set_field(&mut line, d.gen_range(0..2), b"");
                    }
                }
            }
            self.customers.write_defect(&line, kind)?;
        }
        self.line = line;
        Ok(())
    }

    fn emit_order(
        &mut self,
        order: &Order,
        items: &[Item],
        order_ring: &mut Ring<Order>,
        item_ring: &mut Ring<Item>,
    ) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        order.format(&mut line);
        let kind = if self.defects_on() && self.drng.gen_bool(self.rate) {
            Some(ORDER_KINDS[self.drng.gen_range(0..ORDER_KINDS.len())])
        } else {
            None
        };
        let rejected = kind.is_some_and(|k| ORDER_KINDS[..ORDER_IN_PLACE].contains(&k));
        if rejected {
            let kind = kind.expect("rejected implies a kind");
            let d = &mut self.drng;
            match kind {
                Kind::FieldCount => shift_fields(&mut line, d),
                Kind::MissingRequired => set_field(&mut line, d.gen_range(1..=3), b""),
                Kind::BadTimestamp => set_field(&mut line, 3, pick(d, &BAD_TIMESTAMPS)),
                Kind::TimestampOutOfWindow => set_field(&mut line, 3, pick(d, &OUT_OF_WINDOW)),
                Kind::BadStatus => set_field(&mut line, 2, pick(d, &BAD_STATUSES)),
                _ => set_field(&mut line, 1, &id_field(&new_id(d))),
            }
            self.orders.write_defect(&line, kind)?;
        } else {
            self.orders.write(&line)?;
            order_ring.push(*order);
            if let Some(kind) = kind {
                let mut o = order_ring.pick(&mut self.drng);
                if kind == Kind::ConflictingDuplicate {
                    o.purchase += 1 + (self.next_conflict() % 1_000_000) as i64;
                }
                o.format(&mut line);
                self.orders.write_defect(&line, kind)?;
            }
        }

        for item in items {
            item.format(&mut line);
            if rejected {
                self.items.write_defect(&line, Kind::ItemOfRejectedOrder)?;
                continue;
            }
            if !self.defects_on() || !self.drng.gen_bool(self.item_rate) {
                self.items.write(&line)?;
                item_ring.push(*item);
                continue;
            }
            let kind = ITEM_KINDS[self.drng.gen_range(0..ITEM_KINDS.len())];
            let d = &mut self.drng;
            match kind {
                Kind::ExactDuplicate | Kind::ConflictingDuplicate => {
                    self.items.write(&line)?;
                    item_ring.push(*item);
                    let mut x = item_ring.pick(d);
                    if kind == Kind::ConflictingDuplicate {
                        self.conflict_seq += 1;
                        x.price += 1 + (self.conflict_seq % 50_000) as u32;
                    }
                    x.format(&mut line);
                }
                Kind::FieldCount => shift_fields(&mut line, d),
                Kind::MissingRequired => {
                    set_field(&mut line, [0, 1, 2, 3, 5, 6][d.gen_range(0..6)], b"")
                }
                Kind::BadTimestamp => set_field(&mut line, 4, pick(d, &BAD_TIMESTAMPS)),
                Kind::TimestampOutOfWindow => set_field(&mut line, 4, pick(d, &OUT_OF_WINDOW)),
                Kind::BadNumber => set_field(&mut line, d.gen_range(5..=6), pick(d, &BAD_NUMBERS)),
                Kind::BadInteger => set_field(&mut line, 1, pick(d, &BAD_INTEGERS)),
                _ => {
                    let field = if d.gen_bool(0.5) { 0 } else { 2 };
                    set_field(&mut line, field, &id_field(&new_id(d)));
                }
            }
            self.items.write_defect(&line, kind)?;
        }
        self.line = line;
        Ok(())
    }

    // -- manifest ----------------------------------------------------------

    fn finish(self) -> Result<GenerateSummary> {
        let opts = self.opts;
        let mut sinks = [self.customers, self.orders, self.items, self.product_sink];
        let mut defects = 0;
        for s in &mut sinks {
            s.w.flush().with_context(|| format!("writing {}", s.name))?;
            s.spill.flush()?;
            defects += s.duplicate + s.rejected;
        }
        let path = opts.out.join(MANIFEST_FILE);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        write!(
            w,
            "{{\"seed\":{},\"orders\":{},\"defect_rate\":{},\n \"files\":{{",
            opts.seed,
            opts.orders,
            serde_json::to_string(&opts.defect_rate)?
        )?;
        for (i, s) in sinks.iter().enumerate() {
            let data = s.data_lines();
            write!(
                w,
                "{}\n  \"{}\":{{\"data_lines\":{},\"loaded\":{},\"duplicate\":{},\"rejected\":{}}}",
                if i == 0 { "" } else { "," },
                s.name,
                data,
                data - s.duplicate - s.rejected,
                s.duplicate,
                s.rejected
            )?;
        }
        w.write_all(b"},\n \"defects\":[")?;
        let mut first = true;
        for s in &sinks {
            let reader = BufReader::new(File::open(&s.spill_path)?);
            for entry in reader.lines() {
                w.write_all(if first { b"\n  " } else { b",\n  " })?;
                w.write_all(entry?.as_bytes())?;
                first = false;
            }
        }
        w.write_all(if first { b"]}\n" } else { b"\n ]}\n" })?;
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        let summary = GenerateSummary {
            customers: sinks[0].data_lines(),
            orders: sinks[1].data_lines(),
            order_items: sinks[2].data_lines(),
            products: sinks[3].data_lines(),
            defects,
        };
        for s in sinks {
            drop(s.spill);
            fs::remove_file(&s.spill_path)
                .with_context(|| format!("removing {}", s.spill_path.display()))?;
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap, HashSet};

    const FILES: [&str; 4] = [CUSTOMERS_FILE, ORDERS_FILE, ORDER_ITEMS_FILE, PRODUCTS_FILE];

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
    fn calendar_helpers_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for z in (-800_000..800_000).step_by(997) {
            let d = epoch + chrono::Duration::days(z);
            assert_eq!(civil_from_days(z), (d.year() as i64, d.month(), d.day()));
        }
        assert_eq!(black_friday(2017), NaiveDate::from_ymd_opt(2017, 11, 24));
        assert_eq!(black_friday(2016), NaiveDate::from_ymd_opt(2016, 11, 25));
        let mut b = Vec::new();
        push_ts(&mut b, 1_502_895_600 + 59);
        assert_eq!(b, b"2017-08-16 15:00:59");
        b.clear();
        push_money(&mut b, 673_500);
        b.push(b' ');
        push_money(&mut b, 85);
        b.push(b' ');
        push_money(&mut b, 0);
        assert_eq!(b, b"6735.00 0.85 0.00");
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
        for name in FILES.iter().chain([&MANIFEST_FILE]) {
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
        let texts: Vec<String> = FILES.iter().map(|f| read(dir.path(), f)).collect();
        let headers = [
            CUSTOMERS_HEADER,
            ORDERS_HEADER,
            ITEMS_HEADER,
            PRODUCTS_HEADER,
        ];
        for ((name, text), header) in FILES.iter().zip(&texts).zip(headers) {
            assert!(text.starts_with(header));
            let n = header_len(text);
            let set = keys.entry(name).or_default();
            for (_, line) in data_lines(text) {
                let f = fields(line);
                assert_eq!(f.len(), n, "{name}: {line}");
                let key = if *name == ORDER_ITEMS_FILE {
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
        let customers = &keys[CUSTOMERS_FILE];
        let orders = &keys[ORDERS_FILE];
        let products = &keys[PRODUCTS_FILE];
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
        assert_eq!(manifest["files"][ORDERS_FILE]["loaded"], 5000);
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

        let customers = read(dir.path(), CUSTOMERS_FILE);
        let mut people: HashMap<&str, u32> = HashMap::new();
        for (_, line) in data_lines(&customers) {
            *people.entry(fields(line)[1]).or_default() += 1;
        }
        let repeat = people.values().filter(|&&n| n > 1).count() as f64 / people.len() as f64;
        assert!((0.015..=0.05).contains(&repeat), "repeat share {repeat}");

        let orders = read(dir.path(), ORDERS_FILE);
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
                    assert!(!f[4].is_empty() && f[5].is_empty() && f[6].is_empty())
                }
                _ => assert!(f[6].is_empty()),
            }
        }
        let delivered = status["delivered"] as f64 / 20_000.0;
        assert!((0.94..=0.99).contains(&delivered), "delivered {delivered}");
        assert!(status.get("canceled").copied().unwrap_or(0) < 200);
        assert!(status.get("unavailable").copied().unwrap_or(0) < 200);
        let items = read(dir.path(), ORDER_ITEMS_FILE);
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
        let products = read(dir.path(), PRODUCTS_FILE);
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
        let statuses = [
            "created",
            "approved",
            "invoiced",
            "processing",
            "shipped",
            "delivered",
            "canceled",
            "unavailable",
        ];

        let mut loaded_keys: HashMap<&str, HashSet<String>> = HashMap::new();
        let mut rejected_orders: HashSet<String> = HashSet::new();
        let mut any_customer: HashSet<String> = HashSet::new();
        for name in [CUSTOMERS_FILE, PRODUCTS_FILE, ORDERS_FILE, ORDER_ITEMS_FILE] {
            let text = read(dir, name);
            let width = header_len(&text);
            let (required, key_len): (&[usize], usize) = match name {
                CUSTOMERS_FILE => (&[0, 1], 1),
                PRODUCTS_FILE => (&[0], 1),
                ORDERS_FILE => (&[0, 1, 2, 3], 1),
                _ => (&[0, 1, 2, 3, 5, 6], 2),
            };
            let mut seen_lines: HashSet<&str> = HashSet::new();
            let mut keys: HashSet<String> = HashSet::new();
            for (n, line) in data_lines(&text) {
                let f = fields(line);
                if name == CUSTOMERS_FILE && !f[0].is_empty() {
                    any_customer.insert(f[0].to_string());
                }
                let kind: Option<&str> = if f.len() != width {
                    Some("field_count")
                } else if required.iter().any(|&i| f[i].is_empty()) {
                    Some("missing_required")
                } else {
                    let fmt = match name {
                        PRODUCTS_FILE => {
                            (!f[2..].iter().all(|x| int_ok(x))).then_some("bad_integer")
                        }
                        ORDERS_FILE => f[3..]
                            .iter()
                            .find_map(|x| ts_check(x))
                            .or_else(|| (!statuses.contains(&f[2])).then_some("bad_status")),
                        ORDER_ITEMS_FILE => ts_check(f[4])
                            .or_else(|| {
                                (!(number_ok(f[5]) && number_ok(f[6]))).then_some("bad_number")
                            })
                            .or_else(|| {
                                (!f[1].parse::<u32>().is_ok_and(|x| x >= 1))
                                    .then_some("bad_integer")
                            }),
                        _ => None,
                    };
                    let key = f[..key_len].join("/");
                    fmt.or_else(|| {
                        if seen_lines.contains(line) {
                            Some("exact_duplicate")
                        } else if keys.contains(&key) {
                            Some("conflicting_duplicate")
                        } else {
                            match name {
                                ORDERS_FILE if !loaded_keys[CUSTOMERS_FILE].contains(f[1]) => {
                                    assert!(
                                        !any_customer.contains(f[1]),
                                        "order of a rejected customer"
                                    );
                                    Some("orphan_reference")
                                }
                                ORDER_ITEMS_FILE if !loaded_keys[PRODUCTS_FILE].contains(f[2]) => {
                                    Some("orphan_reference")
                                }
                                ORDER_ITEMS_FILE if !loaded_keys[ORDERS_FILE].contains(f[0]) => {
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
                        if name == ORDERS_FILE && k != "exact_duplicate" {
                            rejected_orders.insert(f[0].to_string());
                        }
                        out.insert((name.to_string(), n), k.to_string());
                    }
                }
            }
            loaded_keys.insert(name, keys);
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

            for name in FILES {
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
                            assert!(lines[..(*n - 2) as usize].iter().any(|(_, l)| *l == line))
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
        let clean = read(a.path(), ORDERS_FILE);
        let dirty = read(b.path(), ORDERS_FILE);
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
    /// `cargo test --release -- --ignored --nocapture throughput`.
    #[test]
    #[ignore]
    fn throughput() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [0.0, 0.02] {
            let t = std::time::Instant::now();
            let s = generate(&opts(dir.path(), 1_000_000, 42, rate)).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let bytes: u64 = FILES
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
}
