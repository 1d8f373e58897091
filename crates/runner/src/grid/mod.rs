//! The experiment grid's executors: a list of runs (experiment file, overlays, `--set`, seed
//! index, run folder) run on this machine or submitted to SLURM, and where they stand.
//!
//! * `<root>/grid.json` lists the runs ([`Grid`], iw-run); `iw grid` and `iw reproduce` write it,
//!   and every executor's tasks read it (`iw grid run-one <root>/grid.json --index I`, which
//!   `iw-torch` runs: `iw_run::run_one`).
//! * A run's state ([`RunState`], iw-run) is read from its folder, never kept elsewhere: `done`
//!   when run.json has the `evaluate` stage and the records exist, `running` while a live process
//!   holds the run's lock (`iw_run::lock`), `failed` when run.json carries an error, else
//!   `pending`.
//! * [`local`] runs them as child processes of this binary (`--jobs`, `--devices`, `--threads`);
//!   [`slurm`] writes and submits a SLURM job array.
//!
//! A run that fails fails alone: its error goes into its run.json and the grid's summary, the
//! others go on; rerunning the same command runs what is not done.
//!
//! * One grid per folder: a command naming other runs than `<root>/grid.json`'s is refused
//!   unless `--add` merges them in ([`Grid::adopt`]), so `iw grid status` lists every run.
//! * A command's exit code says what is done ([`Completion`], [`Unfinished`]); [`status`] is
//!   `iw grid status` (progress, ETA, `--json`, `--watch`).
use anyhow::Context;
use std::path::{Path, PathBuf};

pub use iw_run::cli::{unfinished_code, Unfinished, EXIT_ELSEWHERE, EXIT_FAILED};
pub use iw_run::{state_of, Grid, GridRun, RunState};

pub mod local;
pub mod slurm;
pub mod status;
pub mod time;

/// The table `iw grid status` prints ([`status::Status::table`]).
pub fn status_table(grid: &Grid) -> String {
    status::Status::collect(grid, &mut status::Cache::default()).table()
}

/// Writes `<root>/grid-summary.md` (the status table) and returns it.
pub fn write_summary(grid: &Grid) -> anyhow::Result<String> {
    let t = status_table(grid);
    iw_core::write_file_atomically(
        &grid.root.join("grid-summary.md"),
        format!("# Grid summary\n\n```text\n{t}```\n").as_bytes(),
    )?;
    Ok(t)
}

/// The executor's options (`iw grid` and `iw reproduce`).
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// Child processes on this machine.
    Local(local::LocalOptions),
    /// A SLURM job array.
    Slurm(slurm::SlurmOptions),
}

/// What an executor did.
#[derive(Debug, Clone, PartialEq)]
pub enum Executed {
    /// The local executor ran the grid (this process waited).
    Local(local::Outcome),
    /// The SLURM executor submitted it (this process returns at once, or after `--wait`).
    Submitted(slurm::Submission),
}

/// Runs (local) or submits (SLURM) the runs `indices` of `grid` that are not done; `report` is
/// the shell command line the SLURM report job runs after the array. With `wait`, it returns once
/// the runs held elsewhere (local) or the array and its report job (SLURM) have ended.
pub fn dispatch(
    grid: &Grid,
    grid_file: &Path,
    indices: &[usize],
    executor: &Executor,
    wait: bool,
    report: &str,
) -> anyhow::Result<Executed> {
    Ok(match executor {
        Executor::Local(o) => {
            let _held = ExecutorLock::acquire(&grid.root)?;
            Executed::Local(local::execute(grid, grid_file, indices, o, wait)?)
        }
        Executor::Slurm(o) => {
            let s = slurm::submit(grid, grid_file, indices, o, report)?;
            match (&s.array_job, &s.report_job) {
                (Some(a), Some(r)) => println!(
                    "submitted {} run(s) of {} as SLURM array job {a} (scripts and logs in {}), report job {r} after it; watch with `iw grid status {} --watch`",
                    s.runs.len(),
                    indices.len(),
                    slurm::slurm_dir(&grid.root).display(),
                    grid.root.display()
                ),
                _ => println!("nothing to submit: every run of {} is done or running", grid.root.display()),
            }
            if wait {
                slurm::wait(grid, indices, &s)?;
            }
            Executed::Submitted(s)
        }
    })
}

/// `iw grid`: dispatches the runs `indices` of `grid`, then (local) prints and writes the
/// summary; its result says whether every run is done ([`Completion::check`]).
pub fn execute(
    grid: &Grid,
    grid_file: &Path,
    indices: &[usize],
    executor: &Executor,
    wait: bool,
    report: &str,
) -> anyhow::Result<()> {
    let executed = dispatch(grid, grid_file, indices, executor, wait, report)?;
    if let Executed::Local(out) = &executed {
        print!("{}", write_summary(grid)?);
        if out.interrupted {
            return Err(interrupted(grid));
        }
    }
    Completion::of(grid, indices, &slurm::Tasks::of(grid)).check(grid)
}

/// The error of a grid stopped by Ctrl-C (exit code 130).
pub fn interrupted(grid: &Grid) -> anyhow::Error {
    iw_run::interrupt::Interrupted(format!("rerun the same command to continue ({})", grid.root.display())).into()
}

/// Where the runs of a command stand once it has done what it does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    /// Done.
    pub done: Vec<usize>,
    /// Failed: (index, error).
    pub failed: Vec<(usize, String)>,
    /// Neither done nor failed, and nobody runs them.
    pub pending: Vec<usize>,
    /// Held by a live process, or queued or running in SLURM: (index, where).
    pub elsewhere: Vec<(usize, String)>,
}

