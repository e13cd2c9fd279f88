//! `csv_extract`: streams the four Olist files, `.csv` or `.csv.gz`, line by line with bounded memory.
//!
//! Each physical line is one record (Olist's files have no field spanning lines), so a line number is
//! exact, the raw text of a bad line can be quarantined as it is, and an unterminated quote spoils one
//! line instead of the rest of the file. Columns are matched by header name in any order; extra columns
//! are ignored; a missing column is fatal before anything is written. A UTF-8 byte order mark and CRLF
//! line ends are accepted.
//!
//! Only regular files are read (a named pipe or a device could block or never end), and a gzip file
//! is read member after member to its end: `cat a.gz b.gz` is one valid gzip file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_compression::tokio::bufread::GzipDecoder;
use async_trait::async_trait;
use olist::Dataset;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};
use tokio::sync::mpsc;

use crate::core::digest::{DigestHandle, DigestingReader, FileDigest, FileStamp};
use crate::core::record::{Record, RecordBatch};
use crate::core::text::visible;
use crate::core::{
    BuildError, Extract, ExtractCounts, ExtractError, Problem, Role, Source, Stage, StageConfig,
    StageContext,
};

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

/// The file name of each dataset; a name not given is Olist's ([`Dataset::default_file`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FileNames {
    /// The customers file.
    pub customers: String,
    /// The products file.
    pub products: String,
    /// The orders file.
    pub orders: String,
    /// The order items file.
    pub order_items: String,
}

fn default_batch_size() -> usize {
    4096
}
fn default_max_line_bytes() -> usize {
    1024 * 1024
}

