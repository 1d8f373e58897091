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

/// Removes the temporary files and folders ([`temp_path`]; a prepared case's folder is written as
/// `.iwtmp-<pid>-case-<id>`) that killed writers left directly in `dir`: those
/// of processes that no longer run (Linux: no `/proc/<pid>`; elsewhere: older than a day).
/// Returns how many were removed; a missing folder removes none.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let linux = Path::new("/proc/self").exists();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(".iwtmp-") else { continue };
        let pid: Option<u32> = rest.split('-').next().and_then(|p| p.parse().ok());
        let stale = match pid {
            Some(p) if p == std::process::id() => false,
            Some(p) if linux => !Path::new(&format!("/proc/{p}")).exists(),
            _ => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 86_400),
        };
        if !stale {
            continue;
        }
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let gone = if is_dir { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}
