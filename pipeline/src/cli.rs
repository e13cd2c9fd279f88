//! The command line: global flags, subcommands and their arguments, and [`run`], which hands each
//! command to its module in [`crate::commands`].

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use stages::DayRange;

use crate::commands;
use crate::commands::stats::StatsOptions;
use crate::config::{self, FlagOverrides, ScheduleFlags};
use crate::erasure::{EraseOptions, ErasureKey};
use crate::error::UsageError;
use crate::output::{Format, RecordFormat};
use crate::plan::{self, Plan};
use crate::queries::RankBy;
use crate::report::{self, ReportFormat};
use crate::runner::{Days, RunOptions};

/// Turns an e-commerce shop's exports (Olist layout) into per-customer daily statistics in `PostgreSQL`.
#[derive(Debug, Parser)]
#[command(name = "pipeline", version, about)]
pub struct Cli {
    /// The pipeline file (default: ./pipeline.toml, or the built-in pipeline when there is none).
    #[arg(long, global = true, env = "PIPELINE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// `--data-dir` before the command, as earlier versions took it: still accepted for the
    /// commands that read files, refused for the others.
    #[arg(long, value_name = "DIR", hide = true)]
    pub data_dir: Option<PathBuf>,
    /// More on stderr: -v the steps of the work, -vv the detail (`RUST_LOG` overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the declared stages in order (migrations first): load the files, compute the days.
    Run {
        #[command(flatten)]
        input: Input,
        /// Run only these stages (repeatable); `--stage customer_daily_stats` recomputes without loading.
        #[arg(long = "stage", value_name = "NAME")]
        stages: Vec<String>,
        /// Compute the aggregates for this day (and every stale day, unless --skip-stale).
        #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "range", value_parser = parse_day)]
        date: Option<NaiveDate>,
        /// Compute the aggregates for every day of A..B, inclusive (and every stale day, unless
        /// --skip-stale).
        #[arg(long, value_name = "A..B", value_parser = parse_range)]
        range: Option<DayRange>,
        /// Compute only the days asked for, leaving stale days as they are (by default every stale
        /// day is recomputed too, so that every computed day equals a fresh computation).
        #[arg(long)]
        skip_stale: bool,
        /// Output: tables for people, or one JSON object (the run record).
        #[arg(long, value_enum, default_value_t)]
        format: RecordFormat,
        /// Read and load every file, even one whose content was loaded before under the same options.
        #[arg(long)]
        force_load: bool,
        /// Let a snapshot load (`deletes = "snapshot"`) delete more than its `max_delete_ratio`
        /// of a table, once you have checked the export is whole.
        #[arg(long)]
        allow_deletes: bool,
        /// Recompute every day of the data, not only those missing or stale (the explicit rebuild).
        #[arg(long, conflicts_with_all = ["date", "range"])]
        full_refresh: bool,
    },
    /// Check the configuration and the environment (database reachable, files readable, headers right); changes nothing.
    Validate {
        #[command(flatten)]
        input: Input,
    },
    /// Apply pending database migrations.
    Migrate,
    /// List the registered stage types.
    Stages,
    /// Show a day's per-customer statistics, largest `total_spent` first (or, with --stage, the
    /// rows of any declared aggregate).
    Stats {
        /// The aggregate stage whose rows to show (default: the customer aggregate).
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
        /// The day.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        date: NaiveDate,
        /// Only this customer (`customer_unique_id`); for an aggregate keyed by customer.
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        /// At most this many rows.
        #[arg(long, value_name = "N", value_parser = limit_parser())]
        limit: Option<u64>,
        /// Show every column in the table (CSV and JSON always have every column).
        #[arg(long)]
        wide: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show the rejected lines of the loads that read the files the tables hold now (or of one
    /// load run), grouped by the rule they broke, with file, line number and raw text.
    Rejects {
        /// The load run (its id in `pipeline_runs`, as `run` and `status` show it).
        #[arg(long, value_name = "ID")]
        run: Option<i64>,
        /// At most this many lines.
        #[arg(long, value_name = "N", value_parser = limit_parser())]
        limit: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Rank customers over a range of days (default: the whole history).
    TopCustomers {
        /// Days A..B (inclusive).
        #[arg(long, value_name = "A..B", value_parser = parse_range)]
        range: Option<DayRange>,
        /// What to rank by.
        #[arg(long, value_enum, default_value_t)]
        by: RankBy,
        /// How many customers.
        #[arg(long, default_value_t = 10, value_name = "N", value_parser = limit_parser())]
        limit: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Count repeat customers over a range of days (default: the whole history).
    Repeaters {
        /// Days A..B (inclusive).
        #[arg(long, value_name = "A..B", value_parser = parse_range)]
        range: Option<DayRange>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write one self-contained HTML page of charts over a range of days (default: the whole history).
    Report {
        /// Days A..B (inclusive), at most 100 years.
        #[arg(long, value_name = "A..B", value_parser = parse_report_range)]
        range: Option<DayRange>,
        /// Where to write (default: report.html for html, stdout for json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// html: the page; json: the data behind every chart.
        #[arg(long, value_enum, default_value_t)]
        format: ReportFormat,
    },
    /// Each stage's last run, a failed last load, and which days are computed, missing, stale or
    /// failed.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Exit 1 unless every day from the first to the last purchase day is computed, none is
        /// stale or failed, and the last load did not fail (for cron jobs and monitoring probes).
        #[arg(long)]
        check: bool,
    },
    /// Erase a person on request (LGPD/GDPR): their rows in every table the pipeline writes, in one
    /// transaction; an audit row and the hashes of their ids stay, and later loads skip their lines.
    #[command(group = clap::ArgGroup::new("who").required(true).args(["person", "customer_id"]))]
    Erase {
        /// The person: a `customer_unique_id`.
        #[arg(long, value_name = "ID")]
        person: Option<String>,
        /// One of the person's customer ids: the whole person (every customer id of theirs) is erased.
        #[arg(long, value_name = "ID")]
        customer_id: Option<String>,
        /// Why, kept in the audit row (write no personal data in it).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Say what would go (rows per table, days to recompute), and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output: a table for people, or one JSON object.
        #[arg(long, value_enum, default_value_t)]
        format: RecordFormat,
    },
    /// Write an Olist-shaped dataset (same seed, same bytes).
    Generate {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of orders (at most 1000000000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=generator::MAX_ORDERS))]
        orders: u64,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First day of the history.
        #[arg(long, default_value = "2016-09-04", value_name = "YYYY-MM-DD", value_parser = parse_day)]
        start: NaiveDate,
        /// Days of history (1 to 36500).
        #[arg(long, default_value_t = 730, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=i64::from(generator::MAX_DAYS)))]
        days: u32,
        /// Share of lines given a defect (0 to 1), with a manifest of what was injected.
        #[arg(long, default_value_t = 0.0, value_name = "R", value_parser = parse_rate)]
        defect_rate: f64,
    },
    /// Bring the pipeline up to date now, then every day at the configured local time (one line per run).
    Schedule {
        #[command(flatten)]
        input: Input,
        /// Run once and exit (for an external cron).
        #[arg(long)]
        once: bool,
        /// Override `schedule.at` (HH:MM).
        #[arg(long, value_name = "HH:MM")]
        at: Option<String>,
        /// Override `schedule.timezone` (IANA name).
        #[arg(long, value_name = "ZONE")]
        timezone: Option<String>,
    },
    /// Run the whole pipeline and print a short summary (days computed, top customers, repeaters).
    Demo {
        #[command(flatten)]
        input: Input,
        /// Also write the HTML report here (the compose demo writes /reports/report.html).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Serve a role of the Ballista cluster the `ballista` engine computes on (a build with the
    /// cargo feature `ballista`).
    Cluster {
        /// The role.
        #[command(subcommand)]
        role: ClusterRole,
    },
}

/// The roles of `pipeline cluster`. Ballista's services have no authentication: they listen on
/// 127.0.0.1 unless `--bind` says otherwise.
#[derive(Debug, Subcommand)]
pub enum ClusterRole {
    /// Serve the scheduler: it plans jobs and hands their tasks to the executors.
    Scheduler {
        /// Its gRPC port.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// The IP address to listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
        bind: String,
        /// The name executors and clients reach it by (default: the bind address).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// How long an executor may stay silent before its tasks go to the others, seconds
        /// (executors beat every 10 s).
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        executor_timeout_secs: u64,
    },
    /// Serve an executor: it runs tasks and serves their shuffle files to the others.
    Executor {
        /// The scheduler to register with.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Its Flight port (shuffle data); its gRPC port is the next one.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The IP address to listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
        bind: String,
        /// The name the other processes reach it by (default: the bind address).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Where its shuffle files go (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<String>,
        /// The memory of all its tasks together, MiB (beyond it, operators spill to disk).
        #[arg(long, default_value_t = 2048, value_name = "MIB")]
        memory_mb: u64,
        /// Tasks it runs at once (default: the machine's cores).
        #[arg(long, value_name = "N")]
        vcores: Option<usize>,
        /// How long the shuffle files of a job are kept once it finished, seconds.
        #[arg(long, default_value_t = 3600, value_name = "SECS")]
        shuffle_ttl_secs: u64,
    },
}

/// The flag of the commands that read the input files.
#[derive(Debug, Clone, clap::Args)]
pub struct Input {
    /// The directory the input files are read from (overrides `data_dir` and `PIPELINE_DATA_DIR`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The days a command line may name: four-digit years, which `PostgreSQL` and the date arithmetic of
/// every command hold with room to spare.
const FIRST_DAY: (i32, u32, u32) = (1, 1, 1);
const LAST_DAY: (i32, u32, u32) = (9999, 12, 31);

fn day_bounds() -> (NaiveDate, NaiveDate) {
    let day = |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    (day(FIRST_DAY), day(LAST_DAY))
}

fn check_day(day: NaiveDate) -> Result<NaiveDate, String> {
    let (first, last) = day_bounds();
    if (first..=last).contains(&day) {
        Ok(day)
    } else {
        Err(format!("{day} is not between {first} and {last}"))
    }
}

/// Parses a day `YYYY-MM-DD` between 0001-01-01 and 9999-12-31.
fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let day = text
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| format!("\"{}\" is not a date (expected YYYY-MM-DD)", text.trim()))?;
    check_day(day)
}

/// Parses `A..B` (inclusive) or a single day, each between 0001-01-01 and 9999-12-31.
fn parse_range(text: &str) -> Result<DayRange, String> {
    let day = |s: &str| {
        s.trim()
            .parse::<NaiveDate>()
            .map_err(|_| format!("\"{}\" is not a date (expected YYYY-MM-DD)", s.trim()))
    };
    let range = if let Some((a, b)) = text.split_once("..") {
        DayRange::new(day(a)?, day(b)?)
    } else {
        let d = day(text)?;
        DayRange::new(d, d)
    };
    if range.end < range.start {
        return Err(format!("range {text} ends before it starts"));
    }
    check_day(range.start)?;
    check_day(range.end)?;
    Ok(range)
}

/// `report --range`: a range of at most [`report::MAX_DAYS`] days.
fn parse_report_range(text: &str) -> Result<DayRange, String> {
    let range = parse_range(text)?;
    if range.len() > report::MAX_DAYS {
        return Err(format!(
            "range {range} is longer than 100 years ({} days); pass a shorter one",
            report::MAX_DAYS
        ));
    }
    Ok(range)
}

/// `--limit`: at most what a SQL `LIMIT` (a bigint) takes.
fn limit_parser() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(0..=i64::MAX as u64)
}

/// `--defect-rate`: a share from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("\"{text}\" is not a share between 0 and 1")),
    }
}

