//! `validate`: decides, for every data line, whether it is loaded, a duplicate, or rejected with a
//! reason a person understands.
//!
//! Row rules (everything one line decides: CSV shape, field count, required values, value formats,
//! timestamp window, status set, amounts) run while the file streams, in [`rules`]. Set rules (unique
//! keys, references between datasets) run as SQL over the staged rows in the load's transaction, in
//! [`set_rules`], in this order: references first, then keys among the lines still accepted, so a
//! rejected line never claims its key and the first valid occurrence of a key wins.

pub mod rules;
pub mod set_rules;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::dataset::Dataset;
use crate::record::{RecordBatch, ValidatedBatch};
use crate::{Problem, Role, RunContext, Source, Stage, StageConfig, Validate};

/// Options of the `validate` stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValidateConfig {
    /// Earliest accepted timestamp (a day, `YYYY-MM-DD`); earlier ones reject the line.
    #[serde(default = "default_earliest")]
    pub earliest: NaiveDate,
    /// Latest accepted event timestamp (purchase, approval, deliveries), `YYYY-MM-DD HH:MM:SS`;
    /// defaults to the run time.
    #[serde(default)]
    pub latest: Option<NaiveDateTime>,
    /// How many days after the latest event time a planned timestamp (estimated delivery, shipping
    /// limit) may lie.
    #[serde(default = "default_planned_days_ahead")]
    pub planned_days_ahead: u32,
    /// The largest share of any file's lines that may be rejected; above it the load is aborted and
    /// nothing is written (the usual cause is a wrong file).
    #[serde(default = "default_max_reject_ratio")]
    pub max_reject_ratio: f64,
}

fn default_earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}
fn default_planned_days_ahead() -> u32 {
    366
}
fn default_max_reject_ratio() -> f64 {
    0.05
}

impl Default for ValidateConfig {
    fn default() -> Self {
        Self {
            earliest: default_earliest(),
            latest: None,
            planned_days_ahead: default_planned_days_ahead(),
            max_reject_ratio: default_max_reject_ratio(),
        }
    }
}

#[typetag::serde(name = "validate")]
impl StageConfig for ValidateConfig {
    fn role(&self) -> Role {
        Role::Validate
    }

    fn about(&self) -> &'static str {
        "rejects bad lines with a reason (shape, formats, time window, duplicates, references)"
    }

    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !(0.0..=1.0).contains(&self.max_reject_ratio) || self.max_reject_ratio.is_nan() {
            problems.push(Problem::new(
                "max_reject_ratio",
                format!("must be between 0 and 1, got {}", self.max_reject_ratio),
            ));
        }
        if let Some(latest) = self.latest
            && latest.date() < self.earliest
        {
            problems.push(Problem::new(
                "latest",
                format!("{latest} is before earliest ({})", self.earliest),
            ));
        }
        problems
    }

    fn build(&self) -> Stage {
        Stage::Validate(Box::new(Validator {
            config: self.clone(),
        }))
    }
}

/// The runtime `validate` stage.
pub struct Validator {
    config: ValidateConfig,
}

impl Validator {
    /// The time window of this run.
    pub fn window(&self, ctx: &RunContext) -> rules::Window {
        let latest_event = self.config.latest.unwrap_or(ctx.run_time);
        rules::Window {
            earliest: self.config.earliest.and_hms_opt(0, 0, 0).expect("midnight"),
            latest_event,
            latest_planned: latest_event
                + chrono::Duration::days(i64::from(self.config.planned_days_ahead)),
            latest_is_run_time: self.config.latest.is_none(),
            planned_days_ahead: self.config.planned_days_ahead,
        }
    }
}

#[async_trait]
impl Validate for Validator {
    fn check_batch(&self, source: &Source, ctx: &RunContext, batch: RecordBatch) -> ValidatedBatch {
        let window = self.window(ctx);
        let mut out = ValidatedBatch::default();
        for record in batch {
            match rules::check_record(source, &window, record) {
                Ok(row) => out.rows.push(row),
                Err(rejection) => out.rejections.push(rejection),
            }
        }
        out
    }

    async fn check_sets(
        &self,
        conn: &mut PgConnection,
        dataset: Dataset,
    ) -> Result<(), sqlx::Error> {
        set_rules::apply(conn, dataset).await
    }

    fn max_reject_ratio(&self) -> f64 {
        self.config.max_reject_ratio
    }
}
