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
    /// A buffer the allocator refused (or whose size does not fit the address space): the
    /// volume is too large for this machine. `bytes` is the size asked for.
    #[error("out of memory: cannot allocate {bytes} bytes ({}) for {what}", human_bytes(*bytes))]
    OutOfMemory {
        /// What the buffer holds ("the labels of a 100000 x 100000 x 100000 volume").
        what: String,
        /// Its size.
        bytes: u128,
    },
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

/// `bytes` in binary units, three significant digits ("3.55 PiB").
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", UNITS[unit])
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }
}