/// Reads and compiles the configuration, the flags that set keys of it included.
pub fn compile(cli: &Cli) -> Result<Plan> {
    let schedule = match &cli.command {
        Command::Schedule { at, timezone, .. } => ScheduleFlags {
            at: at.clone(),
            timezone: timezone.clone(),
        },
        _ => ScheduleFlags::default(),
    };
    let input = match &cli.command {
        Command::Run { input, .. }
        | Command::Validate { input }
        | Command::Schedule { input, .. }
        | Command::Demo { input, .. } => Some(input.data_dir.clone()),
        _ => None,
    };
    let data_dir = match (input, &cli.data_dir) {
        (Some(Some(dir)), _) => Some(dir),
        (Some(None), before) => before.clone(),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(UsageError(vec![
                "--data-dir does nothing for this command: only run, validate, demo and schedule read the input files"
                    .to_owned(),
            ])
            .into());
        }
    };
    let flags = FlagOverrides { data_dir, schedule };
    let (path, explicit) = match &cli.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("pipeline.toml"), false),
    };
    let raw = config::load(&path, explicit, &flags).map_err(UsageError)?;
    plan::compile(&path, raw).map_err(|p| UsageError(p).into())
}

/// Does what the command line asks: the arguments become the command's options, and its work is
/// the `run` of its module in [`crate::commands`].
pub async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Stages => {
            commands::stage_types::run();
            Ok(())
        }
        Command::Generate {
            out,
            orders,
            seed,
            start,
            days,
            defect_rate,
        } => {
            check_history(*start, *days)?;
            commands::generate::run(&generator::GenerateOptions {
                seed: *seed,
                start: *start,
                days: *days,
                defect_rate: *defect_rate,
                ..generator::GenerateOptions::new(out.clone(), *orders)
            })
        }
        Command::Migrate => commands::migrate::run(&compile(&cli)?).await,
        Command::Validate { .. } => commands::validate::run(&compile(&cli)?).await,
        Command::Run { stages, format, .. } => {
            let options = run_options(&cli.command);
            commands::run::run(&compile(&cli)?, stages, options, *format).await
        }
        Command::Stats {
            stage,
            date,
            customer,
            limit,
            wide,
            format,
        } => {
            let options = StatsOptions {
                stage: stage.as_deref(),
                date: *date,
                customer: customer.as_deref(),
                limit: *limit,
                wide: *wide,
                format: *format,
            };
            commands::stats::run(&compile(&cli)?, options).await
        }
        Command::Rejects { run, limit, format } => {
            commands::rejects::run(&compile(&cli)?, *run, *limit, *format).await
        }
        Command::TopCustomers {
            range,
            by,
            limit,
            format,
        } => commands::top_customers::run(&compile(&cli)?, *range, *by, *limit, *format).await,
        Command::Repeaters { range, format } => {
            commands::repeaters::run(&compile(&cli)?, *range, *format).await
        }
        Command::Report { range, out, format } => {
            commands::report::run(&compile(&cli)?, *range, out.as_deref(), *format).await
        }
        Command::Status { format, check } => {
            commands::status::run(&compile(&cli)?, *format, *check).await
        }
        Command::Erase {
            person,
            customer_id,
            reason,
            dry_run,
            format,
        } => {
            let options = erase_options(
                person.as_ref(),
                customer_id.as_ref(),
                reason.as_ref(),
                *dry_run,
            )?;
            commands::erase::run(&compile(&cli)?, &options, *format).await
        }
        Command::Schedule { once, .. } => commands::schedule::run(compile(&cli)?, *once).await,
        Command::Demo { report, .. } => {
            commands::demo::run(&compile(&cli)?, report.as_deref()).await
        }
        Command::Cluster { role } => cluster(role).await,
    }
}

