//! Keys two lines may share, found while a file streams into staging, so that the key rule (see
//! [`super::set_rules`]) looks only where a duplicate can be.
//!
//! Each staged line's key goes into a Bloom filter as the line is copied. A key the filter has not
//! seen is certainly new to the file; a key it may have seen (a second line of the key, or a false
//! positive) is a candidate, and its first column's value is kept. So:
//!
//! - no candidate: no two staged lines share a key, and the key rule would change nothing;
//! - some candidates: every key two lines share is among them (its second line was a candidate),
//!   and the key rule runs over the lines whose first key column is a candidate's
//!   (`key_rule_among`), which hold every line of every shared key, with the same outcome and
//!   reasons as over the whole file;
//! - more than [`MAX_CANDIDATES`] (a file with many duplicates): the key rule runs over every line,
//!   as it would without the filter.
//!
//! The values hashed are the ones `COPY` sends (the validator's normalised text: trimmed
//! identifiers, integers in canonical form), which `PostgreSQL` compares byte for byte, so two
//! lines equal in the staging table hash the same. The key rule's lines (those still accepted
//! after the other set rules) are a subset of the staged ones, so what holds for the staged lines
//! holds for them.

use std::hash::{BuildHasher, Hash, Hasher};

use fastbloom::BloomFilter;
use olist::Dataset;

use crate::core::record::ValidatedBatch;

/// At most this many candidates are kept (about 4 MB of keys); past it the key rule looks at
/// every line.
pub const MAX_CANDIDATES: usize = 100_000;

/// The filter's size bounds, in bits: 128 KiB to 16 MiB of memory. At the cap, a file of 11 million
/// distinct keys gives some thousands of false candidates, far below [`MAX_CANDIDATES`].
const MIN_BITS: u64 = 1 << 20;
const MAX_BITS: u64 = 1 << 27;

/// Bits set per key.
const HASHES: u32 = 8;

/// Where the key rule must look, as found while the file streamed.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// No two staged lines share a key.
    Unique,
    /// Every key two staged lines share has its first column among these (sorted, distinct).
    Among(Vec<String>),
    /// Anywhere.
    Everywhere,
}

/// Watches the keys of one file's staged lines.
pub struct KeyWatch {
    filter: BloomFilter,
    hasher: std::collections::hash_map::RandomState,
    /// The key's columns, as indexes into a row's values.
    key: Vec<usize>,
    /// The first key column of each line the filter may have seen before; `None` once there were
    /// more than [`MAX_CANDIDATES`].
    candidates: Option<Vec<String>>,
}

impl KeyWatch {
    /// A watch for `dataset`'s keys in a file of `file_bytes` bytes (the filter gets a bit per four
    /// bytes, rounded up to a power of two, within [`MIN_BITS`] and [`MAX_BITS`]: at least 10 bits
    /// per line for lines of 40 bytes or more until the cap; `compressed` files count eight times
    /// their size).
    #[must_use]
    pub fn new(dataset: Dataset, file_bytes: u64, compressed: bool) -> Self {
        let bytes = if compressed {
            file_bytes.saturating_mul(8)
        } else {
            file_bytes
        };
        let bits = (bytes / 4).clamp(MIN_BITS, MAX_BITS).next_power_of_two();
        let columns = dataset.columns();
        let key = dataset
            .key()
            .iter()
            .map(|name| {
                columns
                    .iter()
                    .position(|c| c.table == *name)
                    .expect("olist's keys name its columns")
            })
            .collect();
        Self {
            filter: BloomFilter::with_num_bits(usize::try_from(bits).unwrap_or(usize::MAX))
                .hashes(HASHES),
            hasher: std::collections::hash_map::RandomState::new(),
            key,
            candidates: Some(Vec::new()),
        }
    }

    /// Sees the lines of `batch` that are staged (its valid rows).
    pub fn see(&mut self, batch: &ValidatedBatch) {
        for row in &batch.rows {
            let mut hasher = self.hasher.build_hasher();
            for &at in &self.key {
                row.values[at].hash(&mut hasher);
            }
            if self.filter.insert_hash(hasher.finish())
                && let Some(candidates) = &mut self.candidates
            {
                if candidates.len() == MAX_CANDIDATES {
                    self.candidates = None;
                } else {
                    // A key column is required, so the value is there; an absent one would compare
                    // as NULL in SQL and share no key, but is kept as "" to stay on the safe side.
                    candidates.push(row.values[self.key[0]].clone().unwrap_or_default());
                }
            }
        }
    }

    /// Where the key rule must look.
    #[must_use]
    pub fn finish(self) -> KeyCheck {
        match self.candidates {
            None => KeyCheck::Everywhere,
            Some(candidates) if candidates.is_empty() => KeyCheck::Unique,
            Some(mut candidates) => {
                candidates.sort_unstable();
                candidates.dedup();
                KeyCheck::Among(candidates)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::ValidRow;

    fn batch(keys: &[(&str, &str)]) -> ValidatedBatch {
        ValidatedBatch {
            rows: keys
                .iter()
                .enumerate()
                .map(|(i, (order, item))| ValidRow {
                    line: i as u64 + 2,
                    raw: String::new(),
                    values: vec![
                        Some((*order).to_owned()),
                        Some((*item).to_owned()),
                        Some("p".to_owned()),
                        Some("s".to_owned()),
                        None,
                        None,
                        None,
                    ],
                })
                .collect(),
            rejections: Vec::new(),
        }
    }

    #[test]
    fn distinct_keys_are_unique_and_a_shared_key_is_a_candidate() {
        let mut watch = KeyWatch::new(Dataset::OrderItems, 1 << 20, false);
        // The same order with other item numbers, and the same item number in other orders, are
        // other keys.
        watch.see(&batch(&[("a", "1"), ("a", "2"), ("b", "1"), ("ab", "1")]));
        watch.see(&batch(&[("c", "1")]));
        assert_eq!(watch.finish(), KeyCheck::Unique);

        let mut watch = KeyWatch::new(Dataset::OrderItems, 1 << 20, false);
        watch.see(&batch(&[("a", "1"), ("b", "1")]));
        watch.see(&batch(&[("b", "1"), ("a", "2"), ("b", "1")]));
        assert_eq!(watch.finish(), KeyCheck::Among(vec!["b".to_owned()]));
    }

    #[test]
    fn past_the_limit_the_rule_looks_everywhere() {
        let mut watch = KeyWatch::new(Dataset::OrderItems, 1 << 20, false);
        let keys: Vec<String> = (0..=MAX_CANDIDATES).map(|i| i.to_string()).collect();
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "1")).collect();
        watch.see(&batch(&pairs));
        watch.see(&batch(&pairs));
        assert_eq!(watch.finish(), KeyCheck::Everywhere);
    }

    #[test]
    fn the_filter_is_sized_from_the_file_within_bounds() {
        for (bytes, compressed, bits) in [
            (0, false, MIN_BITS),
            (155_000_000, false, 1 << 26),
            (155_000_000, true, MAX_BITS),
            (u64::MAX, false, MAX_BITS),
        ] {
            let watch = KeyWatch::new(Dataset::Customers, bytes, compressed);
            assert_eq!(watch.filter.num_bits() as u64, bits, "{bytes} {compressed}");
        }
    }
}
