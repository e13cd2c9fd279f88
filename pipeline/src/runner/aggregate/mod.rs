//! An aggregate stage's run, phase by phase: choose the days ([`choose`]), compute them whole
//! ([`compute`]), refresh the people a load changed ([`refresh`]), record the outcome in the
//! ledger ([`record`]).

mod choose;
mod compute;
mod record;
mod refresh;

use std::time::Instant;

use anyhow::Result;
use stages::entities::pipeline_run::RunKind;
use stages::{AggregateRun, StageContext};

use super::{AggregateReport, RunOptions, progress_bar};
use crate::db::Db;
use crate::ledger::{self, RunSubject};
use crate::plan::PlannedStage;

/// Computes `stage`: the days asked, then (unless `options.stale` is off) every stale day: days
/// computed with other options or under a bulk change are recomputed whole, chunk by chunk; then the
/// rows of the people a load changed are recomputed on every computed day, in one transaction. A
/// chunk that fails on its data is retried day by day, so one bad day fails alone and names itself.
/// Returns the report, and the error that failed the stage run, if any.
pub(super) async fn run(
    db: &Db,
    ctx: &StageContext,
    stage: &PlannedStage,
    options: RunOptions,
    invocation: i64,
) -> (AggregateReport, Option<anyhow::Error>) {
    let mut report = AggregateReport {
        stage: stage.name.clone(),
        ..AggregateReport::default()
    };
    let error = run_into(db, ctx, stage, options, invocation, &mut report)
        .await
        .err();
    (report, error)
}

/// [`run`], filling `report` as it goes.
async fn run_into(
    db: &Db,
    ctx: &StageContext,
    stage: &PlannedStage,
    options: RunOptions,
    invocation: i64,
    report: &mut AggregateReport,
) -> Result<()> {
    let started = Instant::now();
    let aggregate = stage.build_aggregate(ctx)?;
    // Which days: those asked (or, for a plain run, those due), and the stale ones.
    let chosen = choose::choose_days(db, aggregate.as_ref(), stage, options).await?;
    report.days_requested = chosen.asked;
    report.days_due.clone_from(&chosen.due);
    if !options.stale {
        report.days_stale_left = chosen.stale_left();
    }
    if chosen.nothing_to_do(options.stale) {
        tracing::info!(stage = %stage.name, "every day is computed and none is stale; nothing to compute");
        report.data_days = choose::data_days_of(db, aggregate.as_ref())
            .await
            .ok()
            .flatten();
        return Ok(());
    }
    let run = ledger::open(
        db,
        &RunSubject {
            kind: RunKind::Stage,
            name: &stage.name,
            type_name: &stage.type_name,
            fingerprint: &stage.fingerprint,
            parent: Some(invocation),
            days: chosen.asked,
        },
    )
    .await?;
    report.run_id = run.id;
    let context = AggregateRun {
        run_id: run.id,
        stage_name: &stage.name,
        fingerprint: &stage.fingerprint,
        row_key: aggregate.row_key(),
    };
    // The days computed whole: those asked or due, and (unless skipped) the whole-day stale ones.
    let whole_stale = chosen.whole_stale(options.stale);
    let whole = chosen.whole_days(&whole_stale);
    let bar = progress_bar(whole.len() as u64, &stage.name);
    let computed = async {
        compute::compute_whole_days(db, aggregate.as_ref(), &whole, &context, &bar, report).await?;
        if options.stale {
            refresh::refresh_people(
                db,
                aggregate.as_ref(),
                &context,
                &chosen,
                &whole_stale,
                report,
            )
            .await?;
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    report.seconds = started.elapsed().as_secs_f64();
    record::record_outcome(run, report, computed).await
}
