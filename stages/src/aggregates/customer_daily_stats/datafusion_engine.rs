//! `engine = "datafusion"`: the statistics computed in-process by `DataFusion`.
//!
//! Three steps, all inside the stage's transaction, which already holds the locks and no longer
//! holds the rows being replaced:
//!
//! 1. [`Snapshot::copy_from`]: the columns the statistics need, read with binary `COPY ... TO
//!    STDOUT` on the transaction's connection (so the engine sees exactly the rows the
//!    `PostgreSQL` path would) and decoded into Arrow record batches. A snapshot is the one input
//!    of the computation: another source (Parquet files an executor reads, for Ballista) makes the
//!    same [`Snapshot`].
//! 2. [`Snapshot::register`] and `datafusion/customer_daily_stats.sql`: the rows of the days.
//! 3. [`copy_back`]: the result stream, batch by batch, into `COPY customer_daily_stats FROM
//!    STDIN` (binary format, as the tables came out), counting rows per day. An error in any step
//!    fails the transaction, so every day stays as it was.
//!
//! The engine computes whole days only: the changed people of a daily run are the stage's, in
//! `PostgreSQL` (see [`StatsEngine`]), since copying every table out costs more than its statement
//! over a few thousand people.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder, UInt32Builder,
};
use ::datafusion::arrow::compute::cast;
use ::datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType, UInt32Type,
};
use ::datafusion::datasource::MemTable;
use ::datafusion::prelude::SessionContext;
use ::datafusion::scalar::ScalarValue;
use async_trait::async_trait;
use chrono::NaiveDate;
use futures::StreamExt;
use sqlx::PgConnection;

use super::interned::{Domain, Ids, Interner};
use super::{
    Computation, CustomerKey, InputTable, StatsEngine, copy_out_sql, copy_rows_in_sql,
    datafusion_compute_sql, input_tables,
};

/// Rows per decoded record batch.
const BATCH_ROWS: usize = 64 * 1024;

/// The engine of `engine = "datafusion"`.
pub struct DataFusionEngine;

#[async_trait]
impl StatsEngine for DataFusionEngine {
    fn name(&self) -> &'static str {
        "datafusion"
    }

    async fn write_rows(
        &self,
        conn: &mut PgConnection,
        computation: &Computation<'_>,
    ) -> Result<Vec<(NaiveDate, i64)>, sqlx::Error> {
        let snapshot = Snapshot::copy_from(conn, computation.key).await?;
        tracing::debug!(
            rows = snapshot.rows(),
            bytes = snapshot.bytes(),
            "datafusion: the tables copied out"
        );
        let ctx = SessionContext::new();
        snapshot
            .register(&ctx, computation.excluded_statuses)
            .map_err(engine_error)?;
        let stream = execute(&ctx, computation).await.map_err(engine_error)?;
        let Snapshot { tables, ids } = snapshot;
        drop(tables);
        let keys = ids.values(match computation.key {
            CustomerKey::CustomerUniqueId => Domain::Person,
            CustomerKey::CustomerId => Domain::Customer,
        });
        copy_back(conn, stream, computation.run_id, Some(keys), &|e| {
            engine_error(e)
        })
        .await
    }
}

/// Starts the statement of `computation`'s key over its days in `ctx`, whose tables are
/// registered: in-process or on a cluster, the same statement and parameters.
pub(super) async fn execute(
    ctx: &SessionContext,
    computation: &Computation<'_>,
) -> ::datafusion::error::Result<::datafusion::physical_plan::SendableRecordBatchStream> {
    let days = [computation.days.start, computation.days.end]
        .map(|day| ScalarValue::Date32(Some(days_since_epoch(day))));
    ctx.sql(datafusion_compute_sql(computation.key))
        .await?
        .with_param_values(days.to_vec())?
        .execute_stream()
        .await
}

/// A `DataFusion` failure as the stage's error type.
fn engine_error(error: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the datafusion engine: {error}"))
}

