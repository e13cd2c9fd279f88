//! Dates and the formatting of fields without per-field allocations.

use chrono::NaiveDate;

use crate::random::Id;

pub(crate) const SECS_PER_DAY: i64 = 86_400;

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

pub(crate) fn days_since_epoch(date: NaiveDate) -> i64 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn push_id(buf: &mut Vec<u8>, id: &Id) {
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

pub(crate) fn push_uint(buf: &mut Vec<u8>, mut n: u64) {
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

pub(crate) fn push_opt_uint(buf: &mut Vec<u8>, n: Option<u32>) {
    if let Some(n) = n {
        push_uint(buf, u64::from(n));
    }
}

pub(crate) fn push_2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

pub(crate) fn push_money(buf: &mut Vec<u8>, cents: u32) {
    push_uint(buf, u64::from(cents / 100));
    buf.push(b'.');
    push_2(buf, cents % 100);
}

/// `YYYY-MM-DD HH:MM:SS` of seconds since 1970-01-01 00:00:00.
pub(crate) fn push_ts(buf: &mut Vec<u8>, secs: i64) {
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

pub(crate) fn push_opt_ts(buf: &mut Vec<u8>, secs: Option<i64>) {
    if let Some(s) = secs {
        push_ts(buf, s);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    #[test]
    fn calendar_helpers_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for z in (-800_000..800_000).step_by(997) {
            let d = epoch + chrono::Duration::days(z);
            assert_eq!(
                civil_from_days(z),
                (i64::from(d.year()), d.month(), d.day())
            );
        }
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
}
