//! The first phase of an aggregate's run: which days it computes. Those asked (`--date`, `--range`,
//! every day of the data with `--full-refresh`), or, for a plain run, the days due (the data's days
//! never computed, and those the last run failed to compute); and the stale days.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::PgConnection;
use stages::{Aggregate, DayRange, Staleness};

use crate::db::Db;
use crate::ledger;
use crate::plan::PlannedStage;
use crate::runner::{Days, RunOptions};

/// The days a run of an aggregate computes, as chosen before it starts.
pub(super) struct Chosen {
    /// The days asked for (every day of the data with `--full-refresh`).
    pub asked: Option<DayRange>,
    /// For a plain run, the days due: never computed, or failed by the last run; ascending.
    pub due: Vec<NaiveDate>,
    /// The stale days: only the whole-day ones when the run refreshes (the refresh finds the
    /// others), all of them otherwise.
    pub stale: Staleness,
    /// Whether a load changed anything the refresh would recompute.
    pub pending: bool,
}

impl Chosen {
    /// Whether `day` is among the days asked or due.
    pub fn asks_for(&self, day: NaiveDate) -> bool {
        self.asked.is_some_and(|r| r.start <= day && day <= r.end)
            || self.due.binary_search(&day).is_ok()
    }

    /// Whether there is nothing to compute: no day asked or due, and (when the run recomputes stale
    /// days, `stale`) none stale and no change pending.
    pub fn nothing_to_do(&self, stale: bool) -> bool {
        let nothing_stale = self.stale.days().is_empty() && !self.pending;
        self.asked.is_none() && self.due.is_empty() && (!stale || nothing_stale)
    }

    /// The stale days left as they are by a run that does not recompute them, ascending.
    pub fn stale_left(&self) -> Vec<NaiveDate> {
        self.stale
            .days()
            .into_iter()
            .filter(|d| !self.asks_for(*d))
            .collect()
    }

    /// The whole-day stale days recomputed beyond those asked (none when `stale` is off).
    pub fn whole_stale(&self, stale: bool) -> Vec<NaiveDate> {
        if !stale {
            return Vec::new();
        }
        self.stale
            .whole
            .iter()
            .copied()
            .filter(|d| !self.asks_for(*d))
            .collect()
    }

    /// The days computed whole: those asked or due, and `whole_stale`; ascending, once.
    pub fn whole_days(&self, whole_stale: &[NaiveDate]) -> Vec<NaiveDate> {
        let mut whole: Vec<NaiveDate> = self
            .asked
            .map(|r| r.start.iter_days().take(r.len() as usize).collect())
            .unwrap_or_default();
        whole.extend(&self.due);
        whole.extend(whole_stale);
        whole.sort_unstable();
        whole.dedup();
        whole
    }
}

/// Chooses the days a run of `stage` computes (see [`Chosen`]).
pub(super) async fn choose_days(
    db: &Db,
    aggregate: &dyn Aggregate,
    stage: &PlannedStage,
    options: RunOptions,
) -> Result<Chosen> {
    // Read before the connection below is taken: a run holds few (`database.max_connections`).
    let failed = match options.days {
        Days::Due => ledger::failed_days(db, &stage.name).await?,
        _ => None,
    };
    let mut conn = db.pool.acquire().await?;
    let data_days = match options.days {
        Days::Range(_) => None,
        Days::All | Days::Due => aggregate
            .data_days(&mut conn)
            .await
            .context("cannot read the first and last purchase day")?,
    };
    let (asked, due) = match options.days {
        Days::Range(range) => (Some(range), Vec::new()),
        Days::All => (data_days, Vec::new()),
        Days::Due => {
            let failed = failed.map(|(days, _)| days).unwrap_or_default();
            (None, due_days(&mut conn, stage, data_days, failed).await?)
        }
    };
    let (stale, pending) = stale_days(&mut conn, aggregate, stage, options.stale).await?;
    Ok(Chosen {
        asked,
        due,
        stale,
        pending,
    })
}

/// The days of `data_days` that `stage` never computed, and the `failed` ones; ascending, once.
async fn due_days(
    conn: &mut PgConnection,
    stage: &PlannedStage,
    data_days: Option<DayRange>,
    failed: Vec<NaiveDate>,
) -> Result<Vec<NaiveDate>> {
    let mut due = Vec::new();
    if let Some(data) = data_days {
        let computed: BTreeSet<NaiveDate> =
            stages::core::freshness::computed_days(conn, &stage.name)
                .await
                .context("cannot read the computed days")?
                .into_iter()
                .collect();
        due.extend(
            data.start
                .iter_days()
                .take(data.len() as usize)
                .filter(|d| !computed.contains(d)),
        );
    }
    due.extend(failed);
    due.sort_unstable();
    due.dedup();
    Ok(due)
}

/// The stale days of `stage`, and whether any change is pending. A run that refreshes the partial
/// days anyway (`refresh`) learns them from the refresh; finding them here would cost as much
/// again. Whether there is anything to refresh at all is cheap to know.
async fn stale_days(
    conn: &mut PgConnection,
    aggregate: &dyn Aggregate,
    stage: &PlannedStage,
    refresh: bool,
) -> Result<(Staleness, bool)> {
    if refresh {
        let whole = aggregate
            .whole_stale(conn, &stage.name, &stage.fingerprint)
            .await
            .context("cannot find the stale days")?;
        let pending = stages::core::freshness::changes_pending(conn, &stage.name)
            .await
            .context("cannot find the pending changes")?;
        Ok((
            Staleness {
                whole,
                partial: Vec::new(),
            },
            pending,
        ))
    } else {
        let stale = aggregate
            .stale(conn, &stage.name, &stage.fingerprint)
            .await
            .context("cannot find the stale days")?;
        Ok((stale, false))
    }
}

/// The first and last purchase day in the data.
pub(super) async fn data_days_of(db: &Db, aggregate: &dyn Aggregate) -> Result<Option<DayRange>> {
    let mut conn = db.pool.acquire().await?;
    aggregate
        .data_days(&mut conn)
        .await
        .context("cannot read the first and last purchase day")
}
