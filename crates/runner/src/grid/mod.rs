//! The experiment grid: a list of runs (experiment file, overlays, `--set`, seed index, run
//! folder), their state, and the executors that run them.
//!
//! * `<root>/grid.json` lists the runs ([`Grid`]); `iw grid` and `iw reproduce` write it, and
//!   every executor's tasks read it (`iw grid run-one <root>/grid.json --index I`).
//! * A run's state ([`RunState`]) is read from its folder, never kept elsewhere: `done` when
//!   run.json has the `evaluate` stage and the records exist, `running` while a live process holds
//!   `<run>/.iw-lock` ([`lock`]), `failed` when run.json carries an error, else `pending`.
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
use crate::experiment::Experiment;
use crate::run::{run_dir, RunRecord};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod local;
pub mod lock;
pub mod slurm;
pub mod status;
pub mod time;

/// One run of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRun {
    /// `<dataset>/<method>/experiment_<k>`: the run folder under the grid's root.
    pub name: String,
    /// Experiment file.
    pub experiment: PathBuf,
    /// Overlays merged over it.
    pub overlays: Vec<PathBuf>,
    /// `--set` overrides after the overlays.
    pub sets: Vec<String>,
    /// Seed index k: `training.seed + k`, folder `experiment_<k>`.
    pub seed_index: usize,
    /// The run folder.
    pub dir: PathBuf,
}

impl GridRun {
    /// The run's experiment, with the executor's own overrides (threads, device) set last.
    pub fn load(&self, extra_sets: &[String]) -> anyhow::Result<Experiment> {
        let sets: Vec<String> = self.sets.iter().chain(extra_sets).cloned().collect();
        let mut exp = Experiment::load_with(&self.experiment, &self.overlays, &sets)?;
        exp.training.seed += self.seed_index as u64;
        Ok(exp)
    }
}

/// A grid: its runs and where they live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// The folder the relative paths are relative to (the command's working directory).
    pub cwd: PathBuf,
    /// The root of the run folders (grid.json, the summary and slurm/ live here).
    pub root: PathBuf,
    /// The runs, seed-major (every experiment of seed 0, then seed 1, ...).
    pub runs: Vec<GridRun>,
}

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

/// The error a failed attempt leaves in run.json (`"error"`), cleared when the run finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The error chain, one line.
    pub message: String,
    /// Where (host) and when (Unix seconds) it failed.
    pub host: String,
    /// Unix seconds.
    pub unix: u64,
    /// The attempt's log (stdout and stderr).
    pub log: Option<PathBuf>,
}

/// The log of a run's attempts under any executor.
pub fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("grid.log")
}

