//! The error type of `iw-core`.
use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of its domain (a connectivity of 7, w_min > w_max, a shape that does
    /// not match, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operating system refused a read or write. The cause is part of the message and not
    /// also a `source()`, so a printed cause chain (`{:#}`) says it once.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
}
