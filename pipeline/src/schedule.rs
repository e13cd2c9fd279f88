//! The daily scheduler behind `pipeline schedule`.
//!
//! `pipeline schedule` is a long-running mode: every day at a configured local
//! time (`[schedule]` in `pipeline.toml`, e.g. `at = "01:00"`,
//! `timezone = "America/Sao_Paulo"`) it runs the pipeline for the *previous*
//! local calendar day, logs one line per run with its outcome, and keeps going
//! after a failure.
//!
//! # When a day is due
//!
//! The run for day `D` happens at `at` local time on `D + 1`: day `D` is *due*
//! once the current instant has reached the instant of `D + 1` at `at` in the
//! configured zone (see [`local_instant`] for how that instant is chosen around
//! DST changes). "Yesterday" and "today" are always local calendar dates in the
//! configured zone, never UTC dates.
//!
//! * With a run ledger entry (the last completed day `L`), every day of the
//!   catch-up window (the newest due day and the `max_catch_up_days - 1` days
//!   before it) that is missing, failed or stale runs, oldest first; so does
//!   every day from `L + 1` up to the newest due day. Missed days older than
//!   the window are reported as skipped, with the `pipeline run --range A..B`
//!   command that backfills them. After each run the due days are read again,
//!   since one run also recomputes every stale day.
//! * On a fresh database (no ledger entry) only yesterday is due, and only once
//!   today's `at` has passed; before that nothing runs until today's `at`.
//! * `--once` (for an external cron) runs what is due and returns. The
//!   external scheduler picks the time of day, so `at` is not consulted: every
//!   day up to yesterday counts as due, and on a fresh database yesterday runs.
//!
//! # DST
//!
//! * A local `at` that does not exist on a spring-forward day (02:30 in
//!   `America/New_York` on 2024-03-10, or 00:30 in `America/Sao_Paulo` on
//!   2018-11-04, when clocks went from 00:00 straight to 01:00) runs at the
//!   first valid instant after the gap (03:00 EDT, 01:00 -02 respectively).
//! * An ambiguous `at` on a fall-back day (01:30 in `America/New_York` on
//!   2024-11-03) runs once, at the earlier of the two instants (01:30 EDT).
//!
//! # Failures, retries and shutdown
//!
//! * [`JobError::Failed`]: the day is logged as failed (with the command that
//!   re-runs it) and the scheduler moves on to the next day. It is tried again
//!   at the next tick (it is still missing or failed then), not within this one.
//! * [`JobError::Unreachable`]: the same operation is retried with capped
//!   exponential backoff (`retry_initial`, doubling, at most `retry_max`),
//!   with one warn line per failed attempt, until it succeeds, fails for good
//!   or a shutdown is requested. With `--once` it gives up after
//!   `once_attempts` attempts, and the day counts as failed.
//! * Shutdown (SIGTERM, Ctrl-C; the caller turns them into the `shutdown`
//!   future): while idle or waiting between retries the scheduler returns at
//!   once; while a run is in progress it waits for that run to finish (the run
//!   is transactional) and then returns. Either way [`run_schedule`] returns
//!   `Ok`, so the process exits 0.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tracing::{info, warn};

/// Longest single nap of [`SystemClock::sleep_until`]; the wall clock is read
/// again after each nap, so a suspended host or a clock adjustment delays a run
/// by at most this much.
const MAX_NAP: Duration = Duration::from_mins(1);

/// The validated `[schedule]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Local time of day at which the previous day is run.
    pub at: NaiveTime,
    /// Time zone in which `at` and calendar days are reckoned.
    pub timezone: Tz,
    /// At most this many missed days are caught up on start; older ones are
    /// skipped and logged with the command that backfills them.
    pub max_catch_up_days: u32,
    /// First delay before retrying when the database is unreachable.
    pub retry_initial: Duration,
    /// Cap of the doubling retry delay.
    pub retry_max: Duration,
    /// With `--once`, attempts made while the database is unreachable before giving up.
    pub once_attempts: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        RawScheduleConfig::default()
            .try_into()
            .expect("the default schedule configuration is valid")
    }
}

/// The `[schedule]` section as written in `pipeline.toml`, before validation.
///
/// Every key is optional; unknown keys are rejected. Convert it with
/// [`ScheduleConfig::try_from`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduleConfig {
    /// Local time of day as `"HH:MM"` (default `"01:00"`).
    #[serde(default = "default_at")]
    pub at: String,
    /// IANA time zone name (default `"UTC"`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Most missed days caught up on start (default 31, at least 1).
    #[serde(default = "default_max_catch_up_days")]
    pub max_catch_up_days: u32,
    /// First retry delay in seconds when the database is unreachable (default 5, at least 1).
    #[serde(default = "default_retry_initial_secs")]
    pub retry_initial_secs: u64,
    /// Cap of the retry delay in seconds (default 300, at least `retry_initial_secs`).
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// With `--once`, attempts made while the database is unreachable before giving up and exiting
    /// 1 (default 5, at least 1).
    #[serde(default = "default_once_attempts")]
    pub once_attempts: u32,
}

fn default_at() -> String {
    "01:00".to_owned()
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn default_max_catch_up_days() -> u32 {
    31
}

fn default_retry_initial_secs() -> u64 {
    5
}

fn default_retry_max_secs() -> u64 {
    300
}

fn default_once_attempts() -> u32 {
    5
}

impl Default for RawScheduleConfig {
    fn default() -> Self {
        Self {
            at: default_at(),
            timezone: default_timezone(),
            max_catch_up_days: default_max_catch_up_days(),
            retry_initial_secs: default_retry_initial_secs(),
            retry_max_secs: default_retry_max_secs(),
            once_attempts: default_once_attempts(),
        }
    }
}

/// Why a `[schedule]` section is invalid; each message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleConfigError {
    /// `at` is not `HH:MM`.
    #[error("schedule.at: {0:?} is not a time of day (expected HH:MM)")]
    BadTime(String),
    /// `timezone` is not an IANA time zone name.
    #[error("schedule.timezone: unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// `max_catch_up_days` is 0.
    #[error("schedule.max_catch_up_days: must be at least 1")]
    NoCatchUp,
    /// `retry_initial_secs` is 0.
    #[error("schedule.retry_initial_secs: must be at least 1")]
    ZeroRetry,
    /// `once_attempts` is 0.
    #[error("schedule.once_attempts: must be at least 1")]
    NoAttempt,
    /// `retry_max_secs` is below `retry_initial_secs`.
    #[error("schedule.retry_max_secs: {max} is less than retry_initial_secs ({initial})")]
    RetryCapTooSmall {
        /// The configured cap.
        max: u64,
        /// The configured first delay.
        initial: u64,
    },
}

