//! `pipeline report`: one self-contained HTML page of charts over a range of days, or the data
//! behind them as JSON. The SQL is in [`data`], the drawing in [`render`].

pub mod data;
pub mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use stages::DayRange;

use crate::db::Db;
use crate::plan::{CustomerAggregate, Plan};
use data::DayState;

/// The most days a report covers (a century and a little more): a page of charts over more days
/// than that reads nothing anyone can see.
pub const MAX_DAYS: u64 = 36_600;

/// What `pipeline report` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReportFormat {
    /// One self-contained HTML page (default file: report.html).
    #[default]
    Html,
    /// The data behind every chart, as JSON (default: stdout).
    Json,
}

/// What `pipeline report` made.
#[derive(Debug)]
pub enum Written {
    /// The data as JSON, for stdout (no file named).
    Json(String),
    /// The data as JSON, written to the file named.
    JsonFile,
    /// The page, written to `path`.
    Page {
        /// Where.
        path: PathBuf,
        /// The days it covers.
        range: DayRange,
        /// Its size in bytes.
        bytes: usize,
    },
}

/// `pipeline report`: writes the page or the JSON to `out`, or returns the JSON for stdout. The
/// charts of the customers read `customer`'s rows.
pub async fn report(
    db: &Db,
    plan: &Plan,
    customer: &CustomerAggregate<'_>,
    range: Option<DayRange>,
    out: Option<&Path>,
    format: ReportFormat,
) -> Result<Written> {
    let range = match range {
        Some(range) => range,
        None => data::whole_history(db, customer).await?.context(
            "nothing to report: no orders are loaded and no statistics are stored (run `pipeline run` first)",
        )?,
    };
    // A `--range` is bounded when it is parsed; the whole history is bounded here.
    if range.len() > MAX_DAYS {
        bail!("range {range} is longer than 100 years; pass a shorter --range");
    }
    let (report, totals) = data::collect(db, plan, customer, range).await?;
    let missing = report
        .health
        .days
        .iter()
        .filter(|d| d.state == DayState::Missing)
        .count();
    if missing > 0 {
        tracing::warn!(
            missing_days = missing,
            "{missing} day(s) of {range} are not computed; figures cover computed days only (pipeline run --range {range} --stage {})",
            customer.stage.name
        );
    }
    Ok(match format {
        ReportFormat::Json => {
            let text = serde_json::to_string_pretty(&report)?;
            match out {
                Some(path) => {
                    write_atomically(path, &text)?;
                    Written::JsonFile
                }
                None => Written::Json(text),
            }
        }
        ReportFormat::Html => {
            let generated_at = chrono::Local::now()
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string();
            let page = render::page(&report, &totals, &generated_at)?;
            let path = out.map_or_else(|| PathBuf::from("report.html"), Path::to_path_buf);
            write_atomically(&path, &page)?;
            Written::Page {
                path,
                range,
                bytes: page.len(),
            }
        }
    })
}

/// Writes `text` next to `path` and renames it into place, so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut temporary = name.to_owned();
    temporary.push(".partial");
    let temporary = path.with_file_name(temporary);
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}
