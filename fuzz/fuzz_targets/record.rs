//! Fuzz target: the record parser and the row rules on arbitrary bytes. Neither may panic, and a
//! line that parses must give the same fields after being written back as CSV and parsed again.

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use stages::Source;
use stages::extractors::csv_extract::{parse_record, split_line};
use olist::Dataset;
use stages::validators::validate::rules::{Window, check_record};

fn window() -> Window {
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    Window {
        earliest: at("2000-01-01 00:00:00"),
        latest_event: at("2026-11-29 12:00:00"),
        latest_planned: at("2027-11-30 12:00:00"),
        latest_is_run_time: true,
        planned_days_ahead: 366,
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.is_empty() {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fuzz_target!(|data: &[u8]| {
    let record = parse_record(2, data);
    if let Ok(fields) = &record.fields {
        let line = fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",");
        assert_eq!(split_line(line.as_bytes()).as_ref(), Ok(fields), "round trip of {line:?}");
    }
    for dataset in Dataset::LOAD_ORDER {
        let columns = dataset.columns().len();
        let source = Source {
            dataset,
            path: PathBuf::from("fuzz.csv"),
            file_name: "fuzz.csv".to_owned(),
            column_index: (0..columns).collect(),
            header_len: columns,
        };
        let _ = check_record(&source, &window(), record.clone());
    }
});
