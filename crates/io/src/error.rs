//! The error type of `iw-io`: every variant names the file it is about.
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
    /// The file exists but its content is not what its format requires.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        message: String,
    },
    /// The file is valid but uses something iw does not read (a datatype, 4D data, a codec).
    #[error("{}: unsupported: {message}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        message: String,
    },
    /// The file name's extension names no format iw knows.
    #[error("{}: unknown format (expected .nii, .nii.gz, .mhd, .mha, .nrrd, .nhdr, a .dcm file or a DICOM folder)", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// From the volume type (a shape that does not match its voxels, a write that failed).
    #[error(transparent)]
    Core(#[from] iw_core::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error }
    }
    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), message: message.into() }
    }
    pub(crate) fn unsupported(path: &Path, message: impl Into<String>) -> Self {
        Error::Unsupported { path: path.to_path_buf(), message: message.into() }
    }
}
