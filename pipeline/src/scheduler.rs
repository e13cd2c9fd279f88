//! The daily scheduler behind `pipeline schedule`.
//!
//! `pipeline schedule` is a long-running mode: every day at a configured local
//! time (`[schedule]` in `pipeline.toml`, e.g. `at = "01:00"`,
//! `timezone = "America/Sao_Paulo"`) it brings the pipeline up to date with one
//! run (a [`DailyJob`]), logs its outcome, and keeps going after a failure.
//!
//! # What a tick does
//!
//! A tick asks for no particular day. Its run loads the files that changed and
//! computes the days of the data's range (its first to its last purchase day)
//! that were never computed, that the last run failed to compute, or that went
//! stale; nothing else. So the days computed are the data's, whatever the date:
//! a day after the data's last purchase day is never computed, and every day
//! the scheduler missed while it was stopped is computed by the next tick,
//! however many they are.
//!
//! * On start the scheduler ticks at once, then at `at` every day.
//! * `--once` (for an external cron) ticks once and returns; the external
//!   scheduler picks the time of day, so `at` is not consulted.
//! * When the data's last day lies more than [`EXPORT_LAG_DAYS`] before
//!   yesterday ("today" and "yesterday" are local dates in the configured zone),
//!   the tick warns that the export may be out of date.
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
//! * [`JobError::Failed`]: the run is logged as failed and the scheduler waits
//!   for the next tick, whose run computes what this one could not. With
//!   `--once`, it is the error [`run_schedule`] returns.
//! * [`JobError::Unreachable`]: the run is tried again with capped exponential
//!   backoff (`retry_initial`, doubling, at most `retry_max`), with one warn
//!   line per failed attempt, until it succeeds, fails for good or a shutdown
//!   is requested. With `--once` it gives up after `once_attempts` attempts,
//!   with an error.
//! * Shutdown (SIGTERM, Ctrl-C; the caller turns them into the `shutdown`
//!   future): while idle or waiting between retries the scheduler returns at
//!   once; while a run is in progress it waits for that run to finish (the run
//!   is transactional) and then returns. The long-running mode returns `Ok`,
//!   so the process exits 0; `--once` returns `Ok` only if its run succeeded.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tracing::{info, warn};

use crate::money::thousands;

/// Longest single nap of [`SystemClock::sleep_until`]; the wall clock is read
/// again after each nap, so a suspended host or a clock adjustment delays a run
/// by at most this much.
const MAX_NAP: Duration = Duration::from_mins(1);

/// How many days the data's last day may lie before yesterday without a
/// warning: an export made early in the morning may not hold yesterday yet.
pub const EXPORT_LAG_DAYS: u64 = 1;

/// The validated `[schedule]` section of `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Local time of day at which the pipeline is brought up to date.
    pub at: NaiveTime,
    /// Time zone in which `at` and calendar days are reckoned.
    pub timezone: Tz,
    /// First delay before retrying when the database is unreachable.
    pub retry_initial: Duration,
    /// Cap of the doubling retry delay.
    pub retry_max: Duration,
    /// With `--once`, attempts made while the database is unreachable before giving up.
    pub once_attempts: u32,
    /// `max_catch_up_days` when the configuration still sets it: it no longer
    /// means anything (every tick computes every missing day of the data), so
    /// it is accepted and only warned about (see [`ScheduleConfig::deprecations`]).
    pub ignored_max_catch_up_days: Option<u32>,
}

impl ScheduleConfig {
    /// What the configuration sets that no longer means anything, one sentence
    /// each, for `pipeline schedule` to warn about.
    pub fn deprecations(&self) -> Vec<String> {
        self.ignored_max_catch_up_days
            .map(|days| {
                format!(
                    "schedule.max_catch_up_days = {days} is ignored and can be removed: \
                     every run computes all the days of the data that are missing, however many"
                )
            })
            .into_iter()
            .collect()
    }
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
    /// Deprecated and ignored: it bounded the days a scheduler caught up when
    /// it ran one day at a time. Accepted, with a warning, so that existing
    /// files keep working; 0 when absent.
    #[serde(default)]
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
            max_catch_up_days: 0,
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
            retry_initial: Duration::from_secs(raw.retry_initial_secs),
            retry_max: Duration::from_secs(raw.retry_max_secs),
            once_attempts: raw.once_attempts,
            ignored_max_catch_up_days: (raw.max_catch_up_days > 0).then_some(raw.max_catch_up_days),
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

/// Why a run of a [`DailyJob`] did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The database could not be reached; retried with capped exponential backoff.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// The run failed; logged, and the next tick runs again.
    #[error("{0}")]
    Failed(String),
}

