//! The errors the stage traits speak: why a stage could not be built, and why an extract could not
//! read a file.

use std::path::PathBuf;

/// Why a stage could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// Why a file cannot be read. Fatal: the load writes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file is not there.
    #[error("{path}: file not found (neither it nor {path}.gz exists)")]
    Missing {
        /// The path looked for.
        path: PathBuf,
    },
    /// The path is not a regular file (a directory, a named pipe, a device, a socket).
    #[error("{path}: not a regular file ({kind}); only regular files and .gz of them are read")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// Reading failed (permissions, a truncated gzip stream, data after the last gzip member, a
    /// disk error).
    #[error("{path}: cannot read{}: {cause}", line.map(|l| format!(" after line {l}")).unwrap_or_default())]
    Io {
        /// The file.
        path: PathBuf,
        /// The last line read, if any.
        line: Option<u64>,
        /// The cause, said in the message (not chained as a source, which would say it twice).
        cause: std::io::Error,
    },
    /// The file changed while it was read (an export rewriting it in place, an append): what was
    /// read is no state the file was ever in as a whole, so none of it may be loaded.
    #[error(
        "{path}: the file changed while it was read ({before} bytes when reading began, {after} at the end, \
         {read} read); nothing of it was written; run again once the export is complete"
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// Its size when reading began.
        before: u64,
        /// Its size when reading ended.
        after: u64,
        /// The bytes read.
        read: u64,
    },
    /// The file has no header line.
    #[error("{path}: file is empty (no header line)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The header cannot be used.
    #[error("{path}: {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The next stage stopped reading.
    #[error("{path}: the next stage stopped before the file was read to the end")]
    Closed {
        /// The file.
        path: PathBuf,
    },
}