/// `pipeline cluster ROLE`: the role served with its flags.
async fn cluster(role: &ClusterRole) -> Result<()> {
    use commands::cluster::{ExecutorOptions, SchedulerOptions};
    match role {
        ClusterRole::Scheduler {
            port,
            bind,
            external_host,
            executor_timeout_secs,
        } => {
            commands::cluster::scheduler(&SchedulerOptions {
                bind: bind.clone(),
                port: *port,
                external_host: external_host.clone(),
                executor_timeout_secs: *executor_timeout_secs,
            })
            .await
        }
        ClusterRole::Executor {
            scheduler,
            port,
            bind,
            external_host,
            work_dir,
            memory_mb,
            vcores,
            shuffle_ttl_secs,
        } => {
            commands::cluster::executor(&ExecutorOptions {
                scheduler: scheduler.clone(),
                bind: bind.clone(),
                port: *port,
                external_host: external_host.clone(),
                work_dir: work_dir.clone(),
                memory_mb: *memory_mb,
                vcores: *vcores,
                shuffle_ttl_secs: *shuffle_ttl_secs,
            })
            .await
        }
    }
}

/// `run`'s options from its flags (`command` is a [`Command::Run`]).
fn run_options(command: &Command) -> RunOptions {
    let Command::Run {
        date,
        range,
        skip_stale,
        force_load,
        allow_deletes,
        full_refresh,
        ..
    } = command
    else {
        unreachable!("run_options reads the flags of `run`")
    };
    RunOptions {
        days: days_asked(*date, *range, *full_refresh),
        stale: !skip_stale,
        force_load: *force_load,
        allow_deletes: *allow_deletes,
    }
}