/// The loaded tables as the statistics read them: Arrow batches of the needed columns, named as
/// `PostgreSQL`'s and typed as `PostgreSQL`'s except the identifiers, which are numbered
/// ([`super::interned`]; `customers` only when the key is the person).
pub struct Snapshot {
    /// Each table and its batches.
    tables: Vec<(InputTable, Vec<RecordBatch>)>,
    /// The identifiers behind the numbers.
    ids: Ids,
}

/// What a column holds, as `PostgreSQL` sends it and Arrow keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `text`: `Utf8`.
    Text,
    /// `text` identifying a row of `Domain`: `Utf8`, or `UInt32` when numbered.
    Key(Domain),
    /// `timestamp` (without time zone): microseconds, `Timestamp(Microsecond)`.
    Timestamp,
    /// `numeric(12,2)`: `Decimal128(12, 2)`, exact.
    Money,
}

/// The columns of `table` in the order of its `COPY` statement.
fn layout(table: InputTable) -> &'static [(&'static str, Kind)] {
    match table {
        InputTable::Orders => &[
            ("order_id", Kind::Key(Domain::Order)),
            ("customer_id", Kind::Key(Domain::Customer)),
            ("order_status", Kind::Text),
            ("order_purchase_timestamp", Kind::Timestamp),
        ],
        InputTable::Customers => &[
            ("customer_id", Kind::Key(Domain::Customer)),
            ("customer_unique_id", Kind::Key(Domain::Person)),
        ],
        InputTable::OrderItems => &[
            ("order_id", Kind::Key(Domain::Order)),
            ("product_id", Kind::Key(Domain::Product)),
            ("seller_id", Kind::Key(Domain::Seller)),
            ("price", Kind::Money),
            ("freight_value", Kind::Money),
        ],
    }
}

/// The name `DataFusion`'s statement reads `table` under.
pub(super) fn table_name(table: InputTable) -> &'static str {
    match table {
        InputTable::Orders => "orders",
        InputTable::Customers => "customers",
        InputTable::OrderItems => "order_items",
    }
}

/// The Arrow schema of `table`, identifiers as text (the Parquet snapshots of `engine = "ballista"`).
pub(super) fn schema(table: InputTable) -> SchemaRef {
    schema_with_keys(table, &DataType::Utf8)
}

/// The Arrow schema of `table` with numbered identifiers.
fn numbered_schema(table: InputTable) -> SchemaRef {
    schema_with_keys(table, &DataType::UInt32)
}

fn schema_with_keys(table: InputTable, keys: &DataType) -> SchemaRef {
    let fields: Vec<Field> = layout(table)
        .iter()
        .map(|(name, kind)| {
            let data_type = match kind {
                Kind::Text => DataType::Utf8,
                Kind::Key(_) => keys.clone(),
                Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                Kind::Money => DataType::Decimal128(12, 2),
            };
            Field::new(*name, data_type, false)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

impl Snapshot {
    /// Reads the tables the statistics under `key` need through `conn`, in its transaction.
    pub async fn copy_from(conn: &mut PgConnection, key: CustomerKey) -> Result<Self, sqlx::Error> {
        let mut out = Vec::new();
        let mut ids = Ids::default();
        for table in input_tables(key) {
            let mut decoder = BinaryCopyDecoder::numbering(table, ids);
            let mut stream = conn.copy_out_raw(copy_out_sql(table)).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                decoder.feed(&chunk)?;
            }
            drop(stream);
            let (batches, numbered) = decoder.finish_numbered()?;
            ids = numbered;
            out.push((table, batches));
        }
        Ok(Self { tables: out, ids })
    }

    /// The rows of every table.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.batches().map(RecordBatch::num_rows).sum()
    }

    /// The memory the batches hold.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.batches().map(RecordBatch::get_array_memory_size).sum()
    }

    fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.tables.iter().flat_map(|(_, batches)| batches)
    }

    /// Registers the tables, and `excluded_statuses (status)`, in `ctx`, each split into as many
    /// partitions as `ctx` runs in parallel.
    pub fn register(
        &self,
        ctx: &SessionContext,
        excluded_statuses: &[String],
    ) -> ::datafusion::error::Result<()> {
        let partitions = ctx.copied_config().target_partitions().max(1);
        for (table, batches) in &self.tables {
            let mut split = vec![Vec::new(); partitions];
            for (i, batch) in batches.iter().enumerate() {
                split[i % partitions].push(batch.clone());
            }
            let provider = MemTable::try_new(numbered_schema(*table), split)?;
            ctx.register_table(table_name(*table), Arc::new(provider))?;
        }
        register_excluded_statuses(ctx, excluded_statuses)
    }
}

