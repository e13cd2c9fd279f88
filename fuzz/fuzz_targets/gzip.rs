//! Fuzz target: the gzip path of the extract. The input is cut into gzip members at positions the
//! input itself chooses (inside the header, inside a line, anywhere), optionally followed by trailing
//! bytes, and read through buffers of a size it chooses. Reading must not panic; without trailing
//! bytes it must give exactly what reading the plain text gives, and with trailing bytes that are not
//! a gzip member it must fail.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use stages::extractors::csv_extract::{ReadBytes, read_bytes};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn read(bytes: Vec<u8>, gz: bool, buffer_size: usize) -> Result<ReadBytes, String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(read_bytes(bytes, gz, 256, buffer_size))
        .map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    // Layout: [cuts] [buffer size] [trailing length] [cut positions, 2 bytes each] [text...]
    let [cuts, buffer_size, trailing, rest @ ..] = data else {
        return;
    };
    let cuts = usize::from(*cuts % 5);
    let buffer_size = usize::from(*buffer_size % 32) + 1;
    let trailing = usize::from(*trailing % 4);
    if rest.len() < cuts * 2 {
        return;
    }
    let (positions, text) = rest.split_at(cuts * 2);
    let mut at: Vec<usize> = positions
        .chunks(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])) % (text.len() + 1))
        .collect();
    at.push(0);
    at.push(text.len());
    at.sort_unstable();
    let mut gz = Vec::new();
    for pair in at.windows(2) {
        gz.extend(gzip(&text[pair[0]..pair[1]]));
    }
    let plain = read(text.to_vec(), false, buffer_size);
    if trailing == 0 {
        assert_eq!(read(gz, true, buffer_size), plain, "members at {at:?}");
    } else {
        // Bytes that cannot start a gzip member: the last text bytes, with the first one changed.
        let mut garbage: Vec<u8> = text.iter().rev().take(trailing).copied().collect();
        garbage.resize(trailing, b'x');
        if garbage[0] == 0x1f {
            garbage[0] = b'x';
        }
        gz.extend(&garbage);
        let result = read(gz, true, buffer_size);
        // A header problem may be found first; otherwise the trailing bytes are.
        assert!(
            result.is_err(),
            "trailing {garbage:?} after members at {at:?} went unnoticed"
        );
    }
});
