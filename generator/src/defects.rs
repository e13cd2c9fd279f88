//! Defects: what kinds are injected into which file, the bad values, and the surgery on a
//! formatted line (rare, so allocations are fine).

use rand::Rng;

use crate::format::push_id;
use crate::random::Id;

/// Unparseable timestamps injected as `bad_timestamp`.
pub(crate) const BAD_TIMESTAMPS: [&str; 3] =
    ["2017-13-45 25:61:00", "yesterday", "2018-02-30 12:00:00"];
/// Well-formed timestamps outside 2000-01-01 ..= now, injected as `timestamp_out_of_window`.
pub(crate) const OUT_OF_WINDOW: [&str; 4] = [
    "1970-01-01 00:00:00",
    "1999-12-31 23:59:59",
    "2077-08-15 07:55:36",
    "2099-12-31 23:59:59",
];
/// Statuses outside the Olist set, injected as `bad_status`.
pub(crate) const BAD_STATUSES: [&str; 4] = ["delivred", "lost", "returned", "pending"];
/// Non-numeric or negative amounts, injected as `bad_number`.
pub(crate) const BAD_NUMBERS: [&str; 4] = ["12.5x", "-3.00", "-0.01", "1.2.3"];
/// Non-integers, injected as `bad_integer`.
pub(crate) const BAD_INTEGERS: [&str; 3] = ["1.5", "two", "#1"];

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

pub(crate) fn set_field(line: &mut Vec<u8>, idx: usize, value: &[u8]) {
    let mut fields = split_line(line);
    fields[idx] = value.to_vec();
    join_line(&fields, line);
}

pub(crate) fn id_field(id: &Id) -> Vec<u8> {
    let mut v = Vec::with_capacity(34);
    push_id(&mut v, id);
    v
}

/// Drops a field or inserts an extra one, never touching the first field.
pub(crate) fn shift_fields<R: Rng>(line: &mut Vec<u8>, rng: &mut R) {
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

pub(crate) fn pick<'a, R: Rng>(rng: &mut R, values: &[&'a str]) -> &'a [u8] {
    values[rng.gen_range(0..values.len())].as_bytes()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
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
    pub(crate) fn as_str(self) -> &'static str {
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

pub(crate) const ORDER_KINDS: [Kind; 8] = [
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
pub(crate) const ORDER_IN_PLACE: usize = 6;
pub(crate) const ITEM_KINDS: [Kind; 9] = [
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
pub(crate) const CUSTOMER_KINDS: [Kind; 4] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];
pub(crate) const PRODUCT_KINDS: [Kind; 5] = [
    Kind::FieldCount,
    Kind::MissingRequired,
    Kind::BadInteger,
    Kind::ExactDuplicate,
    Kind::ConflictingDuplicate,
];

#[cfg(test)]
mod tests {
    use olist::ORDER_STATUSES;

    use super::*;

    #[test]
    fn bad_statuses_are_not_olist_statuses() {
        for status in BAD_STATUSES {
            assert!(!ORDER_STATUSES.contains(&status), "{status}");
        }
    }
}