impl TryFrom<RawScheduleConfig> for ScheduleConfig {
    type Error = ScheduleConfigError;

    fn try_from(raw: RawScheduleConfig) -> Result<Self, Self::Error> {
        let at =
            parse_hh_mm(&raw.at).ok_or_else(|| ScheduleConfigError::BadTime(raw.at.clone()))?;
        let timezone: Tz = raw
            .timezone
            .parse()
            .map_err(|_| ScheduleConfigError::UnknownTimeZone(raw.timezone.clone()))?;
        if raw.max_catch_up_days == 0 {
            return Err(ScheduleConfigError::NoCatchUp);
        }
        if raw.retry_initial_secs == 0 {
            return Err(ScheduleConfigError::ZeroRetry);
        }
        if raw.once_attempts == 0 {
            return Err(ScheduleConfigError::NoAttempt);
        }
        if raw.retry_max_secs < raw.retry_initial_secs {
            return Err(ScheduleConfigError::RetryCapTooSmall {
                max: raw.retry_max_secs,
                initial: raw.retry_initial_secs,
            });
        }
        Ok(Self {
            at,
            timezone,
            max_catch_up_days: raw.max_catch_up_days,
            retry_initial: Duration::from_secs(raw.retry_initial_secs),
            retry_max: Duration::from_secs(raw.retry_max_secs),
            once_attempts: raw.once_attempts,
        })
    }
}

/// Parses exactly `HH:MM` (two digits each, 00:00 to 23:59).
fn parse_hh_mm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// Source of the current time and of sleeping, injectable for tests.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Returns once [`Clock::now`] has reached `t` (at once if it already has).
    async fn sleep_until(&self, t: DateTime<Utc>);
}

/// The real wall clock, sleeping on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        // Naps of at most MAX_NAP, re-reading the wall clock after each, so that
        // a suspended host or a clock step does not push the run far off.
        loop {
            let left = match (t - Utc::now()).to_std() {
                Ok(left) if !left.is_zero() => left,
                _ => return,
            };
            tokio::time::sleep(left.min(MAX_NAP)).await;
        }
    }
}

/// Why an operation of a [`DailyJob`] did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The database could not be reached; retried with capped exponential backoff.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// The run failed; logged, and the scheduler moves on to the next day or tick.
    #[error("{0}")]
    Failed(String),
}

/// The work the scheduler drives: the pipeline, seen one day at a time.
#[async_trait]
pub trait DailyJob: Send + Sync {
    /// Last day that a scheduled (or any) run completed for, if any.
    async fn last_completed_day(&self) -> Result<Option<NaiveDate>, JobError>;
    /// The days of `from..=to` that are missing, failed or stale, oldest first.
    async fn days_due(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, JobError>;
    /// Run the pipeline for one day.
    async fn run_day(&self, day: NaiveDate) -> Result<(), JobError>;
}

/// Days to run now, and the range of missed days too old to catch up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueDays {
    /// Days to run, oldest first.
    pub run: Vec<NaiveDate>,
    /// Inclusive range of missed days beyond `max_catch_up_days`, not run.
    pub skipped: Option<(NaiveDate, NaiveDate)>,
    /// The catch-up window (the newest due day and the days before it, `max_catch_up` in all), in
    /// which missing, failed and stale days run too; `None` on a fresh database.
    pub window: Option<(NaiveDate, NaiveDate)>,
}

/// What [`run_schedule`] did before it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    /// Days whose run succeeded, in the order run.
    pub succeeded: Vec<NaiveDate>,
    /// Days whose run failed, in the order run.
    pub failed: Vec<NaiveDate>,
    /// Inclusive ranges of missed days skipped as older than `max_catch_up_days`.
    pub skipped: Vec<(NaiveDate, NaiveDate)>,
    /// Whether a shutdown request ended the schedule.
    pub interrupted: bool,
}

impl ScheduleReport {
    /// Whether any run failed or any missed day was skipped.
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty() || !self.skipped.is_empty()
    }
}

/// The instant at which local date `date` reaches local time `at` in `tz`.
///
/// A local time skipped by a spring-forward change resolves to the first valid
/// instant after the gap; a local time repeated by a fall-back change resolves
/// to the earlier of its two instants.
pub fn local_instant(date: NaiveDate, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = date.and_time(at);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, later) => earlier.min(later).with_timezone(&Utc),
        LocalResult::None => first_instant_after_gap(local, tz),
    }
}

/// The first instant whose local time in `tz` is later than `local`, which lies
/// in a gap. Local time grows with the instant around a gap, so this is a
/// binary search over whole seconds between bounds that hold for any UTC offset
/// (offsets are within -12h..+14h).
fn first_instant_after_gap(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let as_utc = local.and_utc().timestamp();
    let (mut lo, mut hi) = (as_utc - 15 * 3600, as_utc + 13 * 3600);
    let past = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .is_some_and(|t| t.with_timezone(&tz).naive_local() > local)
    };
    // Invariant: !past(lo) && past(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).expect("timestamp within chrono's range")
}

