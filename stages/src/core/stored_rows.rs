//! Rows of an aggregate's table as the read commands print them: the column names, which columns
//! hold numbers, and every value as JSON. [`crate::core::roles::Aggregate::day_rows`] returns them,
//! so that `pipeline stats --stage NAME` prints any aggregate's rows without knowing its table.

use serde_json::Value;
use sqlx::postgres::{PgColumn, PgRow, PgValueFormat};
use sqlx::types::Decimal;
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// Rows read from a table, each value as JSON: integers and booleans as themselves, a `numeric` as
/// a string written with its stored scale (money, `numeric(28,2)`, shows two decimals and no float
/// rounding), text, dates and timestamps as text, NULL as null.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredRows {
    /// The column names, in the statement's order.
    pub columns: Vec<String>,
    /// For each column, whether it holds numbers (right-aligned in tables).
    pub numeric: Vec<bool>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl StoredRows {
    /// The rows `rows` of a statement whose result has `columns` (from its prepared statement, so
    /// that the names are known when no row is found). Fails on a column of a type it does not read.
    pub fn decode(columns: &[PgColumn], rows: &[PgRow]) -> Result<Self, sqlx::Error> {
        let mut kinds = Vec::with_capacity(columns.len());
        for column in columns {
            let type_name = column.type_info().name();
            let kind = Kind::of(type_name).ok_or_else(|| {
                sqlx::Error::Decode(
                    format!(
                        "column {} is of type {type_name}, which stored rows are not read as",
                        column.name()
                    )
                    .into(),
                )
            })?;
            kinds.push(kind);
        }
        let rows = rows
            .iter()
            .map(|row| {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(index, kind)| kind.read(row, index))
                    .collect::<Result<Vec<Value>, sqlx::Error>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            columns: columns.iter().map(|c| c.name().to_owned()).collect(),
            numeric: kinds.iter().map(|k| k.is_numeric()).collect(),
            rows,
        })
    }
}

/// How a column's values are read, by its `PostgreSQL` type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    SmallInt,
    Int,
    BigInt,
    Double,
    Numeric,
    Bool,
    Text,
    Date,
    Timestamp,
    TimestampTz,
}

impl Kind {
    /// The kind of the type `PostgreSQL` names `type_name` (as sqlx spells it), if it is read.
    fn of(type_name: &str) -> Option<Self> {
        Some(match type_name {
            "INT2" => Kind::SmallInt,
            "INT4" => Kind::Int,
            "INT8" => Kind::BigInt,
            "FLOAT4" | "FLOAT8" => Kind::Double,
            "NUMERIC" => Kind::Numeric,
            "BOOL" => Kind::Bool,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Kind::Text,
            "DATE" => Kind::Date,
            "TIMESTAMP" => Kind::Timestamp,
            "TIMESTAMPTZ" => Kind::TimestampTz,
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            Kind::SmallInt | Kind::Int | Kind::BigInt | Kind::Double | Kind::Numeric
        )
    }

    /// The value of column `index` of `row`, as JSON.
    fn read(self, row: &PgRow, index: usize) -> Result<Value, sqlx::Error> {
        fn json<T: Into<Value>>(value: Option<T>) -> Value {
            value.map_or(Value::Null, Into::into)
        }
        fn text<T: ToString>(value: Option<T>) -> Value {
            value.map_or(Value::Null, |v| Value::String(v.to_string()))
        }
        Ok(match self {
            Kind::SmallInt => json(row.try_get::<Option<i16>, _>(index)?),
            Kind::Int => json(row.try_get::<Option<i32>, _>(index)?),
            Kind::BigInt => json(row.try_get::<Option<i64>, _>(index)?),
            Kind::Double => json(row.try_get::<Option<f64>, _>(index)?),
            Kind::Numeric => numeric(row, index)?,
            Kind::Bool => json(row.try_get::<Option<bool>, _>(index)?),
            Kind::Text => json(row.try_get::<Option<String>, _>(index)?),
            Kind::Date => text(row.try_get::<Option<chrono::NaiveDate>, _>(index)?),
            Kind::Timestamp => text(row.try_get::<Option<chrono::NaiveDateTime>, _>(index)?),
            Kind::TimestampTz => text(
                row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(index)?
                    .map(|t| t.to_rfc3339()),
            ),
        })
    }
}

/// A `numeric` as text with the scale it is stored with: `0.00` in a `numeric(28,2)` column, where
/// the decoded [`Decimal`] of a zero has lost its scale. The scale is the binary value's fourth
/// 16-bit field (`dscale`, after the digit count, weight and sign).
fn numeric(row: &PgRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    if raw.format() == PgValueFormat::Text {
        let text = raw.as_str().map_err(sqlx::Error::Decode)?;
        return Ok(Value::String(text.to_owned()));
    }
    let scale = raw
        .as_bytes()
        .map_err(sqlx::Error::Decode)?
        .get(6..8)
        .map(|field| u16::from_be_bytes([field[0], field[1]]));
    let mut value: Decimal = row.try_get(index)?;
    if let Some(scale) = scale {
        value.rescale(u32::from(scale));
    }
    Ok(Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_told_apart_from_text_and_unknown_types_are_refused() {
        let numeric: Vec<bool> = ["INT2", "INT4", "INT8", "FLOAT8", "NUMERIC"]
            .iter()
            .map(|t| Kind::of(t).unwrap().is_numeric())
            .collect();
        assert_eq!(numeric, [true; 5]);
        let other: Vec<bool> = ["BOOL", "TEXT", "DATE", "TIMESTAMP", "TIMESTAMPTZ"]
            .iter()
            .map(|t| Kind::of(t).unwrap().is_numeric())
            .collect();
        assert_eq!(other, [false; 5]);
        assert_eq!(Kind::of("JSONB"), None);
        assert_eq!(Kind::of("BYTEA"), None);
    }
}