/// `erase`'s options: `--person` or `--customer-id` (clap requires exactly one).
fn erase_options(
    person: Option<&String>,
    customer_id: Option<&String>,
    reason: Option<&String>,
    dry_run: bool,
) -> Result<EraseOptions> {
    let key = match (person, customer_id) {
        (Some(person), None) => ErasureKey::Person(person.clone()),
        (None, Some(id)) => ErasureKey::CustomerId(id.clone()),
        _ => {
            return Err(UsageError(vec![
                "erase takes one of --person ID and --customer-id ID".to_owned(),
            ])
            .into());
        }
    };
    Ok(EraseOptions {
        key,
        reason: reason.cloned(),
        dry_run,
    })
}

/// The days `run` computes: `--date`, `--range`, every day with `--full-refresh`, else those due.
fn days_asked(date: Option<NaiveDate>, range: Option<DayRange>, full_refresh: bool) -> Days {
    match (date, range) {
        (Some(d), _) => Days::Range(DayRange::new(d, d)),
        (_, Some(r)) => Days::Range(r),
        _ if full_refresh => Days::All,
        _ => Days::Due,
    }
}

/// `generate --start --days`: a history from 2000-01-01 that ends by 9999-12-31.
fn check_history(start: NaiveDate, days: u32) -> Result<()> {
    let (_, last) = day_bounds();
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
    if start < earliest {
        return Err(UsageError(vec![format!(
            "--start {start}: the history must not start before {earliest}"
        )])
        .into());
    }
    if (last - start).num_days() < i64::from(days) - 1 {
        return Err(UsageError(vec![format!(
            "--start {start} --days {days}: the history would run past {last}"
        )])
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_inclusively() {
        assert_eq!(parse_range("2017-01-01..2017-01-31").unwrap().len(), 31);
        assert_eq!(parse_range("2017-01-05").unwrap().len(), 1);
        assert_eq!(
            parse_range("2017-02-01..2017-01-01").unwrap_err(),
            "range 2017-02-01..2017-01-01 ends before it starts"
        );
        assert_eq!(
            parse_range("2017-1-x..2017-01-01").unwrap_err(),
            "\"2017-1-x\" is not a date (expected YYYY-MM-DD)"
        );
    }
}