/// What a successful run of a [`DailyJob`] tells the scheduler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// The last purchase day of the loaded data (`None` when no order is loaded).
    pub data_last_day: Option<NaiveDate>,
}

/// The work the scheduler drives: the pipeline, brought up to date one run at a time.
#[async_trait]
pub trait DailyJob: Send + Sync {
    /// Runs the pipeline once: loads the files that changed, computes the days of the data's range
    /// never computed or that the last run failed to compute, recomputes the stale ones, and
    /// computes no day outside the data's range.
    async fn run_due(&self) -> Result<RunOutcome, JobError>;
}

/// What [`run_schedule`] did before it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    /// Runs that succeeded.
    pub succeeded: u32,
    /// The error of each run that failed, in the order run.
    pub failed: Vec<String>,
    /// The warnings that the data ends too long before yesterday, at most one per tick.
    pub data_warnings: Vec<String>,
    /// Whether a shutdown request ended the schedule.
    pub interrupted: bool,
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

/// The warning a tick gives when the data's last day `last` lies more than
/// [`EXPORT_LAG_DAYS`] before yesterday, the local date in `tz` at `now` minus one.
pub fn data_lag_warning(last: NaiveDate, now: DateTime<Utc>, tz: Tz) -> Option<String> {
    let yesterday = local_date(now, tz) - Days::new(1);
    let behind = (yesterday - last).num_days();
    (behind > EXPORT_LAG_DAYS as i64).then(|| {
        format!(
            "the data ends on {last}, {} days before yesterday; is the export up to date?",
            thousands(behind)
        )
    })
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

/// Runs `op` until it does not report [`JobError::Unreachable`], sleeping
/// `retry_initial`, doubling up to `retry_max`, between attempts; with
/// `max_attempts`, gives up after that many. A shutdown during an attempt waits
/// for that attempt; during a sleep it returns at once.
async fn retrying<T, Fut, S>(
    cfg: &ScheduleConfig,
    clock: &dyn Clock,
    shutdown: &mut Shutdown<S>,
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
                info!("shutdown requested; waiting for the run in progress to finish");
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

/// Records, and logs, how the tick's run ended: a success warns when the data
/// ends too long before yesterday; a failure is logged (unless `once`, where it
/// becomes the error returned).
fn record(
    report: &mut ScheduleReport,
    result: Result<RunOutcome, String>,
    now: DateTime<Utc>,
    tz: Tz,
    once: bool,
    secs: i64,
) {
    match result {
        Ok(outcome) => {
            info!(
                outcome = "succeeded",
                elapsed_secs = secs,
                "scheduled run finished"
            );
            report.succeeded += 1;
            if let Some(warning) = outcome
                .data_last_day
                .and_then(|last| data_lag_warning(last, now, tz))
            {
                warn!("{warning}");
                report.data_warnings.push(warning);
            }
        }
        Err(msg) => {
            if !once {
                warn!(
                    outcome = "failed",
                    elapsed_secs = secs,
                    error = %msg,
                    "scheduled run failed; the next one computes what it could not"
                );
            }
            report.failed.push(msg);
        }
    }
}

/// Runs the schedule until shutdown (or, with `once`, for one run).
///
/// Each tick runs [`DailyJob::run_due`] once, retrying while the database is
/// unreachable, and records its outcome; a success whose data ends more than
/// [`EXPORT_LAG_DAYS`] before yesterday warns so ([`data_lag_warning`]). The
/// first tick is at once; then, unless `once`, the scheduler sleeps until
/// [`next_run_after`] and ticks again, forever. A failed run is logged and the
/// schedule goes on.
///
/// With `once`, it returns `Ok` only if its run succeeded; otherwise the run's
/// error (or the unreachable database's, after `once_attempts` attempts).
///
/// When `shutdown` resolves while a run is in progress, that run is awaited to
/// its end and the function returns; while sleeping it returns at once, with
/// [`ScheduleReport::interrupted`] set (an error with `once`, unless the run
/// succeeded).
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
    info!(at = %cfg.at, timezone = %tz, once, "scheduler started");
    let max_attempts = once.then_some(cfg.once_attempts);
    loop {
        let started = clock.now();
        let attempt = retrying(cfg, clock, &mut shutdown, max_attempts, || job.run_due()).await;
        let secs = (clock.now() - started).num_seconds();
        let result = match attempt {
            Attempt::Done(outcome) => Some(Ok(outcome)),
            Attempt::Failed(msg) => Some(Err(msg)),
            Attempt::Shutdown(in_flight) => {
                report.interrupted = true;
                in_flight.map(|r| r.map_err(|e| e.to_string()))
            }
        };
        if let Some(result) = result {
            record(&mut report, result, clock.now(), tz, once, secs);
        }
        if once {
            return match (report.succeeded, report.failed.pop()) {
                (0, Some(error)) => Err(anyhow::anyhow!(error)),
                (0, None) => Err(anyhow::anyhow!(
                    "shutdown requested before the run could be done"
                )),
                _ => Ok(report),
            };
        }
        if report.interrupted {
            info!("shutdown requested; exiting");
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
    use std::collections::VecDeque;
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

    /// A job that records when it ran and plays scripted outcomes, one per attempt.
    struct FakeJob {
        clock: Arc<TestClock>,
        /// Outcomes of the next attempts; once they are used up, every run succeeds.
        outcomes: Mutex<VecDeque<Result<RunOutcome, JobError>>>,
        /// The data's last day, as a successful run that is not scripted reports it.
        data_last_day: Option<NaiveDate>,
        attempts: Mutex<Vec<DateTime<Utc>>>,
        ran_at: Mutex<Vec<DateTime<Utc>>>,
        /// Whether a run notifies `running` and yields a few times before finishing.
        slow: bool,
        running: Notify,
    }

    impl FakeJob {
        fn new(clock: &Arc<TestClock>, data_last_day: Option<NaiveDate>) -> Self {
            Self {
                clock: Arc::clone(clock),
                outcomes: Mutex::new(VecDeque::new()),
                data_last_day,
                attempts: Mutex::new(Vec::new()),
                ran_at: Mutex::new(Vec::new()),
                slow: false,
                running: Notify::new(),
            }
        }

        fn script(&self, outcomes: impl IntoIterator<Item = Result<RunOutcome, JobError>>) {
            self.outcomes.lock().unwrap().extend(outcomes);
        }

        fn script_down(&self, attempts: usize) {
            self.script(
                (0..attempts).map(|_| Err(JobError::Unreachable("connection refused".into()))),
            );
        }

        fn attempts(&self) -> usize {
            self.attempts.lock().unwrap().len()
        }

        fn ran_at(&self) -> Vec<DateTime<Utc>> {
            self.ran_at.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl DailyJob for FakeJob {
        async fn run_due(&self) -> Result<RunOutcome, JobError> {
            self.attempts.lock().unwrap().push(self.clock.now());
            if self.slow {
                self.running.notify_one();
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
            }
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(RunOutcome {
                    data_last_day: self.data_last_day,
                }));
            if outcome.is_ok() {
                self.ran_at.lock().unwrap().push(self.clock.now());
            }
            outcome
        }
    }

    /// A shutdown that comes when the clock parks (a sleep past its horizon).
    fn when_parked(clock: &Arc<TestClock>) -> impl Future<Output = ()> + use<> {
        let clock = Arc::clone(clock);
        async move { clock.parked.notified().await }
    }

    // ---- configuration ----

    #[test]
    fn config_defaults() {
        let c = ScheduleConfig::default();
        assert_eq!(c.at, hm(1, 0));
        assert_eq!(c.timezone, Tz::UTC);
        assert_eq!(c.retry_initial, Duration::from_secs(5));
        assert_eq!(c.retry_max, Duration::from_mins(5));
        assert_eq!(c.once_attempts, 5);
        assert_eq!(c.ignored_max_catch_up_days, None);
        assert!(c.deprecations().is_empty());
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

        let unknown = MapDeserializer::<_, Error>::new([("every", "day")].into_iter());
        let err = RawScheduleConfig::deserialize(unknown).unwrap_err();
        assert!(err.to_string().contains("unknown field `every`"), "{err}");
    }

    #[test]
    fn max_catch_up_days_is_accepted_ignored_and_named_as_deprecated() {
        use serde::de::value::{Error, MapDeserializer};
        let map = MapDeserializer::<_, Error>::new([("max_catch_up_days", 7_u32)].into_iter());
        let c = ScheduleConfig::try_from(RawScheduleConfig::deserialize(map).unwrap()).unwrap();
        assert_eq!(c.ignored_max_catch_up_days, Some(7));
        assert_eq!(
            c.deprecations(),
            [
                "schedule.max_catch_up_days = 7 is ignored and can be removed: every run computes \
              all the days of the data that are missing, however many"
            ]
        );
        // Everything else is as if it were absent.
        assert_eq!(
            ScheduleConfig {
                ignored_max_catch_up_days: None,
                ..c
            },
            ScheduleConfig::default()
        );
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
            bad(|r| r.retry_initial_secs = 0),
            "schedule.retry_initial_secs: must be at least 1"
        );
        assert_eq!(
            bad(|r| r.once_attempts = 0),
            "schedule.once_attempts: must be at least 1"
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

    // ---- data_lag_warning ----

    #[test]
    fn data_lag_warning_counts_from_the_local_yesterday() {
        let sp = chrono_tz::America::Sao_Paulo;
        // The bundled sample's last day, on 2026-12-06 (yesterday: the 5th).
        assert_eq!(
            data_lag_warning(day("2018-08-04"), utc("2026-12-06T12:00:00Z"), sp).as_deref(),
            Some(
                "the data ends on 2018-08-04, 3,045 days before yesterday; is the export up to date?"
            )
        );
        // 02:00Z on the 7th is 23:00 on the 6th in Sao Paulo: yesterday is the 5th, one day after
        // the data's end, which is within the export's lag; in UTC yesterday is the 6th.
        let now = utc("2018-08-07T02:00:00Z");
        assert_eq!(data_lag_warning(day("2018-08-04"), now, sp), None);
        assert_eq!(
            data_lag_warning(day("2018-08-04"), now, Tz::UTC).as_deref(),
            Some("the data ends on 2018-08-04, 2 days before yesterday; is the export up to date?")
        );
        // Data up to yesterday, up to today, or dated ahead of the clock: nothing to say.
        for last in ["2018-08-06", "2018-08-07", "2018-09-01"] {
            assert_eq!(data_lag_warning(day(last), now, Tz::UTC), None, "{last}");
        }
    }

    // ---- run_schedule ----

    #[tokio::test]
    async fn once_runs_at_once_whatever_the_time_of_day() {
        // 00:10, before `at`: the external cron picks the time.
        let clock = TestClock::new(utc("2024-05-10T00:10:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(job.ran_at(), vec![utc("2024-05-10T00:10:00Z")]);
        assert_eq!(report.succeeded, 1);
        assert!(report.failed.is_empty() && report.data_warnings.is_empty());
        assert!(!report.interrupted);
        assert!(clock.slept_secs().is_empty());
    }

    #[tokio::test]
    async fn once_returns_the_error_of_a_failed_run() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script([Err(JobError::Failed(
            "customer_daily_stats: 2024-05-08 failed: numeric field overflow".into(),
        ))]);
        let err = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "customer_daily_stats: 2024-05-08 failed: numeric field overflow"
        );
        // A failed run is not retried: the next tick (or cron) runs again.
        assert_eq!(job.attempts(), 1);
    }

    #[tokio::test]
    async fn once_warns_when_the_data_ends_long_before_yesterday() {
        let clock = TestClock::new(utc("2026-12-06T12:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2018-08-04")));
        let c = cfg(hm(1, 0), chrono_tz::America::Sao_Paulo);
        let report = run_schedule(&c, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert_eq!(
            report.data_warnings,
            ["the data ends on 2018-08-04, 3,045 days before yesterday; is the export up to date?"]
        );
        // No orders loaded: nothing to compare.
        let job = FakeJob::new(&clock, None);
        let report = run_schedule(&c, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert!(report.data_warnings.is_empty());
    }

    #[tokio::test]
    async fn unreachable_retries_with_capped_backoff_then_succeeds() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script_down(8);
        let patient = ScheduleConfig {
            once_attempts: 100,
            ..cfg(hm(1, 0), Tz::UTC)
        };
        let report = run_schedule(&patient, &job, &*clock, true, std::future::pending())
            .await
            .unwrap();
        assert_eq!(clock.slept_secs(), vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(report.succeeded, 1);
        assert_eq!(job.attempts(), 9);
        // The run happened after the backoff: 915 s after the start.
        assert_eq!(job.ran_at(), vec![utc("2024-05-10T02:15:15Z")]);
    }

    #[tokio::test]
    async fn once_gives_up_after_its_attempts_while_the_database_stays_down() {
        let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script_down(50);
        let err = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            true,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "database unreachable after 5 attempts, giving up: connection refused"
        );
        assert_eq!(job.attempts(), 5);
        assert_eq!(clock.slept_secs(), vec![5, 10, 20, 40]);
    }

    #[tokio::test]
    async fn daemon_retries_an_unreachable_database_without_a_limit() {
        let clock = TestClock::new(
            utc("2024-05-10T02:00:00Z"),
            Some(utc("2024-05-10T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script_down(8);
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            false,
            when_parked(&clock),
        )
        .await
        .unwrap();
        // More attempts than `once_attempts` (5); then it waits for the next day's `at`.
        assert_eq!(job.attempts(), 9);
        assert_eq!(job.ran_at(), vec![utc("2024-05-10T02:15:15Z")]);
        assert_eq!(report.succeeded, 1);
        assert!(report.failed.is_empty() && report.interrupted);
    }

    #[tokio::test]
    async fn daemon_runs_at_start_then_every_day_at_the_configured_local_time() {
        // Starts 2024-05-10 00:30 in Sao Paulo (03:30Z), before `at`: a run at once catches up,
        // then one at 01:00 local (04:00Z) each day.
        let sp = chrono_tz::America::Sao_Paulo;
        let clock = TestClock::new(
            utc("2024-05-10T03:30:00Z"),
            Some(utc("2024-05-12T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        let report = run_schedule(
            &cfg(hm(1, 0), sp),
            &job,
            &*clock,
            false,
            when_parked(&clock),
        )
        .await
        .unwrap();
        assert_eq!(
            job.ran_at(),
            vec![
                utc("2024-05-10T03:30:00Z"),
                utc("2024-05-10T04:00:00Z"),
                utc("2024-05-11T04:00:00Z"),
                utc("2024-05-12T04:00:00Z"),
            ]
        );
        assert_eq!(report.succeeded, 4);
        assert!(report.interrupted);
    }

    #[tokio::test]
    async fn daemon_warns_once_per_tick_while_the_data_lags() {
        let clock = TestClock::new(
            utc("2024-05-10T02:00:00Z"),
            Some(utc("2024-05-11T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-01")));
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            false,
            when_parked(&clock),
        )
        .await
        .unwrap();
        assert_eq!(
            report.data_warnings,
            [
                "the data ends on 2024-05-01, 8 days before yesterday; is the export up to date?",
                "the data ends on 2024-05-01, 9 days before yesterday; is the export up to date?",
            ]
        );
    }

    #[tokio::test]
    async fn daemon_logs_a_failed_run_and_runs_again_at_the_next_tick() {
        let clock = TestClock::new(
            utc("2024-05-10T02:00:00Z"),
            Some(utc("2024-05-11T12:00:00Z")),
        );
        let job = FakeJob::new(&clock, Some(day("2024-05-10")));
        job.script([Err(JobError::Failed("lock timeout".into()))]);
        let report = run_schedule(
            &cfg(hm(1, 0), Tz::UTC),
            &job,
            &*clock,
            false,
            when_parked(&clock),
        )
        .await
        .unwrap();
        assert_eq!(report.failed, ["lock timeout"]);
        assert_eq!(report.succeeded, 1);
        // Not retried within the tick: the next run is the next day's, at `at`.
        assert_eq!(
            *job.attempts.lock().unwrap(),
            vec![utc("2024-05-10T02:00:00Z"), utc("2024-05-11T01:00:00Z")]
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
        // The run at start, and none after.
        assert_eq!(job.attempts(), 1);
        assert_eq!(report.succeeded, 1);
    }

    #[tokio::test]
    async fn shutdown_during_backoff_returns_ok_but_fails_once() {
        let now = utc("2024-05-10T02:00:00Z");
        let clock = TestClock::new(now, Some(now));
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script_down(1);
        let c = cfg(hm(1, 0), Tz::UTC);
        let report = run_schedule(&c, &job, &*clock, false, when_parked(&clock))
            .await
            .unwrap();
        assert!(report.interrupted);
        assert_eq!(report.succeeded, 0);
        assert!(report.failed.is_empty());
        assert_eq!(clock.slept_secs(), vec![5]);

        // With --once, the run it was asked for was not done.
        let clock = TestClock::new(now, Some(now));
        let job = FakeJob::new(&clock, Some(day("2024-05-09")));
        job.script_down(1);
        let err = run_schedule(&c, &job, &*clock, true, when_parked(&clock))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shutdown requested before the run could be done"
        );
    }

    #[tokio::test]
    async fn shutdown_during_a_run_waits_for_it_then_stops() {
        for once in [false, true] {
            let clock = TestClock::new(utc("2024-05-10T02:00:00Z"), None);
            let mut job = FakeJob::new(&clock, Some(day("2024-05-09")));
            job.slow = true;
            let report = run_schedule(
                &cfg(hm(1, 0), Tz::UTC),
                &job,
                &*clock,
                once,
                job.running.notified(),
            )
            .await
            .unwrap();
            // The run was in progress when shutdown came: it finished, and nothing came after.
            assert_eq!(job.ran_at(), vec![utc("2024-05-10T02:00:00Z")], "{once}");
            assert_eq!(report.succeeded, 1);
            assert!(report.interrupted);
            assert!(clock.slept_secs().is_empty());
        }
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
