//! The shop: products and sellers first, then day by day the orders with their customers and
//! items, defects drawn from a second random stream.

use std::collections::BinaryHeap;

use anyhow::Result;
use chrono::{Datelike, NaiveDate, Weekday};
use olist::Dataset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::defects::{
    BAD_INTEGERS, BAD_NUMBERS, BAD_STATUSES, BAD_TIMESTAMPS, CUSTOMER_KINDS, ITEM_KINDS, Kind,
    ORDER_IN_PLACE, ORDER_KINDS, OUT_OF_WINDOW, PRODUCT_KINDS, id_field, pick, set_field,
    shift_fields,
};
use crate::format::{SECS_PER_DAY, days_since_epoch};
use crate::random::{Id, Weighted, lognormal, new_id, normal};
use crate::records::{Customer, Item, Order, Product, Return, Ring, Status};
use crate::sink::{self, Sink};
use crate::tables::{
    CATEGORIES, HOUR_WEIGHTS, ITEM_COUNT_CUM, RETURN_SHARE, STATES, WEEKDAY_FACTORS,
};
use crate::{GenerateOptions, GenerateSummary};

/// Largest number of pending returns kept in memory.
const MAX_PENDING_RETURNS: usize = 1_000_000;

/// The Friday after the fourth Thursday of November.
fn black_friday(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4)?.succ_opt()
}

/// One generation run: the two random streams, the products and sellers, the four files.
pub(crate) struct Gen<'a> {
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
    pub(crate) fn new(opts: &'a GenerateOptions) -> Result<Self> {
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
            customers: Sink::create(dir, Dataset::Customers)?,
            orders: Sink::create(dir, Dataset::Orders)?,
            items: Sink::create(dir, Dataset::OrderItems)?,
            product_sink: Sink::create(dir, Dataset::Products)?,
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

    pub(crate) fn write_products(&mut self) -> Result<()> {
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

    pub(crate) fn write_orders(&mut self) -> Result<()> {
        let counts = self.day_counts();
        let start = days_since_epoch(self.opts.start);
        let last_day = i64::from(self.opts.days) - 1;
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
                    set_field(&mut line, [0, 1, 2, 3, 5, 6][d.gen_range(0..6)], b"");
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

    /// Flushes the files and writes the manifest.
    pub(crate) fn finish(self) -> Result<GenerateSummary> {
        sink::write_manifest(
            self.opts,
            [self.customers, self.orders, self.items, self.product_sink],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_friday_is_the_day_after_the_fourth_thursday_of_november() {
        assert_eq!(black_friday(2017), NaiveDate::from_ymd_opt(2017, 11, 24));
        assert_eq!(black_friday(2016), NaiveDate::from_ymd_opt(2016, 11, 25));
    }
}
