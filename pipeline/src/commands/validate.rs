//! `pipeline validate`: checks the configuration (compiled already) and the environment; changes
//! nothing.

use anyhow::Result;

use crate::output;
use crate::plan::Plan;
use crate::preflight;

/// Prints what was found right; what is wrong is the command's error.
pub async fn run(plan: &Plan) -> Result<()> {
    let checks = preflight::check(plan).await;
    output::checks(&checks, plan);
    checks.result()
}
