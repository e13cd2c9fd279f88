//! `pipeline`: parses arguments, calls [`cli::run`], prints `error: ...` with its causes and exits
//! non-zero (1 for a runtime failure, 2 for a usage or configuration error).

mod cli;
mod commands;
mod config;
mod day_ranges;
mod db;
mod erasure;
mod error;
mod ledger;
mod money;
mod output;
mod plan;
mod preflight;
mod queries;
mod report;
mod runner;
mod scheduler;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a load allocates a few short-lived strings per field
/// on several threads, and glibc's allocator spent a quarter of the load's CPU on them, much of it
/// waiting on its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack of each runtime thread. `DataFusion` and Ballista plan and decode plans recursively:
/// the statistics' plan overflowed tokio's default of 2 MiB in the scheduler of a debug build.
const THREAD_STACK_BYTES: usize = 16 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logs(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // No message shows a password, whatever quoted it (a URL inside a driver's error).
            eprintln!("error: {}", config::mask_passwords(&error.to_string()));
            for cause in error.chain().skip(1) {
                eprintln!(
                    "  caused by: {}",
                    config::mask_passwords(&cause.to_string())
                );
            }
            if error.is::<error::UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Logs go to stderr: warnings and errors by default (the run's summary is on stdout), the steps
/// with `-v`, the detail with `-vv`; `RUST_LOG` overrides both.
fn init_logs(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,sqlx=warn,sea_orm_migration=warn",
        _ => "debug,sqlx=info,sea_orm_migration=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
}

#[cfg(test)]
mod tests {
    /// Every file of `pipeline/sql/` holds exactly the statements its module declares
    /// (`stages::statements!`), and every file is declared by a module.
    #[test]
    fn every_sql_file_holds_exactly_the_statements_its_module_reads() {
        assert_eq!(
            stages::core::sql_file::problems(env!("CARGO_MANIFEST_DIR")),
            Vec::<String>::new()
        );
    }
}
