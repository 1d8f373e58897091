//! Writing files so that no reader ever sees half of one: fill a hidden temporary file beside
//! the target, then rename it into place (atomic on one file system). Every iw writer goes
//! through [`write_atomically`].
use crate::error::Error;
use std::path::{Path, PathBuf};

/// The hidden temporary path a writer fills before renaming it to `path`. It keeps the file's
/// format extension (`.nii.gz`, `.mhd`, ...: writers decide compression from it) and has no
/// other dot, because the `nifti` crate rewrites everything after the last dot of the stem.
pub fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let ext = if name.ends_with(".nii.gz") {
        ".nii.gz".to_string()
    } else {
        path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default()
    };
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!(".iwtmp-{}-{n}{ext}", std::process::id()))
}

/// Runs `write` on a temporary path beside `path` (same extension), then renames the result to
/// `path`; on failure the temporary file is removed and `path` is untouched.
pub fn write_atomically<E: From<Error>>(path: &Path, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let tmp = temp_path(path);
    match write(&tmp) {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e).into()
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomically(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| Error::io(path, e)))
}