/// The local calendar date of `now` in `tz`.
fn local_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The next scheduled instant strictly after `now`: the earliest
/// [`local_instant`] of some local date at `at` that is later than `now`.
///
/// Around DST this gives one run per local day: after the gap on a
/// spring-forward day, at the earlier instant on a fall-back day.
pub fn next_run_after(now: DateTime<Utc>, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    // Start a day early: a gap resolution can move an instant past midnight.
    let mut date = local_date(now, tz)
        .pred_opt()
        .expect("date within chrono's range");
    loop {
        let t = local_instant(date, at, tz);
        if t > now {
            return t;
        }
        date = date.succ_opt().expect("date within chrono's range");
    }
}

/// The days due at `now` given the last completed day (see the module doc).
///
/// The newest due day is yesterday (local date in `tz`) if `now` has reached
/// today's `at`, else the day before yesterday. With `last_completed` = `L`,
/// the days `L + 1 ..= newest` are due, oldest first; if there are more than
/// `max_catch_up` of them (0 counts as 1) only the newest `max_catch_up` run
/// and the older ones are returned as `skipped`. With no `last_completed`, only yesterday is
/// due, and only once today's `at` has passed. A `last_completed` at or after
/// the newest due day means nothing is due.
pub fn due_days(
    last_completed: Option<NaiveDate>,
    now: DateTime<Utc>,
    at: NaiveTime,
    tz: Tz,
    max_catch_up: u32,
) -> DueDays {
    let today = local_date(now, tz);
    let at_passed = now >= local_instant(today, at, tz);
    let back = if at_passed { 1 } else { 2 };
    let newest = today - Days::new(back);
    let Some(last) = last_completed else {
        return DueDays {
            run: if at_passed { vec![newest] } else { Vec::new() },
            skipped: None,
            window: None,
        };
    };
    let max = i64::from(max_catch_up.max(1));
    let window = Some((newest - Days::new((max - 1) as u64), newest));
    if last >= newest {
        return DueDays {
            window,
            ..DueDays::default()
        };
    }
    let first = last + Days::new(1);
    let count = (newest - first).num_days() + 1;
    let (start, skipped) = if count > max {
        let start = newest - Days::new((max - 1) as u64);
        (start, Some((first, start - Days::new(1))))
    } else {
        (first, None)
    };
    DueDays {
        run: start.iter_days().take_while(|d| *d <= newest).collect(),
        skipped,
        window,
    }
}

