//! The local executor: the grid's runs as child processes of this binary (`iw grid run-one`),
//! `jobs` at a time, each on its own device slot, its stdout and stderr in `<run>/grid.log`.
//! A crash of one run (even an abort inside libtorch) cannot take the others down.
use super::{state_of, Grid, RunState};
use anyhow::Context;
use iw_run::interrupt::STOP;
use iw_run::progress::bar;
use iw_run::{set_failure, RunFailure};
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `--jobs`, `--devices`, `--threads`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalOptions {
    /// Runs at once (at least 1); `None`: [`default_jobs`].
    pub jobs: Option<usize>,
    /// Devices, one per job slot, round robin (`cuda:0,cuda:1`); empty: the experiments' own.
    pub devices: Vec<String>,
    /// libtorch threads per run; `None`: the experiments' own `training.threads`.
    pub threads: Option<i32>,
}

/// The number of runs at once when `--jobs` is not given: one per `--devices` entry; else, when
/// every run to do trains on the CPU, as many as the machine's cores hold at the runs' libtorch
/// threads each (`--threads`, else the largest `training.threads`, all cores when unset); else (a GPU
/// run without --devices) 1. `auto` counts as the CPU where [`iw_run::resources::nvidia_devices`]
/// finds no GPU (this process has no libtorch to ask). Measured on 2 cores (BENCHMARKS.md): 2
/// runs x 1 thread finish the CPU-scale LiTS grid 1.41x sooner than 1 run x 2 threads; small
/// networks use threads poorly.
pub fn default_jobs(grid: &Grid, todo: &[usize], opts: &LocalOptions) -> anyhow::Result<usize> {
    if !opts.devices.is_empty() {
        return Ok(opts.devices.len());
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut threads = opts.threads.unwrap_or(1).max(1) as usize;
    for &i in todo {
        let exp = grid.runs[i].load(&[])?;
        let device = exp.training.device.to_ascii_lowercase();
        if !(device == "cpu" || device == "auto" && iw_run::resources::nvidia_devices() == 0) {
            return Ok(1);
        }
        if opts.threads.is_none() {
            // Unset: libtorch takes every core.
            threads = threads.max(exp.training.threads.map_or(cores, |t| t.max(1) as usize));
        }
    }
    Ok((cores / threads).clamp(1, todo.len().max(1)))
}

impl LocalOptions {
    /// The `--set` overrides a run in job slot `slot` gets.
    pub fn sets_for(&self, slot: usize) -> Vec<String> {
        let mut s = Vec::new();
        if let Some(t) = self.threads {
            s.push(format!("training.threads={t}"));
        }
        if !self.devices.is_empty() {
            s.push(format!("training.device={}", self.devices[slot % self.devices.len()]));
        }
        s
    }
}

/// What a local execution did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Runs that finished in this call.
    pub finished: usize,
    /// Runs that failed in this call: (name, error).
    pub failed: Vec<(String, String)>,
    /// Runs another process was running (left alone; waited for with `--wait`).
    pub busy: Vec<String>,
    /// Stopped by Ctrl-C before every run was tried.
    pub interrupted: bool,
}

struct Running {
    index: usize,
    slot: usize,
    child: Child,
    started: Instant,
}

