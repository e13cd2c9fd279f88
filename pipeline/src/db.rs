//! Connecting to `PostgreSQL` (creating the database when missing) and applying migrations. Messages
//! name host, port and database, never the password.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::DatabaseConfig;

stages::statements! {
    /// This module's statements, in `pipeline/sql/db.sql`.
    static SQL: Statements = "db.sql" {
        create_database_statement,
        lock_migrations,
        unlock_migrations,
    }
}

/// The database, through `SeaORM` and through the sqlx pool behind it (for COPY and bulk SQL).
#[derive(Clone)]
pub struct Db {
    /// The `SeaORM` connection.
    pub orm: DatabaseConnection,
    /// The pool behind it.
    pub pool: PgPool,
    /// `host:port/database`, for messages.
    pub target: String,
}

impl Db {
    /// Closes the connections politely (the server logs an abrupt disconnect as an error).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Whether `host` is this machine (a loopback address, `localhost` or a Unix socket directory).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where `options` points, without credentials.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    )
}

/// Connects, creating the database first when it does not exist.
pub async fn connect(config: &DatabaseConfig) -> Result<Db> {
    open(config, true).await
}

/// Connects to an existing database only (for checks that must change nothing).
pub async fn connect_existing(config: &DatabaseConfig) -> Result<Db> {
    open(config, false).await
}

async fn open(config: &DatabaseConfig, create_missing: bool) -> Result<Db> {
    let options: PgConnectOptions = config
        .url
        .parse()
        .context("database.url is not a PostgreSQL URL")?;
    // Statements at trace level; slow ones (with their full SQL text) at debug, not on a user's
    // terminal: each phase logs one line with its duration at info instead.
    let options = options
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(
            tracing::log::LevelFilter::Debug,
            std::time::Duration::from_secs(1),
        );
    // TLS over the loopback protects nothing and costs a quarter of a second per process; the URL's
    // own sslmode, when it has one, is kept.
    let options = if is_loopback(options.get_host()) && !config.url.contains("sslmode=") {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    };
    let target = describe(&options);
    let timeout = Duration::from_secs(config.connect_timeout_secs);
    // The plan refuses a pool too small for a run (`database.max_connections`), so the size is used
    // as it is rather than raised here behind the user's back.
    let pool_options = || {
        PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(timeout)
    };
    // One plain connection first: a pool retries a refused connection until its timeout, where one
    // attempt says at once that nothing listens.
    let no_answer = || {
        anyhow::anyhow!(
            "cannot connect to the database at {target}: no answer within {}s (database.connect_timeout_secs)",
            config.connect_timeout_secs
        )
    };
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(probe)) => {
            probe.close().await.ok();
        }
        Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("3D000") => {
            if !create_missing {
                bail!(
                    "the database at {target} does not exist yet (`pipeline migrate` or `pipeline run` creates it)"
                );
            }
            create_database(&options, timeout, &target).await?;
        }
        Ok(Err(e)) => return Err(connect_error(&e, &target)),
        Err(_) => return Err(no_answer()),
    }
    let pool =
        match tokio::time::timeout(timeout, pool_options().connect_with(options.clone())).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return Err(connect_error(&e, &target)),
            Err(_) => return Err(no_answer()),
        };
    let orm = SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone());
    Ok(Db { orm, pool, target })
}

fn connect_error(error: &sqlx::Error, target: &str) -> anyhow::Error {
    let cause = match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is PostgreSQL running and listening there? \
             set DATABASE_URL or database.url to point elsewhere)"
                .to_owned()
        }
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "no connection within the timeout".to_owned(),
        other => other.to_string(),
    };
    anyhow::anyhow!("cannot connect to the database at {target}: {cause}")
}

async fn create_database(
    options: &PgConnectOptions,
    timeout: Duration,
    target: &str,
) -> Result<()> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let admin = options.clone().database("postgres");
    let mut conn = tokio::time::timeout(timeout, admin.connect())
        .await
        .map_err(|_| {
            anyhow::anyhow!("cannot connect to the database server at {target}: timed out")
        })?
        .map_err(|e| connect_error(&e, target))?;
    // An identifier cannot be a bind parameter, and CREATE DATABASE cannot run inside the DO
    // block that would let the server build it: PostgreSQL writes the statement, quoting the name
    // with its own format('%I'), and it runs as written.
    let create: String = sqlx::query_scalar(SQL.create_database_statement)
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    let result = sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut conn)
        .await;
    match result {
        Ok(_) => tracing::info!(database = %name, "created the database"),
        // Another process created it in the meantime: 42P04 when its creation had committed, 23505
        // (a duplicate name in pg_database) when both were creating it at the same moment.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {
            tracing::debug!(database = %name, "the database was created by another process");
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot create the database {name} at {target}"));
        }
    }
    conn.close().await.ok();
    Ok(())
}

/// Applies pending migrations, one process at a time: the others wait on an advisory lock, then
/// find nothing left to apply. Returns the names of the migrations it applied.
pub async fn migrate(db: &Db) -> Result<Vec<String>> {
    let mut lock = db
        .pool
        .acquire()
        .await
        .context("cannot take a connection to migrate")?;
    sqlx::query(SQL.lock_migrations)
        .bind(stages::core::locks::MIGRATE_CLASS)
        .execute(&mut *lock)
        .await
        .context("cannot take the migration lock")?;
    let result = async {
        let pending: Vec<String> = Migrator::get_pending_migrations(&db.orm)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        if !pending.is_empty() {
            Migrator::up(&db.orm, None).await?;
        }
        Ok::<_, sea_orm::DbErr>(pending)
    }
    .await;
    sqlx::query(SQL.unlock_migrations)
        .bind(stages::core::locks::MIGRATE_CLASS)
        .execute(&mut *lock)
        .await
        .ok();
    result.context("cannot apply migrations")
}

/// Checks, without changing anything, that every migration of this version has been applied; the
/// read commands use it instead of migrating (a role with read rights alone cannot migrate).
pub async fn check_schema(db: &Db) -> Result<()> {
    let pending = Migrator::get_pending_migrations_read_only(&db.orm)
        .await
        .with_context(|| {
            format!(
                "cannot read the schema version of the database at {}",
                db.target
            )
        })?;
    if pending.is_empty() {
        return Ok(());
    }
    #[allow(
        clippy::redundant_closure_for_method_calls,
        reason = "the method's type lives in sea-orm-migration, which this crate reaches only through the migration crate"
    )]
    let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
    bail!(
        "the database at {} is not up to date with this version of pipeline ({} migration{} pending: {}); run `pipeline migrate`",
        db.target,
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["db", "10.0.0.5", "example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn descriptions_carry_no_password() {
        let options: PgConnectOptions =
            "postgres://me:secret@db.example:6543/shop".parse().unwrap();
        assert_eq!(describe(&options), "db.example:6543/shop");
    }
}
