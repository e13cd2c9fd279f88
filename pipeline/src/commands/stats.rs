//! `pipeline stats`: a day's rows of an aggregate, the largest first: by default the customer
//! aggregate's per-customer rows, with `--stage NAME` any declared aggregate's.

use anyhow::Result;
use chrono::NaiveDate;

use super::{connect_to_read, declared_aggregates};
use crate::error::UsageError;
use crate::output::{self, Format};
use crate::plan::{BuiltAggregate, Plan};
use crate::queries;

/// What `pipeline stats` is asked.
#[derive(Clone, Copy, Debug)]
pub struct StatsOptions<'a> {
    /// The aggregate stage (the customer aggregate when `None`).
    pub stage: Option<&'a str>,
    /// The day.
    pub date: NaiveDate,
    /// Only this customer's rows (an aggregate keyed by customer only).
    pub customer: Option<&'a str>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Every column in the table.
    pub wide: bool,
    /// The output format.
    pub format: Format,
}

/// Reads the rows the options ask for and prints them (every column with `wide`).
pub async fn run(plan: &Plan, options: StatsOptions<'_>) -> Result<()> {
    let aggregate = aggregate_to_show(plan, options.stage, options.customer)?;
    let db = connect_to_read(plan).await?;
    let result = queries::stats(
        &db,
        &aggregate,
        options.date,
        options.customer,
        options.limit,
    )
    .await;
    db.close().await;
    output::stats(&result?, options.format, options.wide).await
}

/// The aggregate `stage` names, or the customer aggregate without one; a usage error (exit 2)
/// naming the declared aggregates when there is no such aggregate, or when `customer` is asked of
/// an aggregate whose rows are not per customer.
fn aggregate_to_show<'p>(
    plan: &'p Plan,
    stage: Option<&str>,
    customer: Option<&str>,
) -> Result<BuiltAggregate<'p>> {
    let usage = |message: String| -> anyhow::Error { UsageError(vec![message]).into() };
    let aggregate = match stage {
        None => plan
            .aggregates()?
            .into_iter()
            .find(|a| a.aggregate.customer_reads().is_some())
            .ok_or_else(|| {
                usage(format!(
                    "stats without --stage shows the customer aggregate's rows, and {} declares none; pass --stage NAME (declared aggregates: {})",
                    plan.config_path.display(),
                    declared_aggregates(plan)
                ))
            })?,
        Some(name) => plan
            .aggregates()?
            .into_iter()
            .find(|a| a.stage.name == name)
            .ok_or_else(|| {
                usage(match plan.stage(name) {
                    Some(other) => format!(
                        "stats --stage {name}: \"{name}\" is a {} stage, not an aggregate (declared aggregates: {})",
                        other.role,
                        declared_aggregates(plan)
                    ),
                    None => format!(
                        "stats --stage {name}: no stage is named \"{name}\" (declared aggregates: {})",
                        declared_aggregates(plan)
                    ),
                })
            })?,
    };
    if customer.is_some() && aggregate.aggregate.customer_reads().is_none() {
        return Err(usage(format!(
            "--customer picks one customer's rows, and the rows of stage \"{}\" ({}) are not per customer; leave --customer out",
            aggregate.stage.name, aggregate.stage.type_name
        )));
    }
    Ok(aggregate)
}
