//! `pipeline erase`: erases a person on request (see [`crate::erasure`]) and prints what went.

use anyhow::Result;

use super::connect;
use crate::erasure::{self, EraseOptions};
use crate::output::{self, RecordFormat};
use crate::plan::Plan;

/// Erases the person `options` names, or (with `dry_run`) says what would go.
pub async fn run(plan: &Plan, options: &EraseOptions, format: RecordFormat) -> Result<()> {
    let db = connect(plan).await?;
    let result = erasure::erase(&db, plan, options).await;
    db.close().await;
    output::erase(&result?, format)
}
