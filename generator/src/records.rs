//! The records of the shop: order statuses, customers, orders, items, products, with how each is
//! drawn and formatted as a line; people due to come back; the last few records of a file.

use std::cmp::Ordering;

use olist::ORDER_STATUSES;
use rand::Rng;

use crate::format::{push_2, push_id, push_money, push_opt_ts, push_opt_uint, push_ts, push_uint};
use crate::random::{Id, Weighted, lognormal, new_id, normal};
use crate::tables::{CATEGORIES, STATES};

/// Records kept by a [`Ring`].
const RING: usize = 32;

/// An order's status, declared in the order of [`ORDER_STATUSES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
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
    pub(crate) fn as_bytes(self) -> &'static [u8] {
        ORDER_STATUSES[self as usize].as_bytes()
    }

    /// Real-shop-like mix (per 100 000 orders).
    pub(crate) fn sample<R: Rng>(rng: &mut R) -> Status {
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
    pub(crate) fn no_items_share(self) -> f64 {
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
pub(crate) struct Customer {
    pub(crate) id: Id,
    pub(crate) uid: Id,
    pub(crate) zip: u32,
    pub(crate) state: u8,
    pub(crate) city: u8,
}

impl Customer {
    pub(crate) fn format(&self, line: &mut Vec<u8>) {
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
pub(crate) struct Order {
    pub(crate) id: Id,
    pub(crate) customer: Id,
    pub(crate) status: Status,
    pub(crate) purchase: i64,
    pub(crate) approved: Option<i64>,
    pub(crate) carrier: Option<i64>,
    pub(crate) delivered: Option<i64>,
    pub(crate) estimated: i64,
}

impl Order {
    pub(crate) fn format(&self, line: &mut Vec<u8>) {
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
pub(crate) struct Item {
    pub(crate) order: Id,
    pub(crate) n: u32,
    pub(crate) product: Id,
    pub(crate) seller: Id,
    pub(crate) limit: i64,
    pub(crate) price: u32,
    pub(crate) freight: u32,
}

impl Item {
    pub(crate) fn format(&self, line: &mut Vec<u8>) {
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
pub(crate) struct Product {
    pub(crate) id: Id,
    pub(crate) category: Option<u8>,
    pub(crate) name_len: Option<u32>,
    pub(crate) desc_len: Option<u32>,
    pub(crate) photos: Option<u32>,
    pub(crate) weight: Option<u32>,
    pub(crate) length: Option<u32>,
    pub(crate) height: Option<u32>,
    pub(crate) width: Option<u32>,
    /// List price in cents (not written to the products file).
    pub(crate) price: u32,
    /// Weight used for freight, also when the weight field is empty.
    pub(crate) ship_grams: u32,
    /// Index into the sellers list.
    pub(crate) seller: u32,
}

impl Product {
    pub(crate) fn format(&self, line: &mut Vec<u8>) {
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

    pub(crate) fn sample<R: Rng>(rng: &mut R, categories: &Weighted, sellers: u32) -> Product {
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
pub(crate) struct Return {
    pub(crate) due: u32,
    pub(crate) seq: u64,
    pub(crate) uid: Id,
    pub(crate) zip: u32,
    pub(crate) state: u8,
    pub(crate) city: u8,
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
pub(crate) struct Ring<T: Copy> {
    buf: Vec<T>,
    next: usize,
}

impl<T: Copy> Ring<T> {
    pub(crate) fn new() -> Self {
        Ring {
            buf: Vec::with_capacity(RING),
            next: 0,
        }
    }

    pub(crate) fn push(&mut self, t: T) {
        if self.buf.len() < RING {
            self.buf.push(t);
        } else {
            self.buf[self.next] = t;
        }
        self.next = (self.next + 1) % RING;
    }

    pub(crate) fn pick<R: Rng>(&self, rng: &mut R) -> T {
        self.buf[rng.gen_range(0..self.buf.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_is_the_olist_status_of_its_name() {
        let all = [
            Status::Created,
            Status::Approved,
            Status::Invoiced,
            Status::Processing,
            Status::Shipped,
            Status::Delivered,
            Status::Canceled,
            Status::Unavailable,
        ];
        assert_eq!(all.len(), ORDER_STATUSES.len());
        for status in all {
            assert_eq!(
                status.as_bytes(),
                format!("{status:?}").to_lowercase().as_bytes()
            );
        }
    }
}
