//! One executor per run folder: `<run>/.iw-lock` ([`RunDir::lock`]), held with an advisory `flock` (std's
//! `File::try_lock`) for as long as the run's process lives.
//!
//! The kernel drops the lock when its holder exits, however it exits (a crash, `kill -9`, a
//! SLURM job cancelled or preempted), so a lock file left behind by a dead process is stale by
//! construction: the next executor takes it over. The file's text (pid, host, since) only says
//! who holds it, for messages and `iw grid status`; it is never trusted to decide.
use crate::dir::RunDir;
use anyhow::{bail, Context};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The lock file of a run folder.
pub fn lock_path(run_dir: &RunDir) -> PathBuf {
    run_dir.lock()
}

/// Opens (creating it and its folder `dir` if needed, never truncating: its text may name a live
/// holder) the lock file `path`, unlocked; the run lock and the grid's executor lock both start here.
pub fn open_lock_file(dir: &Path, path: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// A held run lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `run_dir` (created if needed), or fails naming its holder.
    pub fn acquire(dir: &RunDir) -> anyhow::Result<Self> {
        let run_dir = dir.path();
        let path = lock_path(dir);
        let mut file = open_lock_file(run_dir, &path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                bail!("{}: the run is in use by {}", run_dir.display(), holder(&path))
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        // A stale text (a dead holder's) is replaced by ours.
        file.set_len(0).with_context(|| format!("writing {}", path.display()))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        writeln!(file, "pid {} host {} since {now}", std::process::id(), hostname())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(RunLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether some live process holds the lock of `run_dir`, and who (the lock file's text).
pub fn held_by(run_dir: &RunDir) -> Option<String> {
    let path = lock_path(run_dir);
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => Some(holder(&path)),
        Err(TryLockError::Error(_)) => None,
    }
}

fn holder(path: &Path) -> String {
    std::fs::read_to_string(path).map(|t| t.trim().to_string()).unwrap_or_else(|_| "another process".into())
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_a_dead_holders_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        let a = RunLock::acquire(&run).unwrap();
        assert!(held_by(&run).unwrap().contains(&format!("pid {}", std::process::id())));
        // A second open file description conflicts even within one process.
        let e = RunLock::acquire(&run).unwrap_err().to_string();
        assert!(e.contains("in use by pid"), "{e}");
        drop(a);
        assert_eq!(held_by(&run), None);
        // A file left by a dead process (text, no flock): free, and taken over.
        std::fs::write(lock_path(&run), "pid 999999999 host elsewhere since 0\n").unwrap();
        assert_eq!(held_by(&run), None);
        let b = RunLock::acquire(&run).unwrap();
        let text = std::fs::read_to_string(b.path()).unwrap();
        assert!(text.starts_with(&format!("pid {} ", std::process::id())) && !text.contains("elsewhere"), "{text}");
    }
}
