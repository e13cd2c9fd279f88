//! The checks before a run, which `pipeline validate` reports: what a run needs (the database
//! reachable, the data directory, every input file readable with the right header). Changes
//! nothing.

use std::path::PathBuf;

use anyhow::{Context, Result};
use olist::Dataset;

use crate::db;
use crate::plan::Plan;
use crate::runner;

/// What `pipeline validate` found.
#[derive(Debug, Default)]
pub struct Checks {
    /// The database reached (`host:port/name`), if it was.
    pub database: Option<String>,
    /// The input files found readable with the right header, in load order.
    pub files: Vec<(Dataset, PathBuf)>,
    /// What is wrong, one message each.
    pub problems: Vec<String>,
    /// What stopped the checks (an extract stage that cannot be built): the command's error alone.
    pub stopped: Option<anyhow::Error>,
}

impl Checks {
    /// Whether nothing is wrong.
    pub fn valid(&self) -> bool {
        self.problems.is_empty() && self.stopped.is_none()
    }

    /// The command's error: what stopped the checks, or the problems, if any.
    pub fn result(self) -> Result<()> {
        if let Some(error) = self.stopped {
            return Err(error);
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(self.problems.join("\n"))).context("validation failed")
        }
    }
}

/// Checks the environment `plan` runs in.
pub async fn check(plan: &Plan) -> Checks {
    let mut checks = Checks::default();
    if let Err(error) = check_into(plan, &mut checks).await {
        checks.stopped = Some(error);
    }
    checks
}

async fn check_into(plan: &Plan, checks: &mut Checks) -> Result<()> {
    let problems = &mut checks.problems;
    match db::connect_existing(&plan.database).await {
        Ok(db) => checks.database = Some(db.target),
        Err(e) => problems.push(format!("{e:#}")),
    }
    if let Err(e) = runner::check_data_dir(&plan.data_dir) {
        problems.push(format!("{e:#}"));
    } else if let Some(stage) = plan.with_role(stages::Role::Extract).next()
        && let stages::Stage::Extract(extract) = stage.build(&plan.context())?
    {
        for dataset in olist::Dataset::LOAD_ORDER {
            match extract.open(dataset).await {
                Ok(source) => checks.files.push((dataset, source.path)),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    Ok(())
}
