//! The work of each command, one module per subcommand: `cli` parses the arguments and compiles the
//! plan, then calls the command's `run`. What two commands share (how they connect, the declared
//! customer aggregate they read) is here.

pub mod cluster;
pub mod demo;
pub mod erase;
pub mod generate;
pub mod migrate;
pub mod rejects;
pub mod repeaters;
pub mod report;
pub mod run;
pub mod schedule;
pub mod stage_types;
pub mod stats;
pub mod status;
pub mod top_customers;
pub mod validate;

use anyhow::Result;
use stages::Stage;

use crate::db::{self, Db};
use crate::error::UsageError;
use crate::ledger;
use crate::plan::{CustomerAggregate, Plan};

/// Connects for a command that writes: creates the database when missing, applies pending
/// migrations and closes the ledger rows of runs whose process died.
async fn connect(plan: &Plan) -> Result<Db> {
    let db = db::connect(&plan.database).await?;
    db::migrate(&db).await?;
    ledger::close_interrupted(&db).await?;
    Ok(db)
}

/// Connects for a command that only reads: it neither creates the database nor migrates it (a role
/// with read rights alone may run it), and it says `run pipeline migrate` when the schema is behind.
async fn connect_to_read(plan: &Plan) -> Result<Db> {
    let db = db::connect_existing(&plan.database).await?;
    if let Err(e) = db::check_schema(&db).await {
        db.close().await;
        return Err(e);
    }
    // Closing the ledger rows of dead runs is a write; a role that may only read leaves them for
    // the next writer.
    if let Err(e) = ledger::close_interrupted(&db).await {
        let denied = e.chain().any(|cause| {
            matches!(cause.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501"))
        });
        if !denied {
            db.close().await;
            return Err(e);
        }
        tracing::debug!("no right to close interrupted runs; left for the next run");
    }
    Ok(db)
}

/// The declared customer aggregate, whose rows `command` reads; a usage error (exit 2) saying which
/// stage type to declare when the pipeline declares none.
fn customer_aggregate<'p>(plan: &'p Plan, command: &str) -> Result<CustomerAggregate<'p>> {
    plan.customer_aggregate()?.ok_or_else(|| {
        UsageError(vec![format!(
            "{command} reads the rows of a customer aggregate (one row per customer and day), and {} declares none; declare a stage of type {} (declared aggregates: {})",
            plan.config_path.display(),
            customer_aggregate_types(plan).join(" or "),
            declared_aggregates(plan)
        )])
        .into()
    })
}

/// The registered stage types whose rows are one per customer and day (what
/// [`customer_aggregate`] asks for): built with their defaults, which does no I/O.
fn customer_aggregate_types(plan: &Plan) -> Vec<String> {
    let context = plan.context();
    stages::registered_stage_types()
        .into_iter()
        .filter(|(_, config)| {
            matches!(config.build(&context),
                Ok(Stage::Aggregate(aggregate)) if aggregate.customer_reads().is_some())
        })
        .map(|(name, _)| name)
        .collect()
}

/// The declared aggregates as `name (type)`, comma-separated, or `none`.
fn declared_aggregates(plan: &Plan) -> String {
    let names: Vec<String> = plan
        .with_role(stages::Role::Aggregate)
        .map(|s| format!("{} ({})", s.name, s.type_name))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