/// The shutdown future, polled until it fires and never again after.
struct Shutdown<F> {
    fut: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Shutdown<F> {
    fn new(fut: F) -> Self {
        Self {
            fut: Box::pin(fut),
            fired: false,
        }
    }

    /// Resolves when shutdown has been requested (at once if it already was).
    async fn wait(&mut self) {
        if !self.fired {
            (&mut self.fut).await;
            self.fired = true;
        }
    }

    /// Whether shutdown has been requested, without waiting.
    async fn requested(&mut self) -> bool {
        if !self.fired {
            let fut = &mut self.fut;
            self.fired =
                std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await;
        }
        self.fired
    }
}

/// Outcome of an operation retried while the database is unreachable.
enum Attempt<T> {
    /// It succeeded.
    Done(T),
    /// It failed for good.
    Failed(String),
    /// Shutdown was requested; holds the outcome of the attempt that was in
    /// progress then and was awaited to its end, if any.
    Shutdown(Option<Result<T, JobError>>),
}

/// Displays an optional day as the date or `-`.
struct OptDay(Option<NaiveDate>);

impl fmt::Display for OptDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => d.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// Runs `op` until it does not report [`JobError::Unreachable`], sleeping
/// `retry_initial`, doubling up to `retry_max`, between attempts. A shutdown
/// during an attempt waits for that attempt; during a sleep it returns at once.
async fn retrying<T, Fut, S>(
    cfg: &ScheduleConfig,
    clock: &dyn Clock,
    shutdown: &mut Shutdown<S>,
    operation: &'static str,
    day: Option<NaiveDate>,
    max_attempts: Option<u32>,
    mut op: impl FnMut() -> Fut,
) -> Attempt<T>
where
    Fut: Future<Output = Result<T, JobError>>,
    S: Future<Output = ()>,
{
    let mut delay = cfg.retry_initial;
    let mut attempt: u32 = 1;
    loop {
        if shutdown.requested().await {
            return Attempt::Shutdown(None);
        }
        let fut = op();
        tokio::pin!(fut);
        let result = tokio::select! {
            biased;
            r = &mut fut => r,
            () = shutdown.wait() => {
                info!(operation, day = %OptDay(day), "shutdown requested; waiting for the operation in progress to finish");
                return Attempt::Shutdown(Some(fut.await));
            }
        };
        match result {
            Ok(v) => return Attempt::Done(v),
            Err(JobError::Failed(msg)) => return Attempt::Failed(msg),
            Err(JobError::Unreachable(msg)) if max_attempts.is_some_and(|max| attempt >= max) => {
                return Attempt::Failed(format!(
                    "database unreachable after {attempt} attempts, giving up: {msg}"
                ));
            }
            Err(JobError::Unreachable(msg)) => {
                warn!(
                    operation,
                    day = %OptDay(day),
                    attempt,
                    retry_in_secs = delay.as_secs(),
                    error = %msg,
                    "database unreachable; retrying"
                );
                let until = clock.now() + delay;
                tokio::select! {
                    biased;
                    () = shutdown.wait() => return Attempt::Shutdown(None),
                    () = clock.sleep_until(until) => {}
                }
                delay = (delay * 2).min(cfg.retry_max);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Logs and records the outcome of the run for `day`.
fn record(report: &mut ScheduleReport, day: NaiveDate, result: Result<(), JobError>, secs: i64) {
    match result {
        Ok(()) => {
            info!(day = %day, outcome = "succeeded", elapsed_secs = secs, "scheduled run finished");
            report.succeeded.push(day);
        }
        Err(JobError::Failed(msg)) => {
            warn!(
                day = %day,
                outcome = "failed",
                elapsed_secs = secs,
                error = %msg,
                rerun = %format!("pipeline run --range {day}..{day}"),
                "scheduled run finished"
            );
            report.failed.push(day);
        }
        Err(JobError::Unreachable(msg)) => {
            warn!(
                day = %day,
                outcome = "abandoned",
                error = %msg,
                "database unreachable at shutdown; the day will run on the next start"
            );
        }
    }
}

/// Runs the schedule until shutdown (or, with `once`, until the due days ran).
///
/// Each tick reads the last completed day from `job` (retrying while the
/// database is unreachable; a [`JobError::Failed`] there is returned as an
/// error), then runs the due days oldest first: those after the last completed
/// day (see [`due_days`]; with `once`, every day up to yesterday is due
/// regardless of `at`) and the missing, failed or stale days of the catch-up
/// window ([`DailyJob::days_due`]), each at most once per tick. Then, unless
/// `once`, it sleeps until [`next_run_after`] and ticks again, forever. Each run
/// logs one line with its outcome; a failed day is logged, the schedule goes
/// on, and the next tick tries it again.
///
/// When `shutdown` resolves while a run is in progress, that run is awaited to
/// its end and the function returns; while sleeping it returns at once. A
/// shutdown always returns `Ok` with [`ScheduleReport::interrupted`] set.
pub async fn run_schedule(
    cfg: &ScheduleConfig,
    job: &dyn DailyJob,
    clock: &dyn Clock,
    once: bool,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<ScheduleReport> {
    let mut shutdown = Shutdown::new(shutdown);
    let mut report = ScheduleReport::default();
    let tz = cfg.timezone;
    // In once mode the external scheduler picks the time: midnight makes
    // every day up to yesterday due.
    let due_at = if once { NaiveTime::MIN } else { cfg.at };
    info!(at = %cfg.at, timezone = %tz, once, "scheduler started");

    let max_attempts = once.then_some(cfg.once_attempts);
    loop {
        let last = match retrying(
            cfg,
            clock,
            &mut shutdown,
            "last_completed_day",
            None,
            max_attempts,
            || job.last_completed_day(),
        )
        .await
        {
            Attempt::Done(last) => last,
            Attempt::Failed(msg) => {
                anyhow::bail!("reading the last completed day from the run ledger: {msg}")
            }
            Attempt::Shutdown(_) => {
                info!("shutdown requested before the run; exiting");
                report.interrupted = true;
                return Ok(report);
            }
        };
        info!(last_completed = %OptDay(last), "read the run ledger");
        let due = due_days(last, clock.now(), due_at, tz, cfg.max_catch_up_days);
        if let Some((from, to)) = due.skipped {
            warn!(
                from = %from,
                to = %to,
                max_catch_up_days = cfg.max_catch_up_days,
                backfill = %format!("pipeline run --range {from}..{to}"),
                "missed days older than max_catch_up_days skipped; backfill them with the command shown"
            );
            report.skipped.push((from, to));
        }
        if due.run.len() > 1 {
            info!(
                days = due.run.len(),
                from = %due.run[0],
                to = %due.run[due.run.len() - 1],
                "catching up missed days"
            );
        }
        // Each day runs at most once per tick; what is due is read again after each run, since a
        // run also recomputes every stale day.
        let mut attempted: Vec<NaiveDate> = Vec::new();
        loop {
            let mut pending = due.run.clone();
            if let Some((from, to)) = due.window {
                match retrying(
                    cfg,
                    clock,
                    &mut shutdown,
                    "days_due",
                    None,
                    max_attempts,
                    || job.days_due(from, to),
                )
                .await
                {
                    Attempt::Done(days) => pending.extend(days),
                    Attempt::Failed(msg) => {
                        anyhow::bail!("reading the due days from the run ledger: {msg}")
                    }
                    Attempt::Shutdown(_) => {
                        info!("shutdown requested; exiting");
                        report.interrupted = true;
                        return Ok(report);
                    }
                }
            }
            let Some(day) = pending.into_iter().filter(|d| !attempted.contains(d)).min() else {
                break;
            };
            attempted.push(day);
            let started = clock.now();
            let attempt = retrying(
                cfg,
                clock,
                &mut shutdown,
                "run_day",
                Some(day),
                max_attempts,
                || job.run_day(day),
            )
            .await;
            let secs = (clock.now() - started).num_seconds();
            match attempt {
                Attempt::Done(()) => record(&mut report, day, Ok(()), secs),
                Attempt::Failed(msg) => record(&mut report, day, Err(JobError::Failed(msg)), secs),
                Attempt::Shutdown(in_flight) => {
                    if let Some(result) = in_flight {
                        record(&mut report, day, result, secs);
                    }
                    info!("shutdown requested; exiting");
                    report.interrupted = true;
                    return Ok(report);
                }
            }
        }
        if once {
            info!(
                succeeded = report.succeeded.len(),
                failed = report.failed.len(),
                "due days done; exiting (--once)"
            );
            return Ok(report);
        }
        let next = next_run_after(clock.now(), cfg.at, tz);
        info!(next_run = %next.with_timezone(&tz), "waiting for the next scheduled run");
        tokio::select! {
            biased;
            () = shutdown.wait() => {
                info!("shutdown requested while idle; exiting");
                report.interrupted = true;
                return Ok(report);
            }
            () = clock.sleep_until(next) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};
    use tokio::sync::Notify;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn cfg(at: NaiveTime, tz: Tz) -> ScheduleConfig {
        ScheduleConfig {
            at,
            timezone: tz,
            ..ScheduleConfig::default()
        }
    }

    /// A clock whose sleeps return at once, jumping `now` to the target.
    /// Sleeps that end after `horizon` never return; they wake `parked`.
    struct TestClock {
        now: Mutex<DateTime<Utc>>,
        slept: Mutex<Vec<Duration>>,
        horizon: Option<DateTime<Utc>>,
        parked: Notify,
    }

    impl TestClock {
        fn new(now: DateTime<Utc>, horizon: Option<DateTime<Utc>>) -> Arc<Self> {
            Arc::new(Self {
                now: Mutex::new(now),
                slept: Mutex::new(Vec::new()),
                horizon,
                parked: Notify::new(),
            })
        }

        fn slept_secs(&self) -> Vec<u64> {
            self.slept
                .lock()
                .unwrap()
                .iter()
                .map(Duration::as_secs)
                .collect()
        }
    }

    #[async_trait]
    impl Clock for TestClock {
        fn now(&self) -> DateTime<Utc> {
            *self.now.lock().unwrap()
        }

        async fn sleep_until(&self, t: DateTime<Utc>) {
            let now = self.now();
            self.slept
                .lock()
                .unwrap()
                .push((t - now).to_std().unwrap_or_default());
            if self.horizon.is_some_and(|h| t > h) {
                self.parked.notify_one();
                std::future::pending::<()>().await;
            }
            let mut now = self.now.lock().unwrap();
            *now = (*now).max(t);
        }
    }

    /// A job that records when each day ran and plays scripted outcomes.
    struct FakeJob {
        clock: Arc<TestClock>,
        last: Option<NaiveDate>,
        ledger_outcomes: Mutex<VecDeque<JobError>>,
        outcomes: Mutex<HashMap<NaiveDate, VecDeque<Result<(), JobError>>>>,
        attempts: Mutex<Vec<NaiveDate>>,
        ran_at: Mutex<Vec<(NaiveDate, DateTime<Utc>)>>,
        /// Day whose run notifies `running` and yields a few times before finishing.
        slow_day: Option<NaiveDate>,
        running: Notify,
        /// Days up to `last` that are due all the same (stale or failed), until they run.
        undone: Mutex<Vec<NaiveDate>>,
    }

    impl FakeJob {
        fn new(clock: &Arc<TestClock>, last: Option<NaiveDate>) -> Self {
            Self {
                clock: Arc::clone(clock),
                last,
                ledger_outcomes: Mutex::new(VecDeque::new()),
                outcomes: Mutex::new(HashMap::new()),
                attempts: Mutex::new(Vec::new()),
                ran_at: Mutex::new(Vec::new()),
                slow_day: None,
                running: Notify::new(),
                undone: Mutex::new(Vec::new()),
            }
        }

        fn script(&self, d: NaiveDate, outcomes: Vec<Result<(), JobError>>) {
            self.outcomes.lock().unwrap().insert(d, outcomes.into());
        }

        fn completed(&self) -> Vec<NaiveDate> {
            self.ran_at
                .lock()
                .unwrap()
                .iter()
                .map(|(d, _)| *d)
                .collect()
        }
    }

    #[async_trait]
    impl DailyJob for FakeJob {
        async fn last_completed_day(&self) -> Result<Option<NaiveDate>, JobError> {
            match self.ledger_outcomes.lock().unwrap().pop_front() {
                Some(e) => Err(e),
                None => Ok(self.completed().into_iter().chain(self.last).max()),
            }
        }

        async fn days_due(
            &self,
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<NaiveDate>, JobError> {
            let ran = self.completed();
            let undone = self.undone.lock().unwrap().clone();
            Ok(from
                .iter_days()
                .take_while(|d| *d <= to)
                .filter(|d| {
                    let done_before = self.last.is_some_and(|l| *d <= l) && !undone.contains(d);
                    !done_before && !ran.contains(d)
                })
                .collect())
        }

        async fn run_day(&self, d: NaiveDate) -> Result<(), JobError> {
            self.attempts.lock().unwrap().push(d);
            if self.slow_day == Some(d) {
                self.running.notify_one();
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
            }
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .get_mut(&d)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Ok(()));
            if outcome.is_ok() {
                self.ran_at.lock().unwrap().push((d, self.clock.now()));
            }
            outcome
        }
    }

    // ---- configuration ----

    #[test]
    fn config_defaults() {
        let c = ScheduleConfig::default();
        assert_eq!(c.at, hm(1, 0));
        assert_eq!(c.timezone, Tz::UTC);
        assert_eq!(c.max_catch_up_days, 31);
        assert_eq!(c.retry_initial, Duration::from_secs(5));
        assert_eq!(c.retry_max, Duration::from_mins(5));
        assert_eq!(c.once_attempts, 5);
    }

    #[test]
    fn config_deserializes_and_converts() {
        use serde::de::value::{Error, MapDeserializer};
        let map = MapDeserializer::<_, Error>::new(
            [("at", "06:15"), ("timezone", "America/Sao_Paulo")].into_iter(),
        );
        let raw = RawScheduleConfig::deserialize(map).unwrap();
        let c = ScheduleConfig::try_from(raw).unwrap();
        assert_eq!(c.at, hm(6, 15));
        assert_eq!(c.timezone, chrono_tz::America::Sao_Paulo);
        assert_eq!(c.max_catch_up_days, 31);

        let unknown = MapDeserializer::<_, Error>::new([("every", "day")].into_iter());
        let err = RawScheduleConfig::deserialize(unknown).unwrap_err();
        assert!(err.to_string().contains("unknown field `every`"), "{err}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let bad = |f: fn(&mut RawScheduleConfig)| {
            let mut raw = RawScheduleConfig::default();
            f(&mut raw);
            ScheduleConfig::try_from(raw).unwrap_err().to_string()
        };
        assert_eq!(
            bad(|r| r.at = "25:00".into()),
            r#"schedule.at: "25:00" is not a time of day (expected HH:MM)"#
        );
        assert_eq!(
            bad(|r| r.at = "1am".into()),
            r#"schedule.at: "1am" is not a time of day (expected HH:MM)"#
        );
        assert_eq!(
            bad(|r| r.timezone = "Mars/Olympus".into()),
            r#"schedule.timezone: unknown time zone "Mars/Olympus""#
        );
        assert_eq!(
            bad(|r| r.max_catch_up_days = 0),
            "schedule.max_catch_up_days: must be at least 1"
        );
        assert_eq!(
            bad(|r| r.retry_initial_secs = 0),
            "schedule.retry_initial_secs: must be at least 1"
        );
        assert_eq!(
            bad(|r| r.retry_max_secs = 2),
            "schedule.retry_max_secs: 2 is less than retry_initial_secs (5)"
        );
    }

    // ---- next_run_after ----

    #[test]
    fn next_run_utc() {
        let at = hm(1, 0);
        assert_eq!(
            next_run_after(utc("2024-05-10T00:00:00Z"), at, Tz::UTC),
            utc("2024-05-10T01:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T13:00:00Z"), at, Tz::UTC),
            utc("2024-05-11T01:00:00Z")
        );
        // Across a month and a year end.
        assert_eq!(
            next_run_after(utc("2024-12-31T02:00:00Z"), at, Tz::UTC),
            utc("2025-01-01T01:00:00Z")
        );
    }

    #[test]
    fn next_run_around_the_hour() {
        let at = hm(1, 0);
        let sp = chrono_tz::America::Sao_Paulo; // -03:00, no DST since 2019
        assert_eq!(
            next_run_after(utc("2024-05-10T03:59:59Z"), at, sp),
            utc("2024-05-10T04:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T04:00:00Z"), at, sp),
            utc("2024-05-11T04:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T04:00:01Z"), at, sp),
            utc("2024-05-11T04:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T00:59:59Z"), at, Tz::UTC),
            utc("2024-05-10T01:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T01:00:00Z"), at, Tz::UTC),
            utc("2024-05-11T01:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-05-10T01:00:01Z"), at, Tz::UTC),
            utc("2024-05-11T01:00:00Z")
        );
    }

    #[test]
    fn next_run_sao_paulo() {
        let sp = chrono_tz::America::Sao_Paulo;
        // 22:00 local on the 9th (01:00Z on the 10th): next is 01:00 local on the 10th.
        assert_eq!(
            next_run_after(utc("2024-05-10T01:00:00Z"), hm(1, 0), sp),
            utc("2024-05-10T04:00:00Z")
        );
        // At 23:30 local the UTC date is already the next day.
        assert_eq!(
            next_run_after(utc("2024-05-10T03:00:00Z"), hm(23, 30), sp),
            utc("2024-05-11T02:30:00Z")
        );
    }

    #[test]
    fn next_run_sao_paulo_2018_midnight_gap() {
        // 2018-11-04: clocks went from 00:00 (-03) to 01:00 (-02); 00:30 did not exist.
        let sp = chrono_tz::America::Sao_Paulo;
        let at = hm(0, 30);
        assert_eq!(
            next_run_after(utc("2018-11-03T12:00:00Z"), at, sp),
            utc("2018-11-04T03:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2018-11-04T03:00:00Z"), at, sp),
            utc("2018-11-05T02:30:00Z")
        );
    }

