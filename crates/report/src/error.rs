//! The error type of `iw-report`.
use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, not also a `source()`: a cause chain says it once).
        error: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// From iw-core (atomic writes).
    #[error(transparent)]
    Core(#[from] iw_core::Error),
    /// From iw-io (reading a prediction).
    #[error(transparent)]
    Io2(#[from] iw_io::Error),
    /// From iw-data (a prepared case).
    #[error(transparent)]
    Data(#[from] iw_data::Error),
    /// From iw-metrics (records).
    #[error(transparent)]
    Metrics(#[from] iw_metrics::Error),
    /// The template failed to render (a bug of this crate).
    #[error("rendering the report: {0:#}")]
    Template(#[from] minijinja::Error),
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
    /// A format error about `path`.
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), message: message.into() }
    }
}
