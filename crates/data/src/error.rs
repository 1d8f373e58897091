//! The error type of `iw-data`: every variant names the file (or the value) it is about.
use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read or write. The cause is part of the message and not
    /// also a `source()`, so a printed cause chain (`{:#}`) says it once.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The file exists but its content is not what it must be (a case.json, an XML, a CSV).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        message: String,
    },
    /// A manifest or rules text (a file, or one compiled in) is not valid.
    #[error("{origin}: {message}")]
    Manifest {
        /// Where the text came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An argument is out of its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A volume could not be read or written.
    #[error(transparent)]
    Volume(#[from] iw_io::Error),
    /// From the maths underneath (a morphology bound, a shape that does not match).
    #[error(transparent)]
    Core(#[from] iw_core::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), message: message.into() }
    }
}