/// Runs every run of `indices` (of `grid`, grid.json at `grid_file`) that is neither done nor
/// running. Runs held by another process are skipped; with `wait`, their locks are polled (every
/// second) until they end: done or failed there, or left pending (that process was stopped),
/// in which case this call runs them.
pub fn execute(
    grid: &Grid,
    grid_file: &Path,
    indices: &[usize],
    opts: &LocalOptions,
    wait: bool,
) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("finding the iw binary")?;
    let grid_file = std::path::absolute(grid_file).with_context(|| grid_file.display().to_string())?;
    let mut out = Outcome::default();
    let mut todo = Vec::new();
    let mut waiting = Vec::new();
    let mut done = 0;
    for &i in indices {
        match state_of(&grid.dir_of(&grid.runs[i])) {
            RunState::Running(who) => {
                out.busy.push(format!("{} ({who})", grid.runs[i].name));
                waiting.push(i);
            }
            RunState::Pending | RunState::Failed(_) => todo.push(i),
            RunState::Done => done += 1,
        }
    }
    let jobs = match opts.jobs {
        Some(j) => j.max(1),
        None => default_jobs(grid, &todo, opts)?,
    };
    println!(
        "grid {}: {} runs, {done} done, {} running elsewhere, {} to run, {jobs} at a time{}{}",
        grid.root.display(),
        indices.len(),
        out.busy.len(),
        todo.len(),
        opts.threads.map(|t| format!(", {t} libtorch thread(s) each")).unwrap_or_default(),
        if opts.devices.is_empty() { String::new() } else { format!(", devices {}", opts.devices.join(",")) }
    );
    let verb = if wait { "waiting for it, running elsewhere" } else { "skipped, running elsewhere" };
    for b in &out.busy {
        println!("  {verb}: {b}");
    }
    if !wait {
        waiting.clear();
    }
    if todo.is_empty() && waiting.is_empty() {
        return Ok(out);
    }
    let pb = bar((todo.len() + waiting.len()) as u64, "grid");
    let mut queue: std::collections::VecDeque<usize> = todo.into();
    let mut free: Vec<usize> = (0..jobs).rev().collect();
    let mut running: Vec<Running> = Vec::new();
    let mut forwarded = false;
    let mut polled = Instant::now();
    loop {
        if !waiting.is_empty() && polled.elapsed() >= Duration::from_secs(1) {
            polled = Instant::now();
            waiting.retain(|&i| {
                let run = &grid.runs[i];
                match state_of(&grid.dir_of(run)) {
                    RunState::Running(_) => return true,
                    RunState::Done => pb.println(format!("done elsewhere {}", run.name)),
                    RunState::Failed(e) => pb.println(format!("failed elsewhere {}: {e}", run.name)),
                    RunState::Pending => {
                        // Its process stopped without finishing it: run it here.
                        pb.println(format!("released unfinished {}: running it here", run.name));
                        queue.push_back(i);
                        return false;
                    }
                }
                pb.inc(1);
                false
            });
        }
        while !STOP.load(Ordering::SeqCst) && !free.is_empty() {
            let Some(index) = queue.pop_front() else { break };
            let slot = free.pop().expect("checked non-empty");
            match spawn(grid, &grid_file, &exe, index, opts.sets_for(slot), slot) {
                Ok(child) => running.push(Running { index, slot, child, started: Instant::now() }),
                Err(e) => {
                    // Cannot even start (no disk space, no binary): the run fails alone.
                    free.push(slot);
                    let msg = format!("{e:#}");
                    let dir = grid.dir_of(&grid.runs[index]);
                    let _ = set_failure(&dir, Some(RunFailure::now(msg.clone(), None)));
                    pb.println(format!("failed {}: {msg}", grid.runs[index].name));
                    out.failed.push((grid.runs[index].name.clone(), msg));
                    pb.inc(1);
                }
            }
        }
        let stopping = STOP.load(Ordering::SeqCst);
        if running.is_empty() && (stopping || (queue.is_empty() && waiting.is_empty())) {
            break;
        }
        if stopping && !forwarded {
            // Ctrl-C reaches the whole foreground process group from a terminal, but a SIGINT
            // sent to this process alone (kill, a scheduler) must reach the runs too: each
            // writes its checkpoint and stops.
            for r in &running {
                // SAFETY: kill(2) on the pid of a child we started and have not reaped.
                unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGINT) };
            }
            forwarded = true;
        }
        let mut msg: Vec<&str> = running.iter().map(|r| grid.runs[r.index].name.as_str()).collect();
        let held = format!("waiting for {} held elsewhere", waiting.len());
        if !waiting.is_empty() {
            msg.push(&held);
        }
        pb.set_message(format!("running {}", msg.join(", ")));
        std::thread::sleep(Duration::from_millis(200));
        let mut k = 0;
        while k < running.len() {
            let status = running[k].child.try_wait().context("waiting for a run")?;
            let Some(status) = status else {
                k += 1;
                continue;
            };
            let r = running.swap_remove(k);
            free.push(r.slot);
            let run = &grid.runs[r.index];
            let dir = grid.dir_of(run);
            let minutes = r.started.elapsed().as_secs_f64() / 60.0;
            let state = state_of(&dir);
            if status.success() && state == RunState::Done {
                pb.println(format!("done {} ({minutes:.1} min)", run.name));
                out.finished += 1;
                pb.inc(1);
                continue;
            }
            if let RunState::Running(who) = state {
                // Another executor took the run between our look and our child's lock.
                pb.println(format!("taken by another process: {} ({who})", run.name));
                if wait {
                    waiting.push(r.index);
                } else {
                    out.busy.push(format!("{} ({who})", run.name));
                    pb.inc(1);
                }
                continue;
            }
            if STOP.load(Ordering::SeqCst) && !matches!(state, RunState::Failed(_)) {
                pb.println(format!("interrupted {} (checkpoint kept; rerun to resume)", run.name));
                continue;
            }
            let msg = match state {
                RunState::Failed(e) => e,
                _ => {
                    // It died without writing its error (killed, aborted): say how, and where the log is.
                    let log = dir.grid_log();
                    let last = std::fs::read_to_string(&log)
                        .ok()
                        .and_then(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string))
                        .unwrap_or_default();
                    let msg = format!("the run's process ended with {status}; last line of {}: {last}", log.display());
                    set_failure(&dir, Some(RunFailure::now(msg.clone(), Some(log))))?;
                    msg
                }
            };
            pb.println(format!("failed {} ({minutes:.1} min): {msg}", run.name));
            out.failed.push((run.name.clone(), msg));
            pb.inc(1);
        }
    }
    out.interrupted = STOP.load(Ordering::SeqCst);
    pb.finish_and_clear();
    Ok(out)
}