/// Registers `excluded_statuses (status)` in `ctx`.
fn register_excluded_statuses(
    ctx: &SessionContext,
    excluded_statuses: &[String],
) -> ::datafusion::error::Result<()> {
    let batch = excluded_statuses_batch(excluded_statuses)?;
    ctx.register_table(
        "excluded_statuses",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
    )?;
    Ok(())
}

/// The table `excluded_statuses (status)`: the statuses, each once.
pub(super) fn excluded_statuses_batch(
    excluded_statuses: &[String],
) -> ::datafusion::error::Result<RecordBatch> {
    let mut unique: Vec<&str> = excluded_statuses.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    let statuses = Arc::new(Schema::new(vec![Field::new(
        "status",
        DataType::Utf8,
        false,
    )]));
    let column: ArrayRef = Arc::new(::datafusion::arrow::array::StringArray::from(unique));
    Ok(RecordBatch::try_new(statuses, vec![column])?)
}

/// Microseconds from 1970-01-01 to 2000-01-01, `PostgreSQL`'s epoch.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The signature a binary `COPY` starts with.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Decodes `PostgreSQL`'s binary `COPY` output of one table ([`layout`]) into record batches, fed
/// in chunks as they arrive (a row may span chunks); identifiers as text, or numbered in `ids`.
pub(super) struct BinaryCopyDecoder {
    table: InputTable,
    ids: Option<Ids>,
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    batches: Vec<RecordBatch>,
}

enum ColumnBuilder {
    Text(StringBuilder),
    Number(UInt32Builder, Domain),
    Timestamp(TimestampMicrosecondBuilder),
    Money(Decimal128Builder),
}

fn copy_error(table: InputTable, what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("binary COPY of {}: {what}", table_name(table)))
}

impl BinaryCopyDecoder {
    /// A decoder of `table` with its identifiers as text.
    #[cfg(any(test, feature = "ballista"))]
    pub(super) fn new(table: InputTable) -> Self {
        Self::with_ids(table, None)
    }

    /// A decoder of `table` numbering its identifiers in `ids` (see [`Self::finish_numbered`]).
    pub(super) fn numbering(table: InputTable, ids: Ids) -> Self {
        Self::with_ids(table, Some(ids))
    }

    fn with_ids(table: InputTable, ids: Option<Ids>) -> Self {
        let mut decoder = Self {
            table,
            ids,
            pending: Vec::new(),
            header_read: false,
            ended: false,
            columns: Vec::new(),
            rows: 0,
            batches: Vec::new(),
        };
        decoder.columns = decoder.new_columns();
        decoder
    }

