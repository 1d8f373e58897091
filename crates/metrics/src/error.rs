//! The error type of `iw-metrics`.
use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A read or write failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, not also a `source()`: a cause chain says it once).
        error: std::io::Error,
    },
    /// A records file or folder is not what the schema requires.
    #[error("{}: {message}", path.display())]
    Records {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Volumes that must match do not (shape, geometry).
    #[error("{0}")]
    Mismatch(String),
    /// From the maths underneath, or a file write that failed.
    #[error(transparent)]
    Core(#[from] iw_core::Error),
    /// An argument is out of its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Drawing a figure failed.
    #[error("{}: drawing the figure failed: {message}", path.display())]
    Plot {
        /// The figure file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
    pub(crate) fn records(path: &Path, message: impl Into<String>) -> Self {
        Error::Records { path: path.to_path_buf(), message: message.into() }
    }
}
