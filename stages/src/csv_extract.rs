//! `csv_extract`: streams the four Olist files, `.csv` or `.csv.gz`, line by line with bounded memory.
//!
//! Each physical line is one record (Olist's files have no field spanning lines), so a line number is
//! exact, the raw text of a bad line can be quarantined as it is, and an unterminated quote spoils one
//! line instead of the rest of the file. Columns are matched by header name in any order; extra columns
//! are ignored; a missing column is fatal before anything is written. A UTF-8 byte order mark and CRLF
//! line ends are accepted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_compression::tokio::bufread::GzipDecoder;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::dataset::Dataset;
use crate::record::{Record, RecordBatch};
use crate::{Extract, ExtractCounts, Problem, Role, Source, Stage, StageConfig};

/// Options of the `csv_extract` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsvExtractConfig {
    /// File name of each dataset, relative to the data directory; `customers`, `products`, `orders`,
    /// `order_items`. A name that does not exist is also looked for with `.gz` appended.
    #[serde(default)]
    pub files: FileNames,
    /// Records per batch handed to the next stage.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest accepted line in bytes; a longer line is rejected (and never held whole in memory).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

/// The file name of each dataset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileNames {
    /// The customers file.
    #[serde(default = "default_customers_file")]
    pub customers: String,
    /// The products file.
    #[serde(default = "default_products_file")]
    pub products: String,
    /// The orders file.
    #[serde(default = "default_orders_file")]
    pub orders: String,
    /// The order items file.
    #[serde(default = "default_order_items_file")]
    pub order_items: String,
}

fn default_batch_size() -> usize {
    4096
}
fn default_max_line_bytes() -> usize {
    1024 * 1024
}
fn default_customers_file() -> String {
    Dataset::Customers.default_file().to_owned()
}
fn default_products_file() -> String {
    Dataset::Products.default_file().to_owned()
}
fn default_orders_file() -> String {
    Dataset::Orders.default_file().to_owned()
}
fn default_order_items_file() -> String {
    Dataset::OrderItems.default_file().to_owned()
}

impl Default for FileNames {
    fn default() -> Self {
        Self {
            customers: default_customers_file(),
            products: default_products_file(),
            orders: default_orders_file(),
            order_items: default_order_items_file(),
        }
    }
}

impl FileNames {
    fn for_dataset(&self, dataset: Dataset) -> &str {
        match dataset {
            Dataset::Customers => &self.customers,
            Dataset::Products => &self.products,
            Dataset::Orders => &self.orders,
            Dataset::OrderItems => &self.order_items,
        }
    }
}

impl Default for CsvExtractConfig {
    fn default() -> Self {
        Self {
            files: FileNames::default(),
            batch_size: default_batch_size(),
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

#[typetag::serde(name = "csv_extract")]
impl StageConfig for CsvExtractConfig {
    fn role(&self) -> Role {
        Role::Extract
    }

    fn about(&self) -> &'static str {
        "reads the four Olist CSV files (.csv or .csv.gz) from the data directory"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.batch_size == 0 {
            problems.push(Problem::new("batch_size", "must be at least 1, got 0"));
        }
        if self.max_line_bytes < 64 {
            problems.push(Problem::new(
                "max_line_bytes",
                format!("must be at least 64, got {}", self.max_line_bytes),
            ));
        }
        for dataset in Dataset::LOAD_ORDER {
            let name = self.files.for_dataset(dataset);
            let path = Path::new(name);
            if name.trim().is_empty() {
                problems.push(Problem::new(
                    format!("files.{dataset}"),
                    "must name a file, got \"\"",
                ));
            } else if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
                problems.push(Problem::new(
                    format!("files.{dataset}"),
                    format!("must be a name inside the data directory, got \"{name}\""),
                ));
            }
        }
        problems
    }

    fn build(&self) -> Stage {
        Stage::Extract(Box::new(CsvExtract {
            config: self.clone(),
        }))
    }
}

/// Why a file cannot be read. Fatal: the load writes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file is not there.
    #[error("{path}: file not found (neither it nor {path}.gz exists)")]
    Missing {
        /// The path looked for.
        path: PathBuf,
    },
    /// Reading failed (permissions, a truncated gzip stream, a disk error).
    #[error("{path}: cannot read{}: {source}", line.map(|l| format!(" after line {l}")).unwrap_or_default())]
    Io {
        /// The file.
        path: PathBuf,
        /// The last line read, if any.
        line: Option<u64>,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has no header line.
    #[error("{path}: file is empty (no header line)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The header cannot be used.
    #[error("{path}: {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The next stage stopped reading.
    #[error("{path}: the next stage stopped before the file was read to the end")]
    Closed {
        /// The file.
        path: PathBuf,
    },
}

/// The runtime `csv_extract` stage.
pub struct CsvExtract {
    config: CsvExtractConfig,
}

impl CsvExtract {
    fn locate(&self, data_dir: &Path, dataset: Dataset) -> Result<PathBuf, ExtractError> {
        let path = data_dir.join(self.config.files.for_dataset(dataset));
        if path.exists() {
            return Ok(path);
        }
        let mut gz = path.clone().into_os_string();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        if gz.exists() {
            Ok(gz)
        } else {
            Err(ExtractError::Missing { path })
        }
    }
}

type Lines = Box<dyn AsyncBufRead + Unpin + Send>;

async fn open_lines(path: &Path) -> Result<Lines, ExtractError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|source| ExtractError::Io {
            path: path.to_owned(),
            line: None,
            source,
        })?;
    let buffered = BufReader::with_capacity(256 * 1024, file);
    if path.extension().is_some_and(|e| e == "gz") {
        let decoder = GzipDecoder::new(buffered);
        Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The end of the input.
    End,
    /// A line, now in the buffer without its line end.
    Complete,
    /// A line longer than the limit, of this many bytes; the buffer holds its beginning.
    TooLong(u64),
}

