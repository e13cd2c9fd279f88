//! The identifiers of the in-process engine's snapshot as numbers.
//!
//! The statistics join orders to their customers and items by text identifiers (32 characters in
//! Olist's exports), group by them and sort each person's days. `DataFusion` does all of that
//! several times faster over 32-bit integers than over strings, and holds each identifier once
//! instead of once per row. So while the tables are decoded, every identifier becomes the number of
//! its first appearance in its domain (an order id in `orders` and in `order_items` is the same
//! number); the statement is unchanged, since equal identifiers have equal numbers and the
//! statistics compare identifiers only for equality; the result's key column is turned back into
//! text as it is written. Nothing of this outlives the computation.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// What an identifier column identifies: values of one domain share their numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Domain {
    /// `order_id`, in `orders` and `order_items`.
    Order,
    /// `customer_id`, in `orders` and `customers`.
    Customer,
    /// `customer_unique_id`.
    Person,
    /// `product_id`.
    Product,
    /// `seller_id`.
    Seller,
}

/// One domain's values, each held once, numbered from 0 in order of first appearance.
#[derive(Default)]
pub(super) struct Interner {
    /// The values, one after the other.
    text: String,
    /// Where each value ends in `text` (its start is where the one before ends).
    ends: Vec<usize>,
    /// The numbers, found by the hash of their value, each with that hash (so that growing the
    /// table reads no value again).
    numbers: HashTable<(u64, u32)>,
    hasher: DefaultHashBuilder,
}

impl Interner {
    /// The number of `value`, given it now if it has none.
    ///
    /// # Errors
    /// When a new value is not UTF-8, or the domain already has 2^32 values.
    pub(super) fn number(&mut self, value: &[u8]) -> Result<u32, &'static str> {
        let hash = self.hasher.hash_one(value);
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&(_, number)) = self.numbers.find(hash, |&(h, n)| {
            h == hash && slice(text, ends, n).as_bytes() == value
        }) {
            return Ok(number);
        }
        let value = std::str::from_utf8(value).map_err(|_| "text that is not UTF-8")?;
        let number =
            u32::try_from(self.ends.len()).map_err(|_| "more than 2^32 distinct identifiers")?;
        self.text.push_str(value);
        self.ends.push(self.text.len());
        self.numbers
            .insert_unique(hash, (hash, number), |&(h, _)| h);
        Ok(number)
    }

    /// The value numbered `number`; `None` when no value has it.
    pub(super) fn value(&self, number: u32) -> Option<&str> {
        ((number as usize) < self.ends.len()).then(|| slice(&self.text, &self.ends, number))
    }

    /// How many values the domain holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }
}

fn slice<'a>(text: &'a str, ends: &[usize], number: u32) -> &'a str {
    let number = number as usize;
    let start = if number == 0 { 0 } else { ends[number - 1] };
    &text[start..ends[number]]
}

/// The numbers of every domain of one snapshot.
#[derive(Default)]
pub(super) struct Ids {
    order: Interner,
    customer: Interner,
    person: Interner,
    product: Interner,
    seller: Interner,
}

impl Ids {
    pub(super) fn domain(&mut self, domain: Domain) -> &mut Interner {
        match domain {
            Domain::Order => &mut self.order,
            Domain::Customer => &mut self.customer,
            Domain::Person => &mut self.person,
            Domain::Product => &mut self.product,
            Domain::Seller => &mut self.seller,
        }
    }

    /// The values of `domain`, to turn its numbers back into text.
    pub(super) fn values(&self, domain: Domain) -> &Interner {
        match domain {
            Domain::Order => &self.order,
            Domain::Customer => &self.customer,
            Domain::Person => &self.person,
            Domain::Product => &self.product,
            Domain::Seller => &self.seller,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_a_number_and_come_back_unchanged() {
        let mut ids = Interner::default();
        let a = ids.number(b"9ef432eb6251297304e76186b10a928d").unwrap();
        let b = ids.number("caf\u{e9} \t".as_bytes()).unwrap();
        let empty = ids.number(b"").unwrap();
        assert_eq!((a, b, empty), (0, 1, 2));
        assert_eq!(ids.number(b"9ef432eb6251297304e76186b10a928d"), Ok(0));
        assert_eq!(ids.number(b""), Ok(2));
        assert_eq!(ids.len(), 3);
        assert_eq!(ids.value(1), Some("caf\u{e9} \t"));
        assert_eq!(ids.value(2), Some(""));
        assert_eq!(ids.value(3), None);
        assert!(ids.number(&[0xff, 0xfe]).is_err());
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn many_values_keep_their_numbers() {
        let mut ids = Interner::default();
        for i in 0..100_000u32 {
            assert_eq!(ids.number(format!("id-{i}").as_bytes()), Ok(i));
        }
        for i in (0..100_000u32).rev() {
            assert_eq!(ids.number(format!("id-{i}").as_bytes()), Ok(i));
            assert_eq!(ids.value(i), Some(format!("id-{i}").as_str()));
        }
    }

    #[test]
    fn domains_number_apart() {
        let mut ids = Ids::default();
        assert_eq!(ids.domain(Domain::Order).number(b"x"), Ok(0));
        assert_eq!(ids.domain(Domain::Person).number(b"y"), Ok(0));
        assert_eq!(ids.domain(Domain::Person).number(b"x"), Ok(1));
        assert_eq!(ids.values(Domain::Order).value(0), Some("x"));
        assert_eq!(ids.values(Domain::Person).value(1), Some("x"));
    }
}
