//! `pipeline cluster`: the roles of the Apache `DataFusion` Ballista cluster that the `ballista`
//! engine computes on, served by this binary so that every process runs the same `DataFusion`, the
//! same functions and the same plan codecs as the client (a stock executor of another build cannot
//! decode every plan). Built with the cargo feature `ballista`; without it the command says how to
//! get it.
//!
//! Ballista's services have no authentication: both roles listen on 127.0.0.1 unless `--bind` says
//! otherwise. The executor's memory pool and the lifetime of its shuffle files are bounded by
//! default (Ballista's own defaults size the pool at most of the machine's memory, per executor,
//! and keep shuffle files for a week).

use std::net::SocketAddr;

use anyhow::Result;

use crate::error::UsageError;

/// What the executor's shuffle files and memory are bounded by, and where it works.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(feature = "ballista"),
    allow(dead_code, reason = "read by the roles, which the feature builds")
)]
pub struct ExecutorOptions {
    /// The scheduler, `HOST:PORT`.
    pub scheduler: String,
    /// The address the executor listens on (its Flight service; the gRPC service on `port + 1`).
    pub bind: String,
    /// The Flight port (shuffle data); the gRPC port is the next one.
    pub port: u16,
    /// The name other processes reach this executor by (default: the bind address).
    pub external_host: Option<String>,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<String>,
    /// The memory pool of all its tasks together, in MiB.
    pub memory_mb: u64,
    /// Concurrent tasks (default: the machine's cores).
    pub vcores: Option<usize>,
    /// How long a finished job's shuffle files are kept, seconds.
    pub shuffle_ttl_secs: u64,
}

/// The scheduler's address and the name executors and clients reach it by.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(feature = "ballista"),
    allow(dead_code, reason = "read by the roles, which the feature builds")
)]
pub struct SchedulerOptions {
    /// The address it listens on.
    pub bind: String,
    /// Its gRPC port.
    pub port: u16,
    /// The name it advertises (default: the bind address).
    pub external_host: Option<String>,
    /// How long an executor may miss heartbeats before its tasks are given to the others, seconds.
    pub executor_timeout_secs: u64,
}

/// `HOST:PORT` split, or a usage error naming the flag.
pub fn host_port(flag: &str, value: &str) -> Result<(String, u16)> {
    let value = value.strip_prefix("df://").unwrap_or(value);
    let parsed = value
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .filter(|(host, port)| !host.is_empty() && *port > 0);
    parsed.ok_or_else(|| {
        UsageError(vec![format!(
            "{flag} {value}: expected HOST:PORT, e.g. 127.0.0.1:50050"
        )])
        .into()
    })
}

/// The address `bind:port`, or a usage error.
fn socket(bind: &str, port: u16) -> Result<SocketAddr> {
    format!("{bind}:{port}").parse().map_err(|_| {
        UsageError(vec![format!(
            "--bind {bind}: not an IP address to listen on (e.g. 127.0.0.1, or 0.0.0.0 inside a container network)"
        )])
        .into()
    })
}

#[cfg(feature = "ballista")]
mod roles {
    use std::sync::Arc;

    use anyhow::{Context, Result};
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use ballista_scheduler::scheduler_process::start_server;

    use super::{ExecutorOptions, SchedulerOptions, host_port, socket};

    /// How often an executor looks for expired shuffle files, seconds.
    const CLEAN_UP_INTERVAL_SECS: u64 = 300;

    /// How often an executor tells the scheduler it is alive, seconds (`--executor-timeout-secs`
    /// must be longer).
    pub const EXECUTOR_HEARTBEAT_SECS: u64 = 10;

    /// Serves the scheduler until the process is stopped.
    pub async fn scheduler(options: &SchedulerOptions) -> Result<()> {
        let address = socket(&options.bind, options.port)?;
        if options.executor_timeout_secs <= EXECUTOR_HEARTBEAT_SECS {
            return Err(crate::error::UsageError(vec![format!(
                "--executor-timeout-secs {}: must be longer than the executors' heartbeat, {EXECUTOR_HEARTBEAT_SECS} s",
                options.executor_timeout_secs
            )])
            .into());
        }
        let mut config = SchedulerConfig::default()
            .with_hostname(
                options
                    .external_host
                    .clone()
                    .unwrap_or_else(|| options.bind.clone()),
            )
            .with_port(options.port)
            // Shuffle files of a finished job are removed from the executors a minute after.
            .with_finished_job_data_clean_up_interval_seconds(60);
        config.bind_host.clone_from(&options.bind);
        // A lost executor's tasks go to the others after this long (Ballista's default: 3 minutes
        // of a stalled job); executors beat every EXECUTOR_HEARTBEAT_SECS.
        config.executor_timeout_seconds = options.executor_timeout_secs;
        config.no_executors_grace_period_seconds = options.executor_timeout_secs;
        config.expire_dead_executor_interval_seconds = 5;
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .context("cannot set up the scheduler's state")?;
        println!("scheduler listening on {address}");
        start_server(cluster, address, Arc::new(config))
            .await
            .with_context(|| format!("the scheduler on {address} stopped"))
    }

