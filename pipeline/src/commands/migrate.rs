//! `pipeline migrate`: applies the pending migrations.

use anyhow::Result;

use crate::db;
use crate::output;
use crate::plan::Plan;

/// Connects (creating the database when missing), migrates and says what was applied.
pub async fn run(plan: &Plan) -> Result<()> {
    let db = db::connect(&plan.database).await?;
    let applied = db::migrate(&db).await?;
    output::migrated(&db.target, &applied);
    db.close().await;
    Ok(())
}