    fn new_columns(&self) -> Vec<ColumnBuilder> {
        let numbered = self.ids.is_some();
        layout(self.table)
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Key(domain) if numbered => {
                    ColumnBuilder::Number(UInt32Builder::with_capacity(BATCH_ROWS), *domain)
                }
                Kind::Text | Kind::Key(_) => {
                    ColumnBuilder::Text(StringBuilder::with_capacity(BATCH_ROWS, 0))
                }
                Kind::Timestamp => {
                    ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS))
                }
                Kind::Money => ColumnBuilder::Money(
                    Decimal128Builder::with_capacity(BATCH_ROWS)
                        .with_precision_and_scale(12, 2)
                        .expect("12, 2 is a decimal type"),
                ),
            })
            .collect()
    }

    /// Decodes every whole row of what arrived so far.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), sqlx::Error> {
        self.pending.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_read {
            // Signature, flags, then the header extension's length and the extension.
            if self.pending.len() < COPY_SIGNATURE.len() + 8 {
                return Ok(());
            }
            if !self.pending.starts_with(COPY_SIGNATURE) {
                return Err(copy_error(self.table, "not a binary COPY"));
            }
            let extension = read_i32(&self.pending, COPY_SIGNATURE.len() + 4) as usize;
            at = COPY_SIGNATURE.len() + 8 + extension;
            if self.pending.len() < at {
                return Ok(());
            }
            self.header_read = true;
        }
        while let Some(used) = self.row(at)? {
            at += used;
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// Decodes the row at `at` if it is all there; returns its length.
    fn row(&mut self, at: usize) -> Result<Option<usize>, sqlx::Error> {
        let buf = &self.pending[at..];
        if self.ended || buf.len() < 2 {
            return Ok(None);
        }
        let fields = i16::from_be_bytes([buf[0], buf[1]]);
        if fields == -1 {
            self.ended = true;
            return Ok(Some(2));
        }
        if fields as usize != self.columns.len() {
            return Err(copy_error(self.table, "unexpected number of columns"));
        }
        // Find every field first: nothing is appended unless the whole row is there.
        let mut spans = [(0usize, 0usize); 8];
        let mut pos = 2;
        for span in spans.iter_mut().take(self.columns.len()) {
            if buf.len() < pos + 4 {
                return Ok(None);
            }
            let len = read_i32(buf, pos);
            if len < 0 {
                return Err(copy_error(self.table, "unexpected NULL"));
            }
            pos += 4;
            if buf.len() < pos + len as usize {
                return Ok(None);
            }
            *span = (pos, len as usize);
            pos += len as usize;
        }
        for (column, (start, len)) in self.columns.iter_mut().zip(spans) {
            let value = &buf[start..start + len];
            let table = self.table;
            match column {
                ColumnBuilder::Text(b) => {
                    let text = std::str::from_utf8(value)
                        .map_err(|_| copy_error(table, "text that is not UTF-8"))?;
                    b.append_value(text);
                }
                ColumnBuilder::Number(b, domain) => {
                    let ids = self
                        .ids
                        .as_mut()
                        .expect("numbered columns come with their ids");
                    let number = ids
                        .domain(*domain)
                        .number(value)
                        .map_err(|what| copy_error(table, what))?;
                    b.append_value(number);
                }
                ColumnBuilder::Timestamp(b) => {
                    let micros = timestamp_micros(value)
                        .ok_or_else(|| copy_error(table, "a bad timestamp"))?;
                    b.append_value(micros);
                }
                ColumnBuilder::Money(b) => {
                    let cents = numeric_cents(value).ok_or_else(|| {
                        copy_error(table, "a numeric that is not exact at two decimals")
                    })?;
                    b.append_value(cents);
                }
            }
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush()?;
        }
        Ok(Some(pos))
    }

    fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.rows == 0 {
            return Ok(());
        }
        let fresh = self.new_columns();
        let arrays: Vec<ArrayRef> = std::mem::replace(&mut self.columns, fresh)
            .into_iter()
            .map(|column| -> ArrayRef {
                match column {
                    ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
                    ColumnBuilder::Number(mut b, _) => Arc::new(b.finish()),
                    ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
                    ColumnBuilder::Money(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let schema = if self.ids.is_some() {
            numbered_schema(self.table)
        } else {
            schema(self.table)
        };
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|e| copy_error(self.table, &e.to_string()))?;
        self.batches.push(batch);
        self.rows = 0;
        Ok(())
    }

    #[cfg(feature = "ballista")]
    /// The batches decoded so far, taken (so that a caller writing them out holds few at a time).
    pub(super) fn take_batches(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.batches)
    }

    /// The batches, once the whole output arrived.
    #[cfg(any(test, feature = "ballista"))]
    pub(super) fn finish(self) -> Result<Vec<RecordBatch>, sqlx::Error> {
        self.finish_numbered().map(|(batches, _)| batches)
    }

    /// The batches and the identifiers they number, once the whole output arrived.
    pub(super) fn finish_numbered(mut self) -> Result<(Vec<RecordBatch>, Ids), sqlx::Error> {
        if !self.ended || !self.pending.is_empty() {
            return Err(copy_error(self.table, "the output ended early"));
        }
        self.flush()?;
        Ok((self.batches, self.ids.unwrap_or_default()))
    }
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn read_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

/// A binary `timestamp` (microseconds since 2000-01-01) as microseconds since 1970-01-01; `None`
/// for infinities and a wrong length.
fn timestamp_micros(value: &[u8]) -> Option<i64> {
    let micros = i64::from_be_bytes(value.try_into().ok()?);
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    micros.checked_add(POSTGRES_EPOCH_MICROS)
}

/// A binary `numeric` in hundredths (the unscaled value of a `Decimal128(_, 2)`); `None` for NaN,
/// infinities, a value with more than two decimals or a malformed one.
///
/// The format: digit count, weight (the power of 10000 of the first digit), sign, display scale,
/// then the base-10000 digits, each an `i16`.
fn numeric_cents(value: &[u8]) -> Option<i128> {
    if value.len() < 8 {
        return None;
    }
    let digits = usize::try_from(read_i16(value, 0)).ok()?;
    let weight = i32::from(read_i16(value, 2));
    let sign = u16::from_be_bytes([value[4], value[5]]);
    if value.len() != 8 + 2 * digits {
        return None;
    }
    let mut unscaled: i128 = 0;
    for i in 0..digits {
        let digit = read_i16(value, 8 + 2 * i);
        if !(0..10_000).contains(&digit) {
            return None;
        }
        unscaled = unscaled
            .checked_mul(10_000)?
            .checked_add(i128::from(digit))?;
    }
    // unscaled * 10000^(weight - digits + 1) * 100, exactly.
    let exponent = weight - digits as i32 + 1;
    let cents = if exponent >= 0 {
        unscaled
            .checked_mul(10_000i128.checked_pow(exponent as u32)?)?
            .checked_mul(100)?
    } else {
        let divisor = 10_000i128.checked_pow(exponent.unsigned_abs())?;
        let hundredths = unscaled.checked_mul(100)?;
        if hundredths % divisor != 0 {
            return None;
        }
        hundredths / divisor
    };
    match sign {
        0x0000 => Some(cents),
        0x4000 => Some(-cents),
        _ => None,
    }
}

/// The columns of the statement's result, in the table's order, with the type each is written as.
const RESULT_COLUMNS: [(&str, Written); 18] = [
    ("stat_date", Written::Date),
    ("customer_unique_id", Written::Text),
    ("orders_count", Written::Int),
    ("canceled_orders_count", Written::Int),
    ("items_count", Written::Int),
    ("distinct_products", Written::Int),
    ("distinct_sellers", Written::Int),
    ("items_value", Written::Money),
    ("freight_value", Written::Money),
    ("total_spent", Written::Money),
    ("avg_order_value", Written::Money),
    ("first_order_at", Written::Timestamp),
    ("last_order_at", Written::Timestamp),
    ("lifetime_orders", Written::Int),
    ("lifetime_spent", Written::Money),
    ("first_order_date", Written::Date),
    ("days_since_previous_order", Written::SmallInt),
    ("is_repeat_customer", Written::Bool),
];

/// How a result column is written in a binary `COPY`: the table's column type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    Date,
    Text,
    Int,
    SmallInt,
    Money,
    Timestamp,
    Bool,
}

impl Written {
    /// The Arrow type a column is cast to before it is written.
    fn data_type(self) -> DataType {
        match self {
            Self::Date => DataType::Date32,
            Self::Text => DataType::Utf8,
            Self::Int => DataType::Int64,
            Self::SmallInt => DataType::Int32,
            Self::Money => DataType::Decimal128(38, 2),
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::Bool => DataType::Boolean,
        }
    }
}

/// How an engine's failure becomes the stage's error, naming the engine.
pub(super) type EngineError<'a> = &'a (dyn Fn(String) -> sqlx::Error + Sync);

/// Writes the result stream into `customer_daily_stats` with `run_id`; returns the rows per day.
/// A numbered key column is written as the text `keys` holds for it. The stream's failures go
/// through `engine_error`.
pub(super) async fn copy_back(
    conn: &mut PgConnection,
    mut stream: ::datafusion::physical_plan::SendableRecordBatchStream,
    run_id: i64,
    keys: Option<&Interner>,
    engine_error: EngineError<'_>,
) -> Result<Vec<(NaiveDate, i64)>, sqlx::Error> {
    let mut copy = conn.copy_in_raw(copy_rows_in_sql()).await?;
    let mut per_day: BTreeMap<i32, i64> = BTreeMap::new();
    let mut out = copy_header();
    // Where the time goes: waiting for the engine's batches, or writing them to PostgreSQL.
    let (mut computing, mut sending) = (Duration::ZERO, Duration::ZERO);
    let mut started = Instant::now();
    while let Some(batch) = stream.next().await {
        computing += started.elapsed();
        started = Instant::now();
        let written = batch
            .map_err(|e| engine_error(e.to_string()))
            .and_then(|batch| {
                copy_binary(&batch, run_id, keys, &mut out, &mut per_day).map_err(engine_error)
            });
        if let Err(error) = written {
            copy.abort(error.to_string()).await.ok();
            return Err(error);
        }
        copy.send(out.as_slice()).await?;
        out.clear();
        sending += started.elapsed();
        started = Instant::now();
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(out.as_slice()).await?;
    computing += started.elapsed();
    started = Instant::now();
    copy.finish().await?;
    sending += started.elapsed();
    tracing::debug!(
        computing_s = computing.as_secs_f64(),
        sending_s = sending.as_secs_f64(),
        "datafusion: the rows copied back"
    );
    Ok(per_day
        .into_iter()
        .map(|(day, rows)| (date(day), rows))
        .collect())
}

/// Arrow's `Date32`, days since 1970-01-01 (chrono's default date), as a date.
fn date(days_since_epoch: i32) -> NaiveDate {
    NaiveDate::default() + chrono::TimeDelta::days(i64::from(days_since_epoch))
}

/// A date as Arrow's `Date32`.
fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

/// The start of a binary `COPY`: the signature, no flags, no header extension.
fn copy_header() -> Vec<u8> {
    let mut out = COPY_SIGNATURE.to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

/// Appends `batch`'s rows to `out` as binary `COPY` tuples (`run_id` last) and counts them per day.
fn copy_binary(
    batch: &RecordBatch,
    run_id: i64,
    keys: Option<&Interner>,
    out: &mut Vec<u8>,
    per_day: &mut BTreeMap<i32, i64>,
) -> Result<(), String> {
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let expected: Vec<&str> = RESULT_COLUMNS.iter().map(|(name, _)| *name).collect();
    if names != expected {
        return Err(format!(
            "the statement returned the columns {names:?}, not {expected:?}"
        ));
    }
    let columns: Vec<ArrayRef> = RESULT_COLUMNS
        .iter()
        .zip(batch.columns())
        .map(|((_, written), column)| match (keys, column.data_type()) {
            (Some(keys), DataType::UInt32) => key_text(keys, column),
            _ => cast(column, &written.data_type()).map_err(|e| e.to_string()),
        })
        .collect::<Result<_, _>>()?;
    let fields = i16::try_from(RESULT_COLUMNS.len() + 1).expect("19 columns");
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&fields.to_be_bytes());
        for ((name, written), column) in RESULT_COLUMNS.iter().zip(&columns) {
            write_value(*written, column, row, out).map_err(|what| format!("{name}: {what}"))?;
        }
        field(out, &run_id.to_be_bytes());
        let day = columns[0].as_primitive::<Date32Type>().value(row);
        *per_day.entry(day).or_default() += 1;
    }
    Ok(())
}

/// A column of numbered identifiers as their text.
fn key_text(keys: &Interner, column: &ArrayRef) -> Result<ArrayRef, String> {
    let text: StringArray = column
        .as_primitive::<UInt32Type>()
        .iter()
        .map(|number| {
            number
                .map(|n| keys.value(n).ok_or("a key number without its identifier"))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(text))
}

/// Days from 1970-01-01 to 2000-01-01, `PostgreSQL`'s epoch.
const POSTGRES_EPOCH_DAYS: i32 = 10_957;

/// One value as a binary `COPY` field: its length, then `PostgreSQL`'s binary form of the
/// column's type (`-1` alone for NULL).
fn write_value(
    written: Written,
    column: &ArrayRef,
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    if column.is_null(row) {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(());
    }
    match written {
        Written::Date => {
            let days = column.as_primitive::<Date32Type>().value(row) - POSTGRES_EPOCH_DAYS;
            field(out, &days.to_be_bytes());
        }
        Written::Text => field(out, column.as_string::<i32>().value(row).as_bytes()),
        Written::Int => field(
            out,
            &column.as_primitive::<Int64Type>().value(row).to_be_bytes(),
        ),
        Written::SmallInt => field(
            out,
            &column.as_primitive::<Int32Type>().value(row).to_be_bytes(),
        ),
        Written::Money => {
            let cents = column.as_primitive::<Decimal128Type>().value(row);
            field(out, &numeric_of_cents(cents));
        }
        Written::Timestamp => {
            let micros = column
                .as_primitive::<TimestampMicrosecondType>()
                .value(row)
                .checked_sub(POSTGRES_EPOCH_MICROS)
                .ok_or("a timestamp out of range")?;
            field(out, &micros.to_be_bytes());
        }
        Written::Bool => field(out, &[u8::from(column.as_boolean().value(row))]),
    }
    Ok(())
}

/// A field's length, then its bytes.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = i32::try_from(bytes.len()).expect("a field under 2 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Hundredths as a binary `numeric` with two decimals (the reverse of [`numeric_cents`]): the
/// base-10000 digits without a zero digit at either end, the weight of the first, the sign, display
/// scale 2.
fn numeric_of_cents(cents: i128) -> Vec<u8> {
    let abs = cents.unsigned_abs();
    let mut whole = abs / 100;
    let mut integer_digits = Vec::new();
    while whole > 0 {
        integer_digits.push((whole % 10_000) as i16);
        whole /= 10_000;
    }
    let mut weight = i16::try_from(integer_digits.len()).expect("a few digits") - 1;
    let mut digits: Vec<i16> = integer_digits.into_iter().rev().collect();
    digits.push((abs % 100) as i16 * 100);
    // The first digit is never zero (a whole part's top group, or the fraction alone); trailing
    // zero digits go.
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign: u16 = if cents < 0 && !digits.is_empty() {
        0x4000
    } else {
        0
    };
    let mut out = Vec::with_capacity(8 + 2 * digits.len());
    out.extend_from_slice(
        &i16::try_from(digits.len())
            .expect("a few digits")
            .to_be_bytes(),
    );
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&2u16.to_be_bytes());
    for digit in digits {
        out.extend_from_slice(&digit.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary numeric: digits in base 10000, the first at `weight`.
    fn numeric(weight: i16, negative: bool, scale: u16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((digits.len() as i16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend((if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend(scale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_become_exact_hundredths() {
        assert_eq!(
            numeric_cents(&numeric(0, false, 2, &[12, 3400])),
            Some(1234)
        );
        assert_eq!(numeric_cents(&numeric(0, false, 2, &[])), Some(0));
        // 0.0005 is not a whole cent.
        assert_eq!(numeric_cents(&numeric(-1, false, 4, &[5])), None);
        assert_eq!(numeric_cents(&numeric(-1, false, 2, &[100])), Some(1));
        assert_eq!(
            numeric_cents(&numeric(1, true, 2, &[1, 0, 5000])),
            Some(-1_000_050)
        );
        assert_eq!(
            numeric_cents(&numeric(1, false, 0, &[2])),
            Some(20_000 * 100)
        );
        // Three decimals are not money: refused, never rounded.
        assert_eq!(numeric_cents(&numeric(-1, false, 3, &[10])), None);
        let mut nan = numeric(0, false, 0, &[]);
        nan[4] = 0xC0;
        assert_eq!(numeric_cents(&nan), None);
        assert_eq!(numeric_cents(&[0, 1]), None);
    }

    #[test]
    fn money_is_written_as_the_numeric_it_was_read_as() {
        for cents in [
            0,
            1,
            5,
            -5,
            99,
            100,
            1234,
            10_000,
            -100_000,
            1_000_000,
            123_456_789,
            1_000_000_000_000,
            -999_999_999_999_999,
        ] {
            assert_eq!(
                numeric_cents(&numeric_of_cents(cents)),
                Some(cents),
                "{cents}"
            );
        }
        // As PostgreSQL writes them: no zero digit at either end, scale 2.
        assert_eq!(numeric_of_cents(0), numeric(0, false, 2, &[]));
        assert_eq!(numeric_of_cents(1234), numeric(0, false, 2, &[12, 3400]));
        assert_eq!(numeric_of_cents(5), numeric(-1, false, 2, &[500]));
        assert_eq!(numeric_of_cents(-1_000_000), numeric(1, true, 2, &[1]));
        assert_eq!(numeric_of_cents(100_000_000), numeric(1, false, 2, &[100]));
    }

    #[test]
    fn timestamps_move_to_the_unix_epoch() {
        assert_eq!(
            timestamp_micros(&0i64.to_be_bytes()),
            Some(POSTGRES_EPOCH_MICROS)
        );
        assert_eq!(timestamp_micros(&i64::MAX.to_be_bytes()), None);
        assert_eq!(timestamp_micros(&[0; 4]), None);
        assert_eq!(date(0).to_string(), "1970-01-01");
        assert_eq!(date(10_957).to_string(), "2000-01-01");
        assert_eq!(days_since_epoch(date(-3)), -3);
    }

    /// A binary COPY of `orders`, fed one byte at a time: rows that span chunks decode whole.
    #[test]
    fn binary_copy_decodes_across_chunks() {
        let mut copy = COPY_SIGNATURE.to_vec();
        copy.extend(0i32.to_be_bytes());
        copy.extend(0i32.to_be_bytes());
        for (id, at) in [("o1", 0i64), ("o2", 86_400_000_000)] {
            copy.extend(4i16.to_be_bytes());
            for text in [id, "c\t1", "delivered"] {
                copy.extend((text.len() as i32).to_be_bytes());
                copy.extend(text.as_bytes());
            }
            copy.extend(8i32.to_be_bytes());
            copy.extend(at.to_be_bytes());
        }
        copy.extend((-1i16).to_be_bytes());
        let mut decoder = BinaryCopyDecoder::new(InputTable::Orders);
        for byte in &copy {
            decoder.feed(std::slice::from_ref(byte)).unwrap();
        }
        let batches = decoder.finish().unwrap();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).as_string::<i32>().value(1), "o2");
        assert_eq!(batch.column(1).as_string::<i32>().value(0), "c\t1");
        assert_eq!(
            batch
                .column(3)
                .as_primitive::<TimestampMicrosecondType>()
                .value(1),
            POSTGRES_EPOCH_MICROS + 86_400_000_000
        );
        // Cut short: an error, never a silently shorter table.
        let mut decoder = BinaryCopyDecoder::new(InputTable::Orders);
        decoder.feed(&copy[..copy.len() - 5]).unwrap();
        assert!(decoder.finish().is_err());

        // Numbered: the identifiers by their domain's numbers, the status as text.
        let mut ids = Ids::default();
        ids.domain(Domain::Order).number(b"o2").unwrap();
        let mut decoder = BinaryCopyDecoder::numbering(InputTable::Orders, ids);
        decoder.feed(&copy).unwrap();
        let (batches, ids) = decoder.finish_numbered().unwrap();
        let batch = &batches[0];
        assert_eq!(batch.schema(), numbered_schema(InputTable::Orders));
        let orders: Vec<u32> = batch
            .column(0)
            .as_primitive::<UInt32Type>()
            .values()
            .to_vec();
        assert_eq!(orders, [1, 0]);
        let customers: Vec<u32> = batch
            .column(1)
            .as_primitive::<UInt32Type>()
            .values()
            .to_vec();
        assert_eq!(customers, [0, 0]);
        assert_eq!(ids.values(Domain::Order).value(1), Some("o1"));
        assert_eq!(ids.values(Domain::Customer).value(0), Some("c\t1"));
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "delivered");
        let text = key_text(ids.values(Domain::Order), batch.column(0)).unwrap();
        assert_eq!(text.as_string::<i32>().value(0), "o1");
        let unknown: ArrayRef = Arc::new(::datafusion::arrow::array::UInt32Array::from(vec![7]));
        assert!(key_text(ids.values(Domain::Order), &unknown).is_err());
    }
}
