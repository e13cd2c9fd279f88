//! The output files: each written through a buffer, its defect entries spilled to a temporary
//! file, gathered into `manifest.json` at the end.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use olist::Dataset;

use crate::defects::Kind;
use crate::{GenerateOptions, GenerateSummary, MANIFEST_FILE};

const BUF_SIZE: usize = 1 << 20;

/// The header line of `dataset`'s file: Olist's name of every column (misspellings included), quoted,
/// in the dataset's column order, which is the order the records are formatted in.
fn header(dataset: Dataset) -> String {
    let names: Vec<String> = dataset
        .columns()
        .iter()
        .map(|column| format!("\"{}\"", column.csv))
        .collect();
    format!("{}\n", names.join(","))
}

pub(crate) struct Sink {
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
    /// Creates `dataset`'s file (Olist's name for it) in `dir` and writes its header.
    pub(crate) fn create(dir: &Path, dataset: Dataset) -> Result<Sink> {
        let name = dataset.default_file();
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
        sink.write(header(dataset).as_bytes())?;
        Ok(sink)
    }

    /// Writes one line (ending with LF) and returns its physical line number.
    pub(crate) fn write(&mut self, line: &[u8]) -> io::Result<u64> {
        self.w.write_all(line)?;
        self.lines += 1;
        Ok(self.lines)
    }

    /// Writes a line and records it as defective.
    pub(crate) fn write_defect(&mut self, line: &[u8], kind: Kind) -> io::Result<()> {
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

/// Flushes the files (customers, orders, order items, products), writes `manifest.json` from their
/// spilled defect entries and removes the spill files.
pub(crate) fn write_manifest(
    opts: &GenerateOptions,
    mut sinks: [Sink; 4],
) -> Result<GenerateSummary> {
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
