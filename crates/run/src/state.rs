//! A run's state, read from its folder and never kept elsewhere, and the per-run part of a
//! grid: a failed attempt's error beside the stages in run.json, `iw grid run-one` under the
//! run's lock, and SLURM's requeue.
//!
//! * `done` when run.json has the `evaluate` stage and the records exist, `running` while a live
//!   process holds the run's lock ([`crate::lock`]), `failed` when run.json carries an error,
//!   else `pending`.
//! * A run that fails fails alone: its error goes into its run.json, the grid goes on; rerunning
//!   the same command runs what is not done.
use crate::dir::RunDir;
use crate::experiment::Experiment;
use crate::grid::Grid;
use crate::interrupt::STOP;
use crate::lock;
use crate::record::{RunFailure, RunRecord};
use anyhow::{bail, Context};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a run is doing, from its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Not started, or stopped (interrupted, preempted, cancelled) without an error.
    Pending,
    /// A live process holds its lock (who: the lock file's text).
    Running(String),
    /// Train, predict and evaluate finished.
    Done,
    /// The last attempt failed (the error from run.json).
    Failed(String),
}

impl RunState {
    /// `pending`, `running`, `done` or `failed`.
    pub fn word(&self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running(_) => "running",
            RunState::Done => "done",
            RunState::Failed(_) => "failed",
        }
    }
}

/// The state of the run in `dir`.
pub fn state_of(dir: &RunDir) -> RunState {
    if let Some(who) = lock::held_by(dir) {
        return RunState::Running(who);
    }
    match RunRecord::read(dir) {
        Err(e) => RunState::Failed(format!("{e:#}")),
        Ok(None) => RunState::Pending,
        Ok(Some(r)) => {
            if r.is_done(dir) {
                RunState::Done
            } else if let Some(f) = r.error {
                RunState::Failed(f.message)
            } else {
                RunState::Pending
            }
        }
    }
}

/// Writes (`Some`) or clears (`None`) the error of a run into its run.json.
pub fn set_failure(dir: &RunDir, failure: Option<RunFailure>) -> anyhow::Result<()> {
    let mut r = match RunRecord::read(dir)? {
        Some(r) => r,
        None if failure.is_none() => return Ok(()),
        None => RunRecord::empty(),
    };
    if r.error.is_none() && failure.is_none() {
        return Ok(());
    }
    r.error = failure;
    std::fs::create_dir_all(dir.path()).with_context(|| format!("creating {}", dir.path().display()))?;
    r.write(dir)
}

/// What runs an experiment in its run folder (`iw_train::run_all`: train, predict, evaluate).
pub type Stages = fn(&Experiment, &RunDir) -> anyhow::Result<()>;

/// `iw grid run-one GRID --index I`: one run of a grid, in this process, under its lock. An
/// error is written into the run's run.json before it is returned; an interruption (Ctrl-C,
/// SIGTERM, SLURM's warning signal) leaves a checkpoint and no error, so the run stays pending.
/// `stages` runs the experiment in its folder (`iw_train::run_all`: this crate has no libtorch).
pub fn run_one(grid_file: &Path, index: usize, extra_sets: &[String], stages: Stages) -> anyhow::Result<()> {
    let grid = Grid::read(grid_file)?;
    let Some(run) = grid.runs.get(index) else {
        bail!("{}: no run {index} (the grid has {})", grid_file.display(), grid.runs.len());
    };
    std::env::set_current_dir(&grid.cwd).with_context(|| format!("entering {}", grid.cwd.display()))?;
    let dir = RunDir::new(&run.dir);
    let _lock = lock::RunLock::acquire(&dir)?;
    if matches!(RunRecord::read(&dir), Ok(Some(r)) if r.is_done(&dir)) {
        println!("{}: done, skipped", run.name);
        return Ok(());
    }
    println!(
        "== {} (run {index} of {}), pid {} on {}",
        run.name,
        grid.runs.len(),
        std::process::id(),
        lock::hostname()
    );
    let result = run.load(extra_sets).and_then(|exp| stages(&exp, &dir));
    match result {
        Ok(()) => set_failure(&dir, None),
        Err(e) if STOP.load(Ordering::SeqCst) => {
            if REQUEUE.load(Ordering::SeqCst) {
                requeue_self()?;
            }
            Err(e)
        }
        Err(e) => {
            let f = RunFailure::now(format!("{e:#}"), Some(dir.grid_log()));
            if let Err(w) = set_failure(&dir, Some(f)) {
                eprintln!("warning: {w:#}");
            }
            Err(e)
        }
    }
}

/// Set by SIGUSR1 (SLURM's warning before the time limit): checkpoint, then requeue.
pub static REQUEUE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    // Only atomics: async-signal-safe.
    REQUEUE.store(true, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the SIGUSR1 handler of [`REQUEUE`] (for `iw grid run-one`).
pub fn install_requeue_signal() {
    // SAFETY: the handler only stores atomics; `signal` with a valid function pointer.
    unsafe {
        libc::signal(libc::SIGUSR1, on_usr1 as *const () as libc::sighandler_t);
    }
}

/// `scontrol requeue` of this SLURM task (its checkpoint is written): SLURM ends this
/// allocation and starts the task again, which resumes from the checkpoint.
fn requeue_self() -> anyhow::Result<()> {
    let id = match (std::env::var("SLURM_ARRAY_JOB_ID"), std::env::var("SLURM_ARRAY_TASK_ID")) {
        (Ok(a), Ok(t)) => format!("{a}_{t}"),
        _ => match std::env::var("SLURM_JOB_ID") {
            Ok(j) => j,
            Err(_) => {
                eprintln!("SIGUSR1 outside SLURM: checkpoint written, not requeued");
                return Ok(());
            }
        },
    };
    println!("time limit near: checkpoint written, requeueing SLURM job {id}");
    let st = std::process::Command::new("scontrol").args(["requeue", &id]).status().context("running scontrol")?;
    if !st.success() {
        bail!("scontrol requeue {id} failed ({st})");
    }
    Ok(())
}
