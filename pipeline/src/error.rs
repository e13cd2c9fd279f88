//! The errors that decide the exit code: [`UsageError`] exits 2, [`CheckFailed`] and any other error 1.

/// A problem with the command line or the configuration: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct UsageError(pub Vec<String>);

/// `status --check` found days missing, stale or failed, or a failed last load (already printed):
/// exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("the statistics are not up to date, or the newest export is not loaded (see above)")]
pub struct CheckFailed;