impl Completion {
    /// The states of the runs `indices` of `grid` (SLURM tasks from `tasks`).
    pub fn of(grid: &Grid, indices: &[usize], tasks: &slurm::Tasks) -> Completion {
        let mut c = Completion::default();
        for &i in indices {
            let task = tasks.get(i).filter(|t| t.active());
            match state_of(&grid.dir_of(&grid.runs[i])) {
                RunState::Done => c.done.push(i),
                RunState::Running(who) => c.elsewhere.push((i, who)),
                _ if task.is_some() => {
                    let t = task.expect("checked");
                    c.elsewhere.push((i, format!("SLURM task {} {}", t.id, t.state)))
                }
                RunState::Failed(e) => c.failed.push((i, e)),
                RunState::Pending => c.pending.push(i),
            }
        }
        c
    }

    /// `Ok` when every run is done; else an [`Unfinished`] naming the others: exit code
    /// [`EXIT_FAILED`] when some failed or did not run, else [`EXIT_ELSEWHERE`].
    pub fn check(&self, grid: &Grid) -> anyhow::Result<()> {
        let total = self.done.len() + self.failed.len() + self.pending.len() + self.elsewhere.len();
        let name = |i: usize| grid.runs[i].name.as_str();
        let mut parts = Vec::new();
        if !self.failed.is_empty() {
            let names: Vec<&str> = self.failed.iter().map(|(i, _)| name(*i)).collect();
            parts.push(format!(
                "{} of {total} runs failed ({}; errors in their run.json and {}); rerun the same command to retry them",
                self.failed.len(),
                names.join(", "),
                grid.root.join("grid-summary.md").display()
            ));
        }
        if !self.pending.is_empty() {
            let names: Vec<&str> = self.pending.iter().map(|&i| name(i)).collect();
            parts.push(format!(
                "{} of {total} runs did not run ({}); rerun the same command to run them",
                self.pending.len(),
                names.join(", ")
            ));
        }
        if !self.elsewhere.is_empty() {
            let names: Vec<String> = self.elsewhere.iter().map(|(i, w)| format!("{} ({w})", name(*i))).collect();
            parts.push(format!(
                "{} of {total} runs are still running elsewhere ({}); --wait waits for them, `iw grid status {} --watch` shows them",
                self.elsewhere.len(),
                names.join(", "),
                grid.root.display()
            ));
        }
        if parts.is_empty() {
            return Ok(());
        }
        let code = if self.failed.is_empty() && self.pending.is_empty() { EXIT_ELSEWHERE } else { EXIT_FAILED };
        Err(Unfinished { code, message: parts.join("; ") }.into())
    }
}

/// `<root>/.iw-grid-lock`, held (shared) by every local executor of the grid while it runs, so
/// that `iw grid status` knows a grid between two of its runs has not ended.
#[derive(Debug)]
pub struct ExecutorLock {
    _file: std::fs::File,
}

impl ExecutorLock {
    /// The lock file of a grid.
    pub fn path(root: &Path) -> PathBuf {
        root.join(".iw-grid-lock")
    }

    /// Takes a shared hold of the grid's executor lock.
    pub fn acquire(root: &Path) -> anyhow::Result<Self> {
        let path = Self::path(root);
        let file = iw_run::lock::open_lock_file(root, &path)?;
        file.lock_shared().with_context(|| format!("locking {}", path.display()))?;
        Ok(ExecutorLock { _file: file })
    }

    /// Whether a live local executor runs the grid of `root`.
    pub fn held(root: &Path) -> bool {
        let Ok(file) = std::fs::File::open(Self::path(root)) else { return false };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> Grid {
        Grid {
            cwd: PathBuf::from("/"),
            root: PathBuf::from("/runs"),
            runs: (0..n)
                .map(|k| GridRun {
                    name: format!("lits/m{k}/experiment_0"),
                    experiment: PathBuf::from(format!("m{k}.yaml")),
                    overlays: vec![],
                    sets: vec![],
                    seed_index: 0,
                    dir: PathBuf::from(format!("/runs/lits/m{k}/experiment_0")),
                })
                .collect(),
        }
    }

    fn code(c: &Completion) -> Option<u8> {
        c.check(&grid(4)).err().map(|e| unfinished_code(&e).expect("an Unfinished"))
    }

    #[test]
    fn the_exit_code_is_0_only_when_all_are_done_and_a_failure_outranks_waiting() {
        let done = Completion { done: vec![0, 1, 2, 3], ..Default::default() };
        assert_eq!(code(&done), None);
        let elsewhere =
            Completion { done: vec![0, 1, 2], elsewhere: vec![(3, "pid 7 host h".into())], ..Default::default() };
        assert_eq!(code(&elsewhere), Some(EXIT_ELSEWHERE));
        let pending = Completion { done: vec![0, 1, 2], pending: vec![3], ..Default::default() };
        assert_eq!(code(&pending), Some(EXIT_FAILED));
        // Failed and still running elsewhere: 3 (waiting would not make it 0), one line naming both.
        let both = Completion {
            done: vec![0, 1],
            failed: vec![(2, "boom".into())],
            elsewhere: vec![(3, "SLURM task 5_3 RUNNING".into())],
            ..Default::default()
        };
        assert_eq!(code(&both), Some(EXIT_FAILED));
        let msg = both.check(&grid(4)).unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("1 of 4 runs failed (lits/m2/experiment_0;"), "{msg}");
        assert!(
            msg.contains("1 of 4 runs are still running elsewhere (lits/m3/experiment_0 (SLURM task 5_3 RUNNING))"),
            "{msg}"
        );
    }
}
