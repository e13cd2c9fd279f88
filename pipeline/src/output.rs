//! Output formats: aligned tables for people, CSV and JSON for machines (no decoration).

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// An aligned table with a summary line.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON.
    Json,
}

/// How a command that reports what it did prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum RecordFormat {
    /// Tables and sentences for people.
    #[default]
    Table,
    /// One JSON object on stdout.
    Json,
}

/// A table of text cells; numbers are right-aligned in table output.
pub struct Grid {
    /// Column names.
    pub header: Vec<&'static str>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// Which columns hold numbers.
    pub numeric: Vec<bool>,
}

impl Grid {
    /// Renders an aligned table. Control characters from the data (an escape sequence in a city
    /// name) are written as escapes such as `\x1b`, so they cannot drive the terminal; CSV and JSON
    /// keep every value as it is.
    pub fn to_table(&self) -> String {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(self.header.iter().map(Cell::new));
        for row in &self.rows {
            table.add_row(row.iter().enumerate().map(|(i, value)| {
                let cell = Cell::new(stages::csv_extract::visible(value));
                if self.numeric.get(i).copied().unwrap_or(false) {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }));
        }
        table.to_string()
    }

    /// Writes CSV to `out`.
    pub async fn write_csv<W: tokio::io::AsyncWrite + Unpin + Send>(&self, out: W) -> Result<()> {
        let mut writer = csv_async::AsyncWriter::from_writer(out);
        writer.write_record(&self.header).await?;
        for row in &self.rows {
            writer.write_record(row).await?;
        }
        writer.flush().await?;
        Ok(())
    }

    /// Prints the grid to stdout in `format` (JSON is printed by the caller, which knows the shape).
    pub async fn print(&self, format: Format) -> Result<()> {
        match format {
            Format::Csv => self.write_csv(tokio::io::stdout()).await,
            _ => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", self.to_table())?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn csv_has_a_header_and_quotes_when_needed() {
        let grid = Grid {
            header: vec!["a", "b"],
            rows: vec![vec!["1".into(), "x,y".into()]],
            numeric: vec![true, false],
        };
        let mut out = Vec::new();
        grid.write_csv(&mut out).await.unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\n1,\"x,y\"\n");
        assert!(grid.to_table().contains("x,y"));
    }

    #[tokio::test]
    async fn control_characters_are_neutralised_in_tables_only() {
        let city = "sao\u{1b}[31m paulo\u{1b}]0;owned\u{7}\r\n\u{9b}2J";
        let grid = Grid {
            header: vec!["city"],
            rows: vec![vec![city.into()]],
            numeric: vec![false],
        };
        let table = grid.to_table();
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(
            table.contains("sao\\x1b[31m paulo\\x1b]0;owned\\x07\\x0d\\x0a\\x9b2J"),
            "{table}"
        );
        let mut out = Vec::new();
        grid.write_csv(&mut out).await.unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("city\n\"{city}\"\n")
        );
    }
}