    #[test]
    fn next_run_new_york_spring_forward_nonexistent() {
        // 2024-03-10: 02:00 EST -> 03:00 EDT; 02:30 does not exist.
        let ny = chrono_tz::America::New_York;
        let at = hm(2, 30);
        assert_eq!(
            next_run_after(utc("2024-03-09T08:00:00Z"), at, ny),
            utc("2024-03-10T07:00:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-03-10T07:00:00Z"), at, ny),
            utc("2024-03-11T06:30:00Z")
        );
        assert_eq!(
            next_run_after(utc("2024-03-09T07:29:59Z"), at, ny),
            utc("2024-03-09T07:30:00Z")
        );
    }

    #[test]
    fn next_run_new_york_fall_back_ambiguous_runs_once() {
        // 2024-11-03: 02:00 EDT -> 01:00 EST; 01:30 happens twice.
        let ny = chrono_tz::America::New_York;
        let at = hm(1, 30);
        let first = next_run_after(utc("2024-11-03T04:00:00Z"), at, ny);
        assert_eq!(first, utc("2024-11-03T05:30:00Z")); // 01:30 EDT
        // Not again at 01:30 EST (06:30Z): next is 01:30 EST on the 4th.
        assert_eq!(next_run_after(first, at, ny), utc("2024-11-04T06:30:00Z"));
        assert_eq!(
            next_run_after(utc("2024-11-03T06:00:00Z"), at, ny),
            utc("2024-11-04T06:30:00Z")
        );
    }

    #[test]
    fn local_instant_resolves_dst() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            local_instant(day("2024-03-10"), hm(2, 30), ny),
            utc("2024-03-10T07:00:00Z")
        );
        assert_eq!(
            local_instant(day("2024-11-03"), hm(1, 30), ny),
            utc("2024-11-03T05:30:00Z")
        );
        assert_eq!(
            local_instant(day("2024-07-01"), hm(1, 30), ny),
            utc("2024-07-01T05:30:00Z")
        );
    }

    // ---- due_days ----

    #[test]
    fn due_days_fresh_database() {
        let at = hm(1, 0);
        let before = due_days(None, utc("2024-05-10T00:59:59Z"), at, Tz::UTC, 31);
        assert_eq!(before, DueDays::default());
        let after = due_days(None, utc("2024-05-10T01:00:00Z"), at, Tz::UTC, 31);
        assert_eq!(after.run, vec![day("2024-05-09")]);
    }

    #[test]
    fn due_days_catch_up_oldest_first() {
        let d = due_days(
            Some(day("2024-05-06")),
            utc("2024-05-10T02:00:00Z"),
            hm(1, 0),
            Tz::UTC,
            31,
        );
        assert_eq!(
            d.run,
            vec![day("2024-05-07"), day("2024-05-08"), day("2024-05-09")]
        );
        assert_eq!(d.skipped, None);
        // Before today's run time yesterday is not due yet.
        let d = due_days(
            Some(day("2024-05-06")),
            utc("2024-05-10T00:30:00Z"),
            hm(1, 0),
            Tz::UTC,
            31,
        );
        assert_eq!(d.run, vec![day("2024-05-07"), day("2024-05-08")]);
        // Up to date, or a ledger ahead of the clock: no new day, only the window to look at.
        let d = due_days(
            Some(day("2024-05-09")),
            utc("2024-05-10T02:00:00Z"),
            hm(1, 0),
            Tz::UTC,
            31,
        );
        assert!(d.run.is_empty() && d.skipped.is_none());
        assert_eq!(d.window, Some((day("2024-04-09"), day("2024-05-09"))));
        let d = due_days(
            Some(day("2024-05-10")),
            utc("2024-05-10T02:00:00Z"),
            hm(1, 0),
            Tz::UTC,
            31,
        );
        assert!(d.run.is_empty() && d.skipped.is_none());
    }

    #[test]
    fn due_days_beyond_max_are_skipped() {
        let d = due_days(
            Some(day("2024-04-30")),
            utc("2024-05-10T02:00:00Z"),
            hm(1, 0),
            Tz::UTC,
            3,
        );
        assert_eq!(
            d.run,
            vec![day("2024-05-07"), day("2024-05-08"), day("2024-05-09")]
        );
        assert_eq!(d.skipped, Some((day("2024-05-01"), day("2024-05-06"))));
    }

    #[test]
    fn due_days_use_the_local_date() {
        // 02:00Z on the 10th is 23:00 on the 9th in Sao Paulo: yesterday is the 8th.
        let sp = chrono_tz::America::Sao_Paulo;
        let d = due_days(None, utc("2024-05-10T02:00:00Z"), hm(1, 0), sp, 31);
        assert_eq!(d.run, vec![day("2024-05-08")]);
    }

    // ---- run_schedule ----

    #[tokio::test]
    async fn once_catches_up_three_missed_days_oldest_first() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-06")));
        let c = cfg(hm(1, 0), Tz::UTC);
        let report = run_schedule(&c, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        let expected = vec![day("2024-05-07"), day("2024-05-08"), day("2024-05-09")];
        assert_eq!(job.completed(), expected);
        assert_eq!(report.succeeded, expected);
        assert!(!report.interrupted && !report.has_failures());
        assert!(clock.slept_secs().is_empty());
    }

    #[tokio::test]
    async fn once_on_a_fresh_database_runs_yesterday_even_before_at() {
        let clock = TestClock::new(utc("2024-05-10T00:10:00Z"), None);
        let job = FakeJob::new(&clock, None);
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(report.succeeded, vec![day("2024-05-09")]);
    }

    #[tokio::test]
    async fn missed_days_beyond_max_are_reported_skipped() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-04-30")));
        let c = ScheduleConfig {
            max_catch_up_days: 2,
            ..cfg(hm(1, 0), Tz::UTC)
        };
        let report = run_schedule(&c, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert_eq!(report.succeeded, vec![day("2024-05-08"), day("2024-05-09")]);
        assert_eq!(report.skipped, vec![(day("2024-05-01"), day("2024-05-07"))]);
        assert!(report.has_failures());
    }

    #[tokio::test]
    async fn failing_day_is_logged_and_the_next_day_still_runs() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-06")));
        job.script(
            day("2024-05-08"),
            vec![Err(JobError::Failed("bad input row 12".into()))],
        );
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(report.succeeded, vec![day("2024-05-07"), day("2024-05-09")]);
        assert_eq!(report.failed, vec![day("2024-05-08")]);
        // A failed day is not retried.
        assert_eq!(job.attempts.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn unreachable_retries_with_capped_backoff_then_succeeds() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        let down = || Err(JobError::Unreachable("connection refused".into()));
        job.script(day("2024-05-09"), (0..8).map(|_| down()).collect());
        let patient = ScheduleConfig {
            once_attempts: 100,
            ..cfg(hm(1, 0), Tz::UTC)
        };
        let report = run_schedule(&patient, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert_eq!(clock.slept_secs(), vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(report.succeeded, vec![day("2024-05-09")]);
        assert_eq!(job.attempts.lock().unwrap().len(), 9);
        // The run happened after the backoff: 915 s after the start.
        assert_eq!(job.ran_at.lock().unwrap()[0].1, utc("2024-05-10T02:15:15Z"));
    }

    #[tokio::test]
    async fn once_gives_up_after_its_attempts_while_the_database_stays_down() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        let down = || Err(JobError::Unreachable("connection refused".into()));
        job.script(day("2024-05-09"), (0..50).map(|_| down()).collect());
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(report.failed, vec![day("2024-05-09")]);
        assert_eq!(job.attempts.lock().unwrap().len(), 5);
        assert_eq!(clock.slept_secs(), vec![5, 10, 20, 40]);

        // The ledger itself unreachable: an error after the same budget.
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        job.ledger_outcomes
            .lock()
            .unwrap()
            .extend((0..50).map(|_| JobError::Unreachable("refused".into())));
        let err = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("unreachable after 5 attempts"),
            "{err}"
        );
        // Without --once the scheduler keeps trying (see unreachable_ledger_is_retried).
    }

    #[tokio::test]
    async fn a_failed_day_is_retried_at_the_next_tick() {
        let clock = TestClock::new(
            utc("2024-05-10T02:00:00Z"),
            Some(utc("2024-05-11T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        job.script(
            day("2024-05-09"),
            vec![Err(JobError::Failed("lock timeout".into()))],
        );
        let parked = {
            let clock = Arc::clone(&clock);
            async move { clock.parked.notified().await }
        };
        let report = run_schedule(&cfg(hm(1, 0), Tz::UTC), &job, &*clock, false, parked)
            .await
            .unwrap();
        // The 9th fails at the first tick, and runs again (first) at the next tick, before the 10th.
        assert_eq!(report.failed, vec![day("2024-05-09")]);
        assert_eq!(
            *job.ran_at.lock().unwrap(),
            vec![
                (day("2024-05-09"), utc("2024-05-11T01:00:00Z")),
                (day("2024-05-10"), utc("2024-05-11T01:00:00Z")),
            ]
        );
        assert_eq!(
            *job.attempts.lock().unwrap(),
            vec![day("2024-05-09"), day("2024-05-09"), day("2024-05-10")]
        );
    }

    #[tokio::test]
    async fn stale_or_failed_days_of_the_window_run_again_once_each() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.undone
            .lock()
            .unwrap()
            .extend([day("2024-05-03"), day("2024-05-05")]);
        // An older stale day, outside the window of 10 days, is not the schedule's.
        job.undone.lock().unwrap().push(day("2024-04-01"));
        job.script(
            day("2024-05-05"),
            vec![Err(JobError::Failed("still bad".into()))],
        );
        let c = ScheduleConfig {
            max_catch_up_days: 10,
            ..cfg(hm(1, 0), Tz::UTC)
        };
        let report = run_schedule(&c, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert_eq!(report.succeeded, vec![day("2024-05-03")]);
        assert_eq!(report.failed, vec![day("2024-05-05")]);
        assert_eq!(job.attempts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unreachable_ledger_is_retried() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        job.ledger_outcomes.lock().unwrap().extend([
            JobError::Unreachable("a".into()),
            JobError::Unreachable("b".into()),
        ]);
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(clock.slept_secs(), vec![5, 10]);
        assert_eq!(report.succeeded, vec![day("2024-05-09")]);
    }

    #[tokio::test]
    async fn failed_ledger_read_is_an_error() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, None);
        job.ledger_outcomes
            .lock()
            .unwrap()
            .push_back(JobError::Failed(
                "relation \"run_ledger\" does not exist".into(),
            ));
        let err = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("run ledger"), "{err}");
    }

    #[tokio::test]
    async fn daemon_runs_each_previous_day_at_the_configured_local_time() {
        // Starts 2024-05-10 00:30 in Sao Paulo (03:30Z), before `at`; runs three ticks.
        let sp = chrono_tz::America::Sao_Paulo;
        let clock = TestClock::new(
            utc("2024-05-10T03:30:00Z"),
            Some(utc("2024-05-12T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        let parked = {
            let clock = Arc::clone(&clock);
            async move { clock.parked.notified().await }
        };
        let report = run_schedule(&cfg(hm(1, 0), sp), &job, &*clock, false, parked)
            .await
            .unwrap();
        assert_eq!(
            *job.ran_at.lock().unwrap(),
            vec![
                (day("2024-05-09"), utc("2024-05-10T04:00:00Z")),
                (day("2024-05-10"), utc("2024-05-11T04:00:00Z")),
                (day("2024-05-11"), utc("2024-05-12T04:00:00Z")),
            ]
        );
        assert!(report.interrupted);
    }

    #[tokio::test]
    async fn daemon_on_a_fresh_database_waits_for_at() {
        let clock = TestClock::new(
            utc("2024-05-10T00:30:00Z"),
            Some(utc("2024-05-10T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, None);
        let parked = {
            let clock = Arc::clone(&clock);
            async move { clock.parked.notified().await }
        };
        run_schedule(&cfg(hm(1, 0), Tz::UTC), &job, &*clock, false, parked)
            .await
            .unwrap();
        assert_eq!(
            *job.ran_at.lock().unwrap(),
            vec![(day("2024-05-09"), utc("2024-05-10T01:00:00Z"))]
        );
    }

    #[tokio::test]
    async fn shutdown_while_sleeping_returns_promptly_with_ok() {
        // Every sleep blocks forever: only the shutdown can end the schedule.
        let now = utc("2024-05-10T02:00:00Z");
        let clock = TestClock::new(now, Some(now));
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let c = cfg(hm(1, 0), Tz::UTC);
        let schedule = run_schedule(&c, &job, &*clock, false, async move {
            let _ = rx.await;
        });
        let trigger = async {
            clock.parked.notified().await;
            tx.send(()).unwrap();
        };
        let (report, ()) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(schedule, trigger)
        })
        .await
        .expect("the schedule returns promptly after shutdown");
        let report = report.unwrap();
        assert!(report.interrupted);
        assert!(job.attempts.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn shutdown_during_backoff_returns_ok() {
        let now = utc("2024-05-10T02:00:00Z");
        let clock = TestClock::new(now, Some(now));
        let job = FakeJob::new(&clock, Some(day("2024-05-08")));
        job.script(
            day("2024-05-09"),
            vec![Err(JobError::Unreachable("down".into()))],
        );
        let parked = {
            let clock = Arc::clone(&clock);
            async move { clock.parked.notified().await }
        };
        let report = run_schedule(&cfg(hm(1, 0), Tz::UTC), &job, &*clock, true, parked)
            .await
            .unwrap();
        assert!(report.interrupted);
        assert!(report.succeeded.is_empty() && report.failed.is_empty());
        assert_eq!(clock.slept_secs(), vec![5]);
    }

    #[tokio::test]
    async fn shutdown_during_a_run_waits_for_it_then_stops() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let mut job = FakeJob::new(&clock, Some(day("2024-05-06")));
        job.slow_day = Some(day("2024-05-08"));
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            false,
            job.running.notified(),
        )
        .await
        .unwrap();
        // The 8th was in progress when shutdown came: it finished; the 9th never started.
        assert_eq!(job.completed(), vec![day("2024-05-07"), day("2024-05-08")]);
        assert_eq!(report.succeeded, vec![day("2024-05-07"), day("2024-05-08")]);
        assert!(report.interrupted);
    }

    #[tokio::test]
    async fn system_clock_sleep_until_the_past_returns_at_once() {
        let clock = SystemClock;
        let t = clock.now() - chrono::Duration::seconds(10);
        tokio::time::timeout(Duration::from_secs(1), clock.sleep_until(t))
            .await
            .unwrap();
        let soon = clock.now() + chrono::Duration::milliseconds(20);
        tokio::time::timeout(Duration::from_secs(2), clock.sleep_until(soon))
            .await
            .unwrap();
        assert!(clock.now() >= soon);
    }
}