/// Reads one physical line into `buf` without its line end, keeping at most `limit` bytes of it in
/// memory however long the line is.
async fn read_line(reader: &mut Lines, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<Line> {
    buf.clear();
    let mut total: u64 = 0;
    let mut ended = false;
    while !ended {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let take = match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                ended = true;
                i + 1
            }
            None => available.len(),
        };
        let room = (limit + 2).saturating_sub(buf.len()).min(take);
        buf.extend_from_slice(&available[..room]);
        total += take as u64;
        reader.consume(take);
    }
    if total == 0 {
        return Ok(Line::End);
    }
    if ended {
        total -= 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
    }
    if total as usize > limit + 1 || (total as usize == limit + 1 && buf.last() != Some(&b'\r')) {
        buf.truncate(limit);
        return Ok(Line::TooLong(total));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Complete)
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

async fn read_header(
    path: &Path,
    reader: &mut Lines,
    limit: usize,
) -> Result<Vec<String>, ExtractError> {
    let mut buf = Vec::new();
    let io = |source| ExtractError::Io {
        path: path.to_owned(),
        line: None,
        source,
    };
    match read_line(reader, &mut buf, limit).await.map_err(io)? {
        Line::End => {
            return Err(ExtractError::Empty {
                path: path.to_owned(),
            });
        }
        Line::TooLong(n) => {
            return Err(ExtractError::Header {
                path: path.to_owned(),
                message: format!("header line is {n} bytes, longer than max_line_bytes ({limit})"),
            });
        }
        Line::Complete => {}
    }
    let bytes = buf.strip_prefix(BOM).unwrap_or(&buf);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ExtractError::Empty {
            path: path.to_owned(),
        });
    }
    if let Some(delimiter) = other_delimiter(bytes) {
        return Err(ExtractError::Header {
            path: path.to_owned(),
            message: format!("header is separated by {delimiter:?}, not by commas"),
        });
    }
    split_line(bytes).map_err(|reason| ExtractError::Header {
        path: path.to_owned(),
        message: format!("header line is not a CSV record: {reason}"),
    })
}

/// The delimiter of a header that has no comma but several semicolons, tabs or pipes.
fn other_delimiter(header: &[u8]) -> Option<char> {
    if header.contains(&b',') {
        return None;
    }
    [';', '\t', '|']
        .into_iter()
        .find(|&d| header.iter().filter(|&&b| b == d as u8).count() >= 2)
}