/// The state of the run in `dir`.
pub fn state_of(dir: &Path) -> RunState {
    if let Some(who) = lock::held_by(dir) {
        return RunState::Running(who);
    }
    match RunRecord::read_in(dir) {
        Err(e) => RunState::Failed(format!("{e:#}")),
        Ok(None) => RunState::Pending,
        Ok(Some(r)) => {
            if r.stages.contains_key("evaluate") && dir.join("test_metrics/prc_records.json").is_file() {
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
pub fn set_failure(dir: &Path, failure: Option<RunFailure>) -> anyhow::Result<()> {
    let mut r = match RunRecord::read_in(dir)? {
        Some(r) => r,
        None if failure.is_none() => return Ok(()),
        None => RunRecord::empty(),
    };
    if r.error.is_none() && failure.is_none() {
        return Ok(());
    }
    r.error = failure;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    iw_core::write_file_atomically(&dir.join("run.json"), serde_json::to_string_pretty(&r)?.as_bytes())?;
    Ok(())
}

/// A failure now, on this host.
pub fn failure_now(message: String, log: Option<PathBuf>) -> RunFailure {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    RunFailure { message, host: lock::hostname(), unix, log }
}

impl Grid {
    /// The runs of `experiments` x `seeds` (seed-major) under `root`. Two runs in one folder (two
    /// files with the same dataset and method) are an error naming both files.
    pub fn plan(
        experiments: &[PathBuf],
        overlays: &[PathBuf],
        sets: &[String],
        seeds: usize,
        root: &Path,
    ) -> anyhow::Result<Grid> {
        if experiments.is_empty() || seeds == 0 {
            bail!("a grid needs at least one experiment file and one seed");
        }
        let mut runs: Vec<GridRun> = Vec::new();
        for k in 0..seeds {
            for file in experiments {
                let run = GridRun {
                    name: String::new(),
                    experiment: file.clone(),
                    overlays: overlays.to_vec(),
                    sets: sets.to_vec(),
                    seed_index: k,
                    dir: PathBuf::new(),
                };
                let exp = run.load(&[])?;
                let dir = run_dir(root, &exp, k);
                if let Some(other) = runs.iter().find(|r| r.dir == dir) {
                    bail!(
                        "{} and {} both run in {} (same dataset and method; give one a `name:`)",
                        other.experiment.display(),
                        file.display(),
                        dir.display()
                    );
                }
                let name = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
                runs.push(GridRun { name, dir, ..run });
            }
        }
        let cwd = std::env::current_dir().context("the working directory")?;
        Ok(Grid { cwd, root: root.to_path_buf(), runs })
    }

    /// `<root>/grid.json`.
    pub fn file(root: &Path) -> PathBuf {
        root.join("grid.json")
    }

    /// Writes `<root>/grid.json` (atomically).
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
        let path = Self::file(&self.root);
        iw_core::write_file_atomically(&path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(path)
    }

    /// Reads a grid.json (or the grid.json of a folder).
    pub fn read(path: &Path) -> anyhow::Result<Grid> {
        let file = if path.is_dir() { Self::file(path) } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a grid file", file.display()))
    }

    /// The grid on disk that the runs of `self` (a freshly planned grid) join, their indices in
    /// it, and its grid.json: `self` when the folder holds no grid or the same one; the grid on
    /// disk as it is when it already holds every run of `self` with the same settings; with
    /// `add`, the union (the runs on disk first, each keeping its own settings, then the new
    /// ones). Another grid without `add` is refused, naming both, and nothing is written.
    pub fn adopt(&self, add: bool) -> anyhow::Result<(Grid, Vec<usize>, PathBuf)> {
        let file = Self::file(&self.root);
        let old = if file.is_file() { Some(Self::read(&file)?) } else { None };
        let all: Vec<usize> = (0..self.runs.len()).collect();
        let Some(old) = old else {
            return Ok((self.clone(), all, self.write()?));
        };
        let same = |a: &GridRun, b: &GridRun| {
            a.name == b.name
                && self.resolve(&a.experiment) == old.resolve(&b.experiment)
                && a.overlays.iter().map(|p| self.resolve(p)).eq(b.overlays.iter().map(|p| old.resolve(p)))
                && a.sets == b.sets
                && a.seed_index == b.seed_index
        };
        if old.runs.len() == self.runs.len() && self.runs.iter().zip(&old.runs).all(|(a, b)| same(a, b)) {
            return Ok((self.clone(), all, self.write()?));
        }
        // This command's runs all in it already, with the same settings: nothing to change.
        let found: Option<Vec<usize>> = self.runs.iter().map(|r| old.runs.iter().position(|o| same(r, o))).collect();
        if let Some(indices) = found {
            return Ok((old, indices, file));
        }
        if !add {
            bail!(
                "{} holds another grid ({}) than this command's ({}): give another --out, or --add to add these runs to it",
                file.display(),
                old.describe(),
                self.describe()
            );
        }
        if old.cwd != self.cwd {
            bail!(
                "{}: its runs were planned in {}; run `--add` from there (this command runs in {})",
                file.display(),
                old.cwd.display(),
                self.cwd.display()
            );
        }
        let mut merged = old.clone();
        let mut indices = Vec::new();
        for r in &self.runs {
            match merged.runs.iter().position(|o| o.name == r.name) {
                Some(i) if same(r, &merged.runs[i]) => indices.push(i),
                Some(_) => bail!(
                    "{}: run {} is already in it with other settings (experiment, overlays, --set or seed); give one a `name:` or another --out",
                    file.display(),
                    r.name
                ),
                None => {
                    merged.runs.push(r.clone());
                    indices.push(merged.runs.len() - 1);
                }
            }
        }
        let path = merged.write()?;
        Ok((merged, indices, path))
    }

    /// A path of this grid, absolute (relative ones are relative to [`Grid::cwd`]).
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }

    /// Its experiment files and seeds, in a few words: `a.yaml, b.yaml x 2 seeds` (`+ ...` for
    /// overlays and sets that differ between runs are listed once each).
    pub fn describe(&self) -> String {
        let mut files: Vec<String> = Vec::new();
        let mut extras: Vec<String> = Vec::new();
        let mut seeds = 0;
        for r in &self.runs {
            let f = r.experiment.display().to_string();
            if !files.contains(&f) {
                files.push(f);
            }
            for e in r
                .overlays
                .iter()
                .map(|o| format!("--overlay {}", o.display()))
                .chain(r.sets.iter().map(|s| format!("--set {s}")))
            {
                if !extras.contains(&e) {
                    extras.push(e);
                }
            }
            seeds = seeds.max(r.seed_index + 1);
        }
        let mut t = format!("{} x {seeds} seed(s)", files.join(", "));
        if !extras.is_empty() {
            t += &format!(" with {}", extras.join(" "));
        }
        t
    }

    /// A run's folder as seen from the current directory.
    pub fn dir_of(&self, run: &GridRun) -> PathBuf {
        if run.dir.is_absolute() || std::env::current_dir().ok().as_deref() == Some(&self.cwd) {
            run.dir.clone()
        } else {
            self.cwd.join(&run.dir)
        }
    }

    /// Every run's state.
    pub fn states(&self) -> Vec<RunState> {
        self.runs.iter().map(|r| state_of(&self.dir_of(r))).collect()
    }

    /// The indices of the runs that are neither done nor running.
    pub fn todo(&self) -> Vec<usize> {
        self.states()
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, RunState::Pending | RunState::Failed(_)))
            .map(|(i, _)| i)
            .collect()
    }

    /// The table `iw grid status` prints ([`status::Status::table`]).
    pub fn status_table(&self) -> String {
        status::Status::collect(self, &mut status::Cache::default()).table()
    }

    /// Writes `<root>/grid-summary.md` (the status table) and returns it.
    pub fn write_summary(&self) -> anyhow::Result<String> {
        let t = self.status_table();
        iw_core::write_file_atomically(
            &self.root.join("grid-summary.md"),
            format!("# Grid summary\n\n```text\n{t}```\n").as_bytes(),
        )?;
        Ok(t)
    }
}

/// `iw grid run-one GRID --index I`: one run of a grid, in this process, under its lock. An
/// error is written into the run's run.json before it is returned; an interruption (Ctrl-C,
/// SIGTERM, SLURM's warning signal) leaves a checkpoint and no error, so the run stays pending.
/// `stages` runs the experiment in its folder (`iw_train::run_all`: this crate has no libtorch).
pub fn run_one(
    grid_file: &Path,
    index: usize,
    extra_sets: &[String],
    stages: fn(&crate::experiment::Experiment, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let grid = Grid::read(grid_file)?;
    let Some(run) = grid.runs.get(index) else {
        bail!("{}: no run {index} (the grid has {})", grid_file.display(), grid.runs.len());
    };
    std::env::set_current_dir(&grid.cwd).with_context(|| format!("entering {}", grid.cwd.display()))?;
    let _lock = lock::RunLock::acquire(&run.dir)?;
    if state_of_locked(&run.dir) {
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
    let result = run.load(extra_sets).and_then(|exp| stages(&exp, &run.dir));
    match result {
        Ok(()) => set_failure(&run.dir, None),
        Err(e) if crate::run::STOP.load(std::sync::atomic::Ordering::SeqCst) => {
            if REQUEUE.load(std::sync::atomic::Ordering::SeqCst) {
                requeue_self()?;
            }
            Err(e)
        }
        Err(e) => {
            let f = failure_now(format!("{e:#}"), Some(log_path(&run.dir)));
            if let Err(w) = set_failure(&run.dir, Some(f)) {
                eprintln!("warning: {w:#}");
            }
            Err(e)
        }
    }
}

/// Done, for a run whose lock this process holds.
fn state_of_locked(dir: &Path) -> bool {
    matches!(RunRecord::read_in(dir), Ok(Some(r)) if r.stages.contains_key("evaluate") && dir.join("test_metrics/prc_records.json").is_file())
}

/// The executor's options (`iw grid` and `iw reproduce`).
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// Child processes on this machine.
    Local(local::LocalOptions),
    /// A SLURM job array.
    Slurm(slurm::SlurmOptions),
}

/// Set by SIGUSR1 (SLURM's warning before the time limit): checkpoint, then requeue.
pub static REQUEUE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    // Only atomics: async-signal-safe.
    REQUEUE.store(true, std::sync::atomic::Ordering::SeqCst);
    crate::run::STOP.store(true, std::sync::atomic::Ordering::SeqCst);
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
        print!("{}", grid.write_summary()?);
        if out.interrupted {
            return Err(interrupted(grid));
        }
    }
    Completion::of(grid, indices, &slurm::Tasks::of(grid)).check(grid)
}

/// The error of a grid stopped by Ctrl-C (exit code 130).
pub fn interrupted(grid: &Grid) -> anyhow::Error {
    crate::interrupt::Interrupted(format!("rerun the same command to continue ({})", grid.root.display())).into()
}

/// Exit code: some runs failed, or did not run and nothing is running them (rerun the command).
pub const EXIT_FAILED: u8 = 3;
/// Exit code: no run failed, but some are still running (or queued) elsewhere: another process,
/// a SLURM array (`--wait` waits for them).
pub const EXIT_ELSEWHERE: u8 = 4;

/// The error of a command whose grid is not done: its message names the runs, its exit code is
/// [`EXIT_FAILED`] or [`EXIT_ELSEWHERE`].
#[derive(Debug)]
pub struct Unfinished {
    /// The exit code.
    pub code: u8,
    /// One line naming the runs and what to do.
    pub message: String,
}

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unfinished {}

/// The exit code an error asks for: [`Unfinished`]'s own, `None` for any other.
pub fn unfinished_code(e: &anyhow::Error) -> Option<u8> {
    e.chain().find_map(|c| c.downcast_ref::<Unfinished>()).map(|u| u.code)
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
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let path = Self::path(root);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
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