/// The largest accepted `batch_size`: a batch is held in memory whole.
pub const MAX_BATCH_SIZE: usize = 1_000_000;
/// The largest accepted `max_line_bytes` (256 MiB): the kept part of a long line is stored as one
/// text value.
pub const MAX_LINE_BYTES_LIMIT: usize = 256 * 1024 * 1024;
impl Default for FileNames {
    fn default() -> Self {
        Self {
            customers: Dataset::Customers.default_file().to_owned(),
            products: Dataset::Products.default_file().to_owned(),
            orders: Dataset::Orders.default_file().to_owned(),
            order_items: Dataset::OrderItems.default_file().to_owned(),
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
        problems.extend(Problem::outside(
            "batch_size",
            self.batch_size,
            1..=MAX_BATCH_SIZE,
            None,
        ));
        problems.extend(Problem::outside(
            "max_line_bytes",
            self.max_line_bytes,
            64..=MAX_LINE_BYTES_LIMIT,
            None,
        ));
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

    fn build(&self, ctx: &StageContext) -> Result<Stage, BuildError> {
        Ok(Stage::Extract(Box::new(CsvExtract {
            config: self.clone(),
            data_dir: ctx.data_dir.clone(),
        })))
    }
}

crate::register_stage_type!("csv_extract", CsvExtractConfig);

/// The runtime `csv_extract` stage.
pub struct CsvExtract {
    config: CsvExtractConfig,
    data_dir: PathBuf,
}

impl CsvExtract {
    fn locate(&self, dataset: Dataset) -> Result<PathBuf, ExtractError> {
        let path = self.data_dir.join(self.config.files.for_dataset(dataset));
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

/// What a file that is not a regular file is.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a named pipe";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a plain file"
    }
}

/// An open file being read: what it looked like when reading began, and a second handle on it to
/// look again at the end.
struct Watched {
    handle: std::fs::File,
    start: FileStamp,
    digest: DigestHandle,
}

impl Watched {
    /// The digest of what was read, once the reader reached the end, or an error if the file changed
    /// while it was read: its size or modification time moved, or fewer or more bytes were read
    /// than it held. (A path replaced by a rename is no change: the handle still reads the old file
    /// whole.)
    fn finish(&self, path: &Path) -> Result<FileDigest, ExtractError> {
        let digest = self.digest.current();
        let end = self
            .handle
            .metadata()
            .map(|m| FileStamp::from(&m))
            .map_err(|cause| ExtractError::Io {
                path: path.to_owned(),
                line: None,
                cause,
            })?;
        if end != self.start || digest.bytes != self.start.len {
            return Err(ExtractError::Changed {
                path: path.to_owned(),
                before: self.start.len,
                after: end.len,
                read: digest.bytes,
            });
        }
        Ok(digest)
    }
}

async fn open_lines(path: &Path) -> Result<(Lines, Watched), ExtractError> {
    let io = |cause| ExtractError::Io {
        path: path.to_owned(),
        line: None,
        cause,
    };
    let not_regular = |file_type| ExtractError::NotRegular {
        path: path.to_owned(),
        kind: file_kind(file_type),
    };
    // Checked before opening: opening a named pipe blocks until a writer comes, and a device may
    // never end. Checked again on the handle, in case the path was replaced in between.
    let metadata = tokio::fs::metadata(path).await.map_err(io)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let metadata = file.metadata().await.map_err(io)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    let watched = Watched {
        handle: file.try_clone().await.map_err(io)?.into_std().await,
        start: FileStamp::from(&metadata),
        digest: DigestHandle::default(),
    };
    let buffered = BufReader::with_capacity(
        256 * 1024,
        DigestingReader::new(file, watched.digest.clone()),
    );
    let lines: Lines = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            GzipMembers::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    Ok((lines, watched))
}

/// Decompresses every member of a gzip stream in turn. Concatenated members are one valid gzip file
/// (`cat a.gz b.gz`, or `gzip -c >>`), and a member boundary may fall anywhere, even inside a line.
/// After the last member only the end of the input may follow: anything else is an error that says
/// which member it follows.
pub struct GzipMembers<R> {
    /// The decoder of the current member; `None` once the input has ended.
    decoder: Option<GzipDecoder<R>>,
    /// The number of the current member, from 1.
    member: u64,
}

impl<R: AsyncBufRead + Unpin> GzipMembers<R> {
    /// Reads the gzip members of `input`.
    pub fn new(input: R) -> Self {
        Self {
            decoder: Some(GzipDecoder::new(input)),
            member: 1,
        }
    }
}

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl<R: AsyncBufRead + Unpin> AsyncRead for GzipMembers<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            let Some(decoder) = this.decoder.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            let before = buf.filled().len();
            if let Err(e) = ready!(Pin::new(&mut *decoder).poll_read(cx, buf)) {
                return Poll::Ready(Err(if this.member > 1 {
                    std::io::Error::new(e.kind(), format!("gzip member {}: {e}", this.member))
                } else {
                    e
                }));
            }
            if buf.filled().len() > before || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // The member ended (a member cut short is an error above): see what follows it.
            let rest = ready!(Pin::new(decoder.get_mut()).poll_fill_buf(cx))?;
            let Some(&first) = rest.first() else {
                this.decoder = None;
                return Poll::Ready(Ok(()));
            };
            if !GZIP_MAGIC.starts_with(&rest[..rest.len().min(2)]) {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the data after gzip member {} is not a gzip member (it starts with byte 0x{first:02x}); \
                         the file has trailing garbage",
                        this.member
                    ),
                )));
            }
            let input = this
                .decoder
                .take()
                .expect("the decoder is present")
                .into_inner();
            this.decoder = Some(GzipDecoder::new(input));
            this.member += 1;
        }
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
/// memory however long the line is. With `give_up`, stops reading as soon as the line is known to
/// be too long ([`Line::TooLong`] then counts only the bytes read so far).
async fn read_line(
    reader: &mut Lines,
    buf: &mut Vec<u8>,
    limit: usize,
    give_up: bool,
) -> std::io::Result<Line> {
    buf.clear();
    let mut total: u64 = 0;
    let mut ended = false;
    while !ended {
        if give_up && buf.len() > limit + 1 {
            buf.truncate(limit);
            return Ok(Line::TooLong(total));
        }
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
    let io = |cause| ExtractError::Io {
        path: path.to_owned(),
        line: None,
        cause,
    };
    // The header is read no further than the limit: a file of one endless line must not keep the
    // run reading.
    match read_line(reader, &mut buf, limit, true).await.map_err(io)? {
        Line::End => {
            return Err(ExtractError::Empty {
                path: path.to_owned(),
            });
        }
        Line::TooLong(_) => {
            return Err(ExtractError::Header {
                path: path.to_owned(),
                message: format!(
                    "header line is longer than max_line_bytes ({limit}); is this a CSV file?"
                ),
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
        .find(|&d| header.iter().filter(|&&b| b == d as u8).nth(1).is_some())
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
        let shown: Vec<String> = header.iter().take(12).map(|n| visible(n)).collect();
        Err(format!(
            "{} (header: {})",
            problems.join("; "),
            shown.join(",")
        ))
    }
}

#[async_trait]
impl Extract for CsvExtract {
    async fn open(&self, dataset: Dataset) -> Result<Source, ExtractError> {
        let path = self.locate(dataset)?;
        let (mut reader, _) = open_lines(&path).await?;
        let header = read_header(&path, &mut reader, self.config.max_line_bytes).await?;
        let column_index =
            map_header(dataset, &header).map_err(|message| ExtractError::Header {
                path: path.clone(),
                message,
            })?;
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
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
        let (mut reader, watched) = open_lines(path).await?;
        let limit = self.config.max_line_bytes;
        let header = read_header(path, &mut reader, limit).await?;
        // The columns are read where `open` found them, so the header read now must be the same: a
        // file replaced in between with other columns, or the same columns in another order, would
        // otherwise load values into the wrong columns.
        let changed = match map_header(source.dataset, &header) {
            Ok(index) => index != source.column_index || header.len() != source.header_len,
            Err(_) => true,
        };
        if changed {
            return Err(ExtractError::Header {
                path: path.clone(),
                message: "the header changed since the file was checked at the start of the run \
                          (was the file replaced during the run?); nothing of it was read, run again"
                    .to_owned(),
            });
        }
        let mut counts =
            stream_records(path, &mut reader, limit, self.config.batch_size, &tx).await?;
        counts.digest = watched.finish(path)?;
        Ok(counts)
    }
}

/// Streams the records after the header of `reader` into `tx`, in batches of `batch_size`.
async fn stream_records(
    path: &Path,
    reader: &mut Lines,
    limit: usize,
    batch_size: usize,
    tx: &mpsc::Sender<RecordBatch>,
) -> Result<ExtractCounts, ExtractError> {
    let closed = || ExtractError::Closed {
        path: path.to_owned(),
    };
    let mut counts = ExtractCounts::default();
    let mut line_number: u64 = 1;
    let mut buf = Vec::with_capacity(1024);
    // A batch grows as it fills; a large batch_size must not reserve its whole size up front.
    let capacity = batch_size.min(8192);
    let mut batch = Vec::with_capacity(capacity);
    loop {
        let line = read_line(reader, &mut buf, limit, false)
            .await
            .map_err(|cause| ExtractError::Io {
                path: path.to_owned(),
                line: Some(line_number),
                cause,
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
        if batch.len() >= batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(capacity));
            tx.send(full).await.map_err(|_| closed())?;
        }
    }
    if !batch.is_empty() {
        tx.send(batch).await.map_err(|_| closed())?;
    }
    Ok(counts)
}

/// What [`read_bytes`] found: the header's fields, the records and the counts.
pub type ReadBytes = (Vec<String>, Vec<Record>, ExtractCounts);

/// Reads a whole file held in memory the way a file on disk is read: the header, then every record,
/// through reading buffers of `buffer_size` bytes (small ones put gzip member boundaries and line
/// ends at every position of a buffer). For the fuzz target and tests.
pub async fn read_bytes(
    bytes: Vec<u8>,
    gzip: bool,
    max_line_bytes: usize,
    buffer_size: usize,
) -> Result<ReadBytes, ExtractError> {
    // One name whether compressed or not, so that the two readings give the same messages.
    let path = Path::new("memory");
    let input = BufReader::with_capacity(buffer_size.max(1), std::io::Cursor::new(bytes));
    let mut reader: Lines = if gzip {
        Box::new(BufReader::with_capacity(
            buffer_size.max(1),
            GzipMembers::new(input),
        ))
    } else {
        Box::new(input)
    };
    let header = read_header(path, &mut reader, max_line_bytes).await?;
    let (tx, mut rx) = mpsc::channel(4);
    let collect = async move {
        let mut records = Vec::new();
        while let Some(batch) = rx.recv().await {
            records.extend(batch);
        }
        records
    };
    let (counts, records) = tokio::join!(
        async move { stream_records(path, &mut reader, max_line_bytes, 64, &tx).await },
        collect
    );
    Ok((header, records, counts?))
}

/// Makes a [`Record`] of one physical line.
#[must_use]
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
    fn a_carriage_return_inside_a_field_is_data_and_kept() {
        // Only a CR right before the line's LF ends the line (CRLF); one anywhere else is a
        // character of its field, kept as it is (shown as \x0d in tables).
        assert_eq!(
            split("c1,sao\rpaulo,\"rio\rde janeiro\"").unwrap(),
            vec!["c1", "sao\rpaulo", "rio\rde janeiro"]
        );
        assert_eq!(visible("sao\rpaulo"), "sao\\x0dpaulo");
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
        let extract = CsvExtract {
            config,
            data_dir: dir.path().to_owned(),
        };
        let source = extract.open(Dataset::Customers).await?;
        let (tx, mut rx) = mpsc::channel(100);
        let counts = extract.stream(&source, tx).await?;
        let mut records = Vec::new();
        while let Some(batch) = rx.recv().await {
            records.extend(batch);
        }
        Ok((source, records, counts))
    }

    #[tokio::test]
    async fn a_file_that_changes_while_it_is_read_is_refused_and_one_that_does_not_is_digested() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let mut content = format!("{HEADER}\n");
        for i in 0..10 {
            content += &["c", &i.to_string(), ",u", &i.to_string(), ",01,x,SP\n"].concat();
        }
        let mut config = CsvExtractConfig::default();
        config.files.customers = "c.csv".into();
        config.batch_size = 2;
        let extract = std::sync::Arc::new(CsvExtract {
            config,
            data_dir: dir.path().to_owned(),
        });
        for change in ["append", "truncate", "none"] {
            std::fs::write(&path, &content).unwrap();
            let source = extract.open(Dataset::Customers).await.unwrap();
            // A channel of one batch: the reader waits on it while the file is changed.
            let (tx, mut rx) = mpsc::channel(1);
            let reader = {
                let extract = extract.clone();
                let source = source.clone();
                tokio::spawn(async move { extract.stream(&source, tx).await })
            };
            assert!(rx.recv().await.is_some());
            match change {
                "append" => {
                    use std::io::Write;
                    let mut file = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .unwrap();
                    file.write_all(b"c99,u99,01,x,SP\n").unwrap();
                }
                "truncate" => {
                    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    file.set_len(content.len() as u64 / 2).unwrap();
                }
                _ => {}
            }
            while rx.recv().await.is_some() {}
            let result = reader.await.unwrap();
            if change == "none" {
                let counts = result.unwrap();
                assert_eq!(counts.records, 10);
                assert_eq!(
                    counts.digest,
                    crate::core::digest::digest_file(&path).await.unwrap()
                );
            } else {
                let err = result.unwrap_err();
                assert!(
                    matches!(err, ExtractError::Changed { .. }),
                    "{change}: {err}"
                );
                assert!(
                    err.to_string()
                        .contains("the file changed while it was read"),
                    "{err}"
                );
            }
        }
    }

    const HEADER: &str = "\"customer_id\",\"customer_unique_id\",\"customer_zip_code_prefix\",\"customer_city\",\"customer_state\"";

    #[tokio::test]
    async fn bom_and_crlf_are_accepted_and_line_numbers_are_physical() {
        let content = format!(
            "\u{FEFF}{HEADER}\r\n\"a\",\"b\",\"01\",x,SP\r\n\r\n\"c\",\"d\",\"02\",y,RJ\r\n"
        );
        let (_, records, counts) = stream_file(content.as_bytes(), "c.csv").await.unwrap();
        assert_eq!((counts.records, counts.blank_lines), (2, 1));
        // The digest covers every byte of the file, header and line ends included.
        assert_eq!(counts.digest.bytes, content.len() as u64);
        assert_eq!(records[0].line, 2);
        assert_eq!(records[0].raw, "\"a\",\"b\",\"01\",x,SP");
        assert_eq!(records[1].line, 4);
        assert_eq!(records[1].fields.as_ref().unwrap()[3], "y");
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Streams `gz` as the customers file `c.csv.gz`; returns the records' raw lines.
    async fn stream_gz(gz: &[u8]) -> Result<Vec<String>, ExtractError> {
        let (_, records, _) = stream_file(gz, "c.csv.gz").await?;
        Ok(records.into_iter().map(|r| r.raw).collect())
    }

    #[tokio::test]
    async fn gzip_files_are_read_and_truncated_ones_fail() {
        let content = format!("{HEADER}\n\"a\",\"b\",\"01\",x,SP\n");
        let gz = gzip(content.as_bytes());
        assert_eq!(stream_gz(&gz).await.unwrap().len(), 1);
        let err = stream_gz(&gz[..gz.len() - 12]).await.unwrap_err();
        assert!(matches!(err, ExtractError::Io { .. }), "{err}");
        // The cause is said once, in the message, and not again as a chained source.
        let whole = anyhow_like(&err);
        assert_eq!(
            whole.matches("unexpected end of file").count(),
            1,
            "{whole}"
        );
    }

    /// The message with every chained source, as the binary prints an error.
    fn anyhow_like(err: &dyn std::error::Error) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    #[tokio::test]
    async fn every_gzip_member_is_read_wherever_the_boundaries_fall() {
        let content = format!(
            "{HEADER}\n\"a\",\"b\",\"01\",x,SP\n\"c\",\"d\",\"02\",y,RJ\r\n\n\"e\",\"f\",\"03\",z,MG"
        );
        let bytes = content.as_bytes();
        let expected = vec![
            "\"a\",\"b\",\"01\",x,SP",
            "\"c\",\"d\",\"02\",y,RJ",
            "\"e\",\"f\",\"03\",z,MG",
        ];
        // Two members split at every byte (inside the header, inside a line, at a line end), and
        // three members with an empty one in the middle.
        for split in 0..=bytes.len() {
            let mut gz = gzip(&bytes[..split]);
            gz.extend(gzip(&bytes[split..]));
            assert_eq!(stream_gz(&gz).await.unwrap(), expected, "split at {split}");
            let third = usize::midpoint(split, bytes.len());
            let mut gz = gzip(&bytes[..split]);
            gz.extend(gzip(b""));
            gz.extend(gzip(&bytes[split..third]));
            gz.extend(gzip(&bytes[third..]));
            assert_eq!(
                stream_gz(&gz).await.unwrap(),
                expected,
                "split at {split}, {third}"
            );
        }
    }

    #[tokio::test]
    async fn gzip_members_are_read_through_buffers_of_any_size() {
        let content = format!("{HEADER}\n\"a\",\"b\",\"01\",x,SP\n\"c\",\"d\",\"02\",y,RJ\n");
        let bytes = content.as_bytes();
        let (_, plain, plain_counts) = read_bytes(bytes.to_vec(), false, 1024, 1024).await.unwrap();
        for buffer_size in [1, 2, 3, 7, 64] {
            for split in (0..bytes.len()).step_by(5) {
                let mut gz = gzip(&bytes[..split]);
                gz.extend(gzip(&bytes[split..]));
                let (header, records, counts) = read_bytes(gz.clone(), true, 1024, buffer_size)
                    .await
                    .unwrap();
                assert_eq!(header.len(), 5);
                assert_eq!(records, plain, "buffer {buffer_size}, split {split}");
                assert_eq!(counts, plain_counts);
                gz.push(b'x');
                let err = read_bytes(gz, true, 1024, buffer_size).await.unwrap_err();
                assert!(
                    err.to_string().contains("is not a gzip member"),
                    "buffer {buffer_size}, split {split}: {err}"
                );
            }
        }
    }

    #[tokio::test]
    async fn data_after_the_last_gzip_member_is_an_error_with_a_reason() {
        let content = format!("{HEADER}\n\"a\",\"b\",\"01\",x,SP\n\"c\",\"d\",\"02\",y,RJ\n");
        let (first, second) = content.split_at(content.len() - 10);
        let mut members = gzip(first.as_bytes());
        members.extend(gzip(second.as_bytes()));
        for (garbage, reason) in [
            (
                &b"garbage\n"[..],
                "the data after gzip member 2 is not a gzip member (it starts with byte 0x67); the file has trailing garbage",
            ),
            (
                &[0u8; 512][..],
                "the data after gzip member 2 is not a gzip member (it starts with byte 0x00)",
            ),
            (&[0x1f][..], "gzip member 3: "),
            (&[0x1f, 0x8b, 0x08, 0, 0][..], "gzip member 3: "),
        ] {
            let mut gz = members.clone();
            gz.extend_from_slice(garbage);
            let err = stream_gz(&gz).await.unwrap_err();
            assert!(matches!(err, ExtractError::Io { .. }), "{err}");
            assert!(err.to_string().contains(reason), "{reason:?} not in {err}");
        }
        // A second member cut short is named too.
        let mut gz = gzip(first.as_bytes());
        let second = gzip(second.as_bytes());
        gz.extend_from_slice(&second[..second.len() - 4]);
        let err = stream_gz(&gz).await.unwrap_err();
        assert!(err.to_string().contains("gzip member 2: "), "{err}");
    }

    #[tokio::test]
    async fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = CsvExtractConfig::default();
        config.files.customers = "c.csv".into();
        let extract = CsvExtract {
            config,
            data_dir: dir.path().to_owned(),
        };
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("c.csv")).unwrap();
        let err = extract.open(Dataset::Customers).await.unwrap_err();
        assert!(
            err.to_string().ends_with(
                "c.csv: not a regular file (a character device); only regular files and .gz of them are read"
            ),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("c.csv")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("c.csv"))
            .status()
            .unwrap();
        assert!(status.success());
        let err = extract.open(Dataset::Customers).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("not a regular file (a named pipe)"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("c.csv")).unwrap();
        std::fs::create_dir(dir.path().join("c.csv")).unwrap();
        let err = extract.open(Dataset::Customers).await.unwrap_err();
        assert!(
            err.to_string().contains("not a regular file (a directory)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_header_without_an_end_is_read_no_further_than_the_limit() {
        // An endless input of one line: reading must stop at the limit.
        let mut endless: Lines = Box::new(BufReader::new(tokio::io::repeat(b'a')));
        let err = read_header(Path::new("c.csv"), &mut endless, 1024)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.csv: header line is longer than max_line_bytes (1024); is this a CSV file?"
        );
        // A header of exactly the limit, with or without CRLF, is accepted.
        let header = format!("{HEADER},{}", "x".repeat(1024 - HEADER.len() - 1));
        for end in ["\n", "\r\n", ""] {
            let text = format!("{header}{end}");
            let mut reader: Lines =
                Box::new(BufReader::new(std::io::Cursor::new(text.into_bytes())));
            let fields = read_header(Path::new("c.csv"), &mut reader, 1024)
                .await
                .unwrap();
            assert_eq!(fields.len(), 6);
        }
    }

    #[tokio::test]
    async fn a_file_whose_header_changed_since_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let content = format!("{HEADER}\n\"a\",\"b\",\"01\",x,SP\n");
        std::fs::write(&path, &content).unwrap();
        let mut config = CsvExtractConfig::default();
        config.files.customers = "c.csv".into();
        let extract = CsvExtract {
            config,
            data_dir: dir.path().to_owned(),
        };
        let source = extract.open(Dataset::Customers).await.unwrap();
        // The same columns with city and state swapped, headers too.
        std::fs::write(
            &path,
            "\"customer_id\",\"customer_unique_id\",\"customer_zip_code_prefix\",\"customer_state\",\"customer_city\"\n\"a\",\"b\",\"01\",SP,x\n",
        )
        .unwrap();
        let (tx, mut rx) = mpsc::channel(100);
        let err = extract.stream(&source, tx).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("c.csv: the header changed since the file was checked"),
            "{err}"
        );
        assert!(rx.recv().await.is_none(), "no record was sent");
        // New content under the same header is read as it is now.
        std::fs::write(&path, format!("{content}\"c\",\"d\",\"02\",y,RJ\n")).unwrap();
        let (tx, _rx) = mpsc::channel(100);
        assert_eq!(extract.stream(&source, tx).await.unwrap().records, 2);
    }

    #[test]
    fn batch_size_and_max_line_bytes_are_bounded() {
        let config = CsvExtractConfig {
            batch_size: 100_000_000_000,
            max_line_bytes: usize::MAX,
            ..Default::default()
        };
        let problems = config.check();
        assert_eq!(
            problems,
            vec![
                Problem::new(
                    "batch_size",
                    "must be between 1 and 1000000, got 100000000000"
                ),
                Problem::new(
                    "max_line_bytes",
                    format!("must be between 64 and 268435456, got {}", usize::MAX)
                ),
            ]
        );
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