fn spawn(
    grid: &Grid,
    grid_file: &Path,
    exe: &Path,
    index: usize,
    sets: Vec<String>,
    slot: usize,
) -> anyhow::Result<Child> {
    let dir = grid.dir_of(&grid.runs[index]);
    std::fs::create_dir_all(dir.path()).with_context(|| format!("creating {}", dir.path().display()))?;
    let log = dir.grid_log();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    writeln!(f, "=== local executor, job slot {slot}, started {now} (Unix s), sets {sets:?}")?;
    let mut cmd = Command::new(exe);
    cmd.arg("grid").arg("run-one").arg(grid_file).arg("--index").arg(index.to_string());
    for s in &sets {
        cmd.arg("--set").arg(s);
    }
    cmd.stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
    cmd.spawn().with_context(|| format!("starting {}", exe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridRun;

    fn grid(sets: &[&str], runs: usize) -> Grid {
        let root = std::path::PathBuf::from("../../experiments");
        Grid {
            cwd: root.clone(),
            root: std::env::temp_dir(),
            runs: (0..runs)
                .map(|k| GridRun {
                    name: format!("lits/bce/experiment_{k}"),
                    experiment: root.join("lits/bce.yaml"),
                    overlays: vec![root.join("scales/cpu.yaml")],
                    sets: sets.iter().map(|s| s.to_string()).collect(),
                    seed_index: k,
                    dir: std::env::temp_dir().join(format!("iw-default-jobs-{k}")),
                })
                .collect(),
        }
    }

    #[test]
    fn default_jobs_splits_the_cores_among_cpu_runs() {
        let cores = std::thread::available_parallelism().unwrap().get();
        let none = LocalOptions::default();
        let todo: Vec<usize> = (0..3).collect();
        // cpu.yaml: one thread per run.
        assert_eq!(default_jobs(&grid(&[], 3), &todo, &none).unwrap(), cores.min(3));
        // As many threads as cores: one run at a time.
        let t = format!("training.threads={cores}");
        assert_eq!(default_jobs(&grid(&[&t], 3), &todo, &none).unwrap(), 1);
        // --threads wins over the experiments' own.
        let two = LocalOptions { threads: Some(2), ..Default::default() };
        assert_eq!(default_jobs(&grid(&[], 3), &todo, &two).unwrap(), (cores / 2).clamp(1, 3));
        // Never more than the runs to do; --devices: one per device.
        assert_eq!(default_jobs(&grid(&[], 3), &todo[..1], &none).unwrap(), 1);
        let dev = LocalOptions { devices: vec!["cuda:0".into(), "cuda:1".into()], ..Default::default() };
        assert_eq!(default_jobs(&grid(&[], 3), &todo, &dev).unwrap(), 2);
    }

    #[test]
    fn default_jobs_is_one_for_a_gpu_run_without_devices() {
        let g = grid(&["training.device=cuda:0"], 2);
        assert_eq!(default_jobs(&g, &[0, 1], &LocalOptions::default()).unwrap(), 1);
    }
}