    /// Serves an executor until the process is stopped.
    pub async fn executor(options: &ExecutorOptions) -> Result<()> {
        let (scheduler_host, scheduler_port) = host_port("--scheduler", &options.scheduler)?;
        socket(&options.bind, options.port)?;
        let grpc_port = options.port.checked_add(1).ok_or_else(|| {
            anyhow::anyhow!(
                "--port {}: the gRPC port (the next one) does not exist",
                options.port
            )
        })?;
        let defaults = ExecutorProcessConfig::default();
        let config = ExecutorProcessConfig {
            bind_host: options.bind.clone(),
            external_host: options.external_host.clone(),
            port: options.port,
            grpc_port,
            scheduler_host,
            scheduler_port,
            // Wait for a scheduler that starts after the executor (compose starts them together).
            scheduler_connect_timeout_seconds: 60,
            vcores: options.vcores.unwrap_or(defaults.vcores),
            work_dir: options.work_dir.clone(),
            memory_pool_size: Some(options.memory_mb * 1024 * 1024),
            job_data_ttl_seconds: options.shuffle_ttl_secs,
            job_data_clean_up_interval_seconds: CLEAN_UP_INTERVAL_SECS,
            executor_heartbeat_interval_seconds: EXECUTOR_HEARTBEAT_SECS,
            print_thread_info: false,
            ..defaults
        };
        println!(
            "executor listening on {}:{} (gRPC {grpc_port}), registering with {}; memory {} MiB, shuffle files kept {} s",
            options.bind,
            options.port,
            options.scheduler,
            options.memory_mb,
            options.shuffle_ttl_secs
        );
        start_executor_process(Arc::new(config))
            .await
            .with_context(|| format!("the executor on {}:{} stopped", options.bind, options.port))
    }
}

/// Serves the scheduler role.
#[cfg(feature = "ballista")]
pub async fn scheduler(options: &SchedulerOptions) -> Result<()> {
    roles::scheduler(options).await
}

/// Serves an executor role.
#[cfg(feature = "ballista")]
pub async fn executor(options: &ExecutorOptions) -> Result<()> {
    roles::executor(options).await
}

/// Without the feature: says how to get a binary that has the roles.
#[cfg(not(feature = "ballista"))]
#[allow(
    clippy::unused_async,
    reason = "the signature of the role a build with the feature serves"
)]
pub async fn scheduler(options: &SchedulerOptions) -> Result<()> {
    socket(&options.bind, options.port)?;
    Err(not_built())
}

/// Without the feature: says how to get a binary that has the roles.
#[cfg(not(feature = "ballista"))]
#[allow(
    clippy::unused_async,
    reason = "the signature of the role a build with the feature serves"
)]
pub async fn executor(options: &ExecutorOptions) -> Result<()> {
    host_port("--scheduler", &options.scheduler)?;
    Err(not_built())
}

#[cfg(not(feature = "ballista"))]
fn not_built() -> anyhow::Error {
    UsageError(vec![
        "this pipeline was built without the cluster roles: build it with `cargo build --release --features ballista` (or use the cluster image of docker-compose.yml's `cluster` profile)".to_owned(),
    ])
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_are_host_and_port() {
        assert_eq!(
            host_port("--scheduler", "127.0.0.1:50050").unwrap(),
            ("127.0.0.1".to_owned(), 50050)
        );
        assert_eq!(
            host_port("--scheduler", "df://scheduler:50050").unwrap(),
            ("scheduler".to_owned(), 50050)
        );
        for bad in [
            "",
            "host",
            "host:",
            ":50050",
            "host:0",
            "host:99999",
            "host:port",
        ] {
            let error = host_port("--scheduler", bad).unwrap_err().to_string();
            assert!(error.contains("expected HOST:PORT"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_bind_address_must_be_an_ip() {
        assert!(socket("127.0.0.1", 50050).is_ok());
        assert!(socket("0.0.0.0", 1).is_ok());
        let error = socket("localhost", 50050).unwrap_err().to_string();
        assert!(error.contains("--bind localhost"), "{error}");
    }
}