/// Maps each of the dataset's columns to its index in `header`, or says every column that is missing
/// or repeated.
pub fn map_header(dataset: Dataset, header: &[String]) -> Result<Vec<usize>, String> {
    // Names are matched without surrounding blanks and without regard to ASCII case.
    let mut positions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, name) in header.iter().enumerate() {
        positions
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(i);
    }
    let mut missing = Vec::new();
    let mut repeated = Vec::new();
    let mut index = Vec::new();
    for column in dataset.columns() {
        let found: Vec<usize> = [Some(column.csv), column.csv_alias]
            .into_iter()
            .flatten()
            .flat_map(|name| positions.get(name).cloned().unwrap_or_default())
            .collect();
        match found.as_slice() {
            [] => missing.push(format!("\"{}\"", column.csv)),
            [i] => index.push(*i),
            _ => repeated.push(format!("\"{}\"", column.csv)),
        }
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 {
            "column"
        } else {
            "columns"
        };
        problems.push(format!(
            "header lacks required {plural} {}",
            missing.join(", ")
        ));
    }
    if !repeated.is_empty() {
        problems.push(format!("header repeats column {}", repeated.join(", ")));
    }
    if problems.is_empty() {
        Ok(index)
    } else {
        let shown: Vec<&str> = header.iter().map(String::as_str).take(12).collect();
        Err(format!(
            "{} (header: {})",
            problems.join("; "),
            shown.join(",")
        ))
    }
}

#[async_trait]
impl Extract for CsvExtract {
    async fn open(&self, data_dir: &Path, dataset: Dataset) -> Result<Source, ExtractError> {
        let path = self.locate(data_dir, dataset)?;
        let mut reader = open_lines(&path).await?;
        let header = read_header(&path, &mut reader, self.config.max_line_bytes).await?;
        let column_index =
            map_header(dataset, &header).map_err(|message| ExtractError::Header {
                path: path.clone(),
                message,
            })?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Source {
            dataset,
            path,
            file_name,
            column_index,
            header_len: header.len(),
        })
    }

    async fn stream(
        &self,
        source: &Source,
        tx: mpsc::Sender<RecordBatch>,
    ) -> Result<ExtractCounts, ExtractError> {
        let path = &source.path;
        let mut reader = open_lines(path).await?;
        let limit = self.config.max_line_bytes;
        read_header(path, &mut reader, limit).await?;
        let mut counts = ExtractCounts::default();
        let mut line_number: u64 = 1;
        let mut buf = Vec::with_capacity(1024);
        let mut batch = Vec::with_capacity(self.config.batch_size);
        loop {
            let line = read_line(&mut reader, &mut buf, limit)
                .await
                .map_err(|source| ExtractError::Io {
                    path: path.clone(),
                    line: Some(line_number),
                    source,
                })?;
            let record = match line {
                Line::End => break,
                Line::TooLong(bytes) => {
                    line_number += 1;
                    too_long_record(line_number, &buf, bytes, limit)
                }
                Line::Complete => {
                    line_number += 1;
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        counts.blank_lines += 1;
                        continue;
                    }
                    parse_record(line_number, &buf)
                }
            };
            counts.records += 1;
            batch.push(record);
            if batch.len() >= self.config.batch_size {
                let full =
                    std::mem::replace(&mut batch, Vec::with_capacity(self.config.batch_size));
                tx.send(full)
                    .await
                    .map_err(|_| ExtractError::Closed { path: path.clone() })?;
            }
        }
        if !batch.is_empty() {
            tx.send(batch)
                .await
                .map_err(|_| ExtractError::Closed { path: path.clone() })?;
        }
        Ok(counts)
    }
}

/// Makes a [`Record`] of one physical line.
pub fn parse_record(line: u64, bytes: &[u8]) -> Record {
    let raw = String::from_utf8_lossy(bytes).replace('\0', "\u{FFFD}");
    let fields = split_line(bytes).map_err(|e| format!("malformed CSV record: {e}"));
    Record { line, raw, fields }
}

/// The record of a line longer than the limit: rejected, its text kept up to the limit.
fn too_long_record(line: u64, kept: &[u8], bytes: u64, limit: usize) -> Record {
    let mut raw = String::from_utf8_lossy(kept).replace('\0', "\u{FFFD}");
    raw.push_str(" [truncated]");
    Record {
        line,
        raw,
        fields: Err(format!(
            "line is {bytes} bytes, longer than max_line_bytes ({limit})"
        )),
    }
}

/// Splits one CSV line (RFC 4180 quoting: `"` around a field, `""` for a quote inside one) into its
/// fields. Fails on an unterminated quote, text after a closing quote, or invalid UTF-8.
pub fn split_line(bytes: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1))?;
    if text.contains('\0') {
        return Err("the line contains a NUL byte".to_owned());
    }
    let mut fields = Vec::with_capacity(16);
    let mut chars = text.char_indices().peekable();
    let mut field = String::new();
    loop {
        // Start of a field.
        if let Some(&(start, '"')) = chars.peek() {
            chars.next();
            loop {
                match chars.next() {
                    Some((_, '"')) => {
                        if let Some(&(_, '"')) = chars.peek() {
                            chars.next();
                            field.push('"');
                        } else {
                            break;
                        }
                    }
                    Some((_, c)) => field.push(c),
                    None => {
                        return Err(format!(
                            "unterminated quoted field starting at character {} of the line",
                            text[..start].chars().count() + 1
                        ));
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    return Ok(fields);
                }
                Some((_, ',')) => fields.push(std::mem::take(&mut field)),
                Some((at, c)) => {
                    return Err(format!(
                        "unexpected {c:?} after a closing quote at character {} of the line",
                        text[..at].chars().count() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(std::mem::take(&mut field));
                        return Ok(fields);
                    }
                    Some((_, ',')) => {
                        fields.push(std::mem::take(&mut field));
                        break;
                    }
                    Some((at, '"')) => {
                        return Err(format!(
                            "stray quote inside an unquoted field at character {} of the line",
                            text[..at].chars().count() + 1
                        ));
                    }
                    Some((_, c)) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, String> {
        split_line(s.as_bytes())
    }

    #[test]
    fn splits_quoted_and_unquoted_fields() {
        assert_eq!(
            split(r#""a",b,"c,d","e""f""#).unwrap(),
            vec!["a", "b", "c,d", "e\"f"]
        );
        assert_eq!(split("a,,").unwrap(), vec!["a", "", ""]);
        assert_eq!(split("").unwrap(), vec![""]);
        assert_eq!(split(r#""""#).unwrap(), vec![""]);
    }

    #[test]
    fn rejects_unterminated_quote() {
        assert_eq!(
            split(r#"a,"bc"#).unwrap_err(),
            "unterminated quoted field starting at character 3 of the line"
        );
    }

    #[test]
    fn rejects_text_after_closing_quote_and_stray_quotes() {
        assert!(
            split(r#""ab"c,d"#)
                .unwrap_err()
                .starts_with("unexpected 'c' after a closing quote")
        );
        assert!(
            split(r#"ab"c,d"#)
                .unwrap_err()
                .starts_with("stray quote inside an unquoted field")
        );
    }

    #[test]
    fn rejects_invalid_utf8_and_nul() {
        assert_eq!(
            split_line(b"ab,\xffc").unwrap_err(),
            "invalid UTF-8 at byte 4 of the line"
        );
        assert_eq!(
            split_line(b"a\0b").unwrap_err(),
            "the line contains a NUL byte"
        );
        let record = parse_record(7, b"ab,\xffc");
        assert_eq!(record.raw, "ab,\u{FFFD}c");
        assert_eq!(
            record.fields.unwrap_err(),
            "malformed CSV record: invalid UTF-8 at byte 4 of the line"
        );
        assert_eq!(record.line, 7);
    }

    #[test]
    fn header_matches_by_name_in_any_order_and_ignores_extras() {
        let header: Vec<String> = [
            "customer_state",
            "extra",
            "customer_city",
            "customer_zip_code_prefix",
            "customer_unique_id",
            "customer_id",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            map_header(Dataset::Customers, &header).unwrap(),
            vec![5, 4, 3, 2, 0]
        );
    }

    #[test]
    fn header_missing_and_repeated_columns_are_named() {
        let header: Vec<String> = [
            "customer_id",
            "customer_id",
            "customer_city",
            "customer_state",
            "customer_zip_code_prefix",
        ]
        .map(String::from)
        .to_vec();
        let message = map_header(Dataset::Customers, &header).unwrap_err();
        assert!(message.starts_with(
            "header lacks required column \"customer_unique_id\"; header repeats column \"customer_id\""
        ), "{message}");
    }

    #[test]
    fn header_names_ignore_case_and_blanks() {
        let header: Vec<String> = [
            " Customer_ID",
            "CUSTOMER_UNIQUE_ID ",
            "customer_zip_code_prefix",
            "Customer_City",
            "customer_state",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            map_header(Dataset::Customers, &header).unwrap(),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn corrected_spelling_is_accepted_for_products() {
        let header: Vec<String> = [
            "product_id",
            "product_category_name",
            "product_name_length",
            "product_description_lenght",
            "product_photos_qty",
            "product_weight_g",
            "product_length_cm",
            "product_height_cm",
            "product_width_cm",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            map_header(Dataset::Products, &header).unwrap(),
            (0..9).collect::<Vec<_>>()
        );
    }

    async fn stream_file(
        content: &[u8],
        name: &str,
    ) -> Result<(Source, Vec<Record>, ExtractCounts), ExtractError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), content).unwrap();
        let mut config = CsvExtractConfig::default();
        config.files.customers = "c.csv".into();
        config.batch_size = 2;
        let extract = CsvExtract { config };
        let source = extract.open(dir.path(), Dataset::Customers).await?;
        let (tx, mut rx) = mpsc::channel(100);
        let counts = extract.stream(&source, tx).await?;
        let mut records = Vec::new();
        while let Some(batch) = rx.recv().await {
            records.extend(batch);
        }
        Ok((source, records, counts))
    }

    const HEADER: &str = "\"customer_id\",\"customer_unique_id\",\"customer_zip_code_prefix\",\"customer_city\",\"customer_state\"";

    #[tokio::test]
    async fn bom_and_crlf_are_accepted_and_line_numbers_are_physical() {
        let content = format!(
            "\u{FEFF}{HEADER}\r\n\"a\",\"b\",\"01\",x,SP\r\n\r\n\"c\",\"d\",\"02\",y,RJ\r\n"
        );
        let (_, records, counts) = stream_file(content.as_bytes(), "c.csv").await.unwrap();
        assert_eq!(
            counts,
            ExtractCounts {
                records: 2,
                blank_lines: 1
            }
        );
        assert_eq!(records[0].line, 2);
        assert_eq!(records[0].raw, "\"a\",\"b\",\"01\",x,SP");
        assert_eq!(records[1].line, 4);
        assert_eq!(records[1].fields.as_ref().unwrap()[3], "y");
    }

    #[tokio::test]
    async fn gzip_files_are_read_and_truncated_ones_fail() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let content = format!("{HEADER}\n\"a\",\"b\",\"01\",x,SP\n");
        encoder.write_all(content.as_bytes()).unwrap();
        let gz = encoder.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csv.gz"), &gz).unwrap();
        let mut config = CsvExtractConfig::default();
        config.files.customers = "c.csv".into();
        let extract = CsvExtract { config };
        let source = extract.open(dir.path(), Dataset::Customers).await.unwrap();
        let (tx, _rx) = mpsc::channel(100);
        assert_eq!(extract.stream(&source, tx).await.unwrap().records, 1);

        std::fs::write(dir.path().join("c.csv.gz"), &gz[..gz.len() - 12]).unwrap();
        let (tx, _rx) = mpsc::channel(100);
        let err = extract.stream(&source, tx).await.unwrap_err();
        assert!(matches!(err, ExtractError::Io { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_line_longer_than_the_limit_is_one_rejected_record_and_reading_goes_on() {
        let long = "x".repeat(10 * 1024 * 1024);
        let content =
            format!("{HEADER}\n\"a\",\"b\",\"01\",{long},SP\n\"c\",\"d\",\"02\",y,RJ\r\n");
        let (_, records, counts) = stream_file(content.as_bytes(), "c.csv").await.unwrap();
        assert_eq!(counts.records, 2);
        assert_eq!(
            records[0].fields.as_ref().unwrap_err(),
            &format!(
                "line is {} bytes, longer than max_line_bytes (1048576)",
                long.len() + 16
            )
        );
        assert!(records[0].raw.len() < 1024 * 1024 + 20);
        assert!(records[0].raw.ends_with(" [truncated]"));
        assert_eq!(records[1].line, 3);
        assert_eq!(records[1].fields.as_ref().unwrap()[3], "y");
    }

    #[test]
    fn other_delimiters_are_recognised() {
        assert_eq!(other_delimiter(b"\"a\";\"b\";\"c\""), Some(';'));
        assert_eq!(other_delimiter(b"a\tb\tc"), Some('\t'));
        assert_eq!(other_delimiter(b"a,b;c;d"), None);
        assert_eq!(other_delimiter(b"a"), None);
    }

    #[tokio::test]
    async fn empty_file_and_missing_columns_are_fatal() {
        let err = stream_file(b"", "c.csv").await.unwrap_err();
        assert_eq!(
            err.to_string().rsplit_once(": ").unwrap().1,
            "file is empty (no header line)"
        );
        let err = stream_file(b"customer_id,customer_uniq\n", "c.csv")
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("header lacks required columns \"customer_unique_id\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn missing_file_names_the_path() {
        let err = stream_file(b"", "other.csv").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("c.csv: file not found (neither it nor"),
            "{err}"
        );
    }
}
