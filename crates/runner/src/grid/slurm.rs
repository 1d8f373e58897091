//! The SLURM executor: one job array for the runs that are not done (`%K` throttle), one report
//! job that runs after it whatever happened (`--dependency=afterany`), both written as readable
//! sbatch scripts under `<root>/slurm/` and submitted with `sbatch --parsable`. Each array task
//! runs one run (`iw grid run-one`) with this binary, appending to `<run>/grid.log`.
//!
//! Time limits and preemption, as submitit does: each task asks for `SIGUSR1` a while before its
//! time limit (`--signal=B:USR1@S`; the batch shell *is* iw, by `exec`); iw then writes a
//! checkpoint at the next step and requeues its own task (`scontrol requeue`), which resumes from
//! the checkpoint to the same result as an uninterrupted run. Rerunning the submitting command
//! after failures or cancellations submits only the runs that are not done.
use super::{Grid, RunState};
use anyhow::{bail, Context};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `--partition`, `--gres`, `--time`, ... (`None`: the cluster's default).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gres`, e.g. `gpu:1`.
    pub gres: Option<String>,
    /// `--time HH:MM:SS` per task.
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--mem`, e.g. `16G`.
    pub mem: Option<String>,
    /// Array tasks at once (`%K`).
    pub max_parallel: Option<usize>,
    /// Seconds before the time limit at which a task checkpoints and requeues itself.
    pub signal_before_s: u64,
    /// Extra `#SBATCH` lines, verbatim (`--slurm-arg '--account=abc'`).
    pub extra: Vec<String>,
    /// libtorch threads per task (default: `--cpus-per-task` when given).
    pub threads: Option<i32>,
}

/// What was submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The array's job id (`None`: every run was done or running; nothing submitted).
    pub array_job: Option<String>,
    /// The report job's id.
    pub report_job: Option<String>,
    /// Grid indices of the runs the array runs.
    pub runs: Vec<usize>,
}

/// The folder of the scripts and SLURM's own logs.
pub fn slurm_dir(root: &Path) -> PathBuf {
    root.join("slurm")
}

fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn header(t: &mut String, name: &str, grid: &Grid, o: &SlurmOptions) {
    let _ = writeln!(t, "#SBATCH --job-name={name}");
    let _ = writeln!(t, "#SBATCH --chdir={}", quote(&grid.cwd.display().to_string()));
    for (flag, v) in [("partition", &o.partition), ("gres", &o.gres), ("time", &o.time), ("mem", &o.mem)] {
        if let Some(v) = v {
            let _ = writeln!(t, "#SBATCH --{flag}={v}");
        }
    }
    if let Some(c) = o.cpus_per_task {
        let _ = writeln!(t, "#SBATCH --cpus-per-task={c}");
    }
    for e in &o.extra {
        let _ = writeln!(t, "#SBATCH {e}");
    }
}

/// The array script for the runs `todo` of `grid` (grid.json at `grid_file`).
pub fn array_script(grid: &Grid, grid_file: &Path, exe: &Path, todo: &[usize], o: &SlurmOptions) -> String {
    let mut t = String::from("#!/bin/bash\n");
    let _ = writeln!(
        t,
        "# Written by iw {} (`iw grid` / `iw reproduce --executor slurm`): one array task per run of\n# {} that was neither done nor running at submission. Each task appends its output to\n# <run folder>/grid.log; SLURM's own messages go to slurm/task-<array job>_<task>.out.",
        env!("CARGO_PKG_VERSION"),
        grid_file.display()
    );
    header(&mut t, "iw-grid", grid, o);
    let ids: Vec<String> = todo.iter().map(|i| i.to_string()).collect();
    let throttle = o.max_parallel.map(|k| format!("%{k}")).unwrap_or_default();
    let _ = writeln!(t, "#SBATCH --array={}{throttle}", ids.join(","));
    let _ = writeln!(t, "#SBATCH --output={}", slurm_dir(&grid.root).join("task-%A_%a.out").display());
    let _ = writeln!(t, "#SBATCH --requeue");
    let _ = writeln!(
        t,
        "# SIGUSR1 to iw {}s before the time limit: checkpoint, then requeue this task.",
        o.signal_before_s
    );
    let _ = writeln!(t, "#SBATCH --signal=B:USR1@{}", o.signal_before_s);
    t += "\nset -euo pipefail\ncase \"$SLURM_ARRAY_TASK_ID\" in\n";
    for &i in todo {
        let _ = writeln!(t, "  {i}) RUN={} ;;", quote(&grid.runs[i].dir.display().to_string()));
    }
    t += "  *) echo \"no run $SLURM_ARRAY_TASK_ID in this grid\" >&2; exit 2 ;;\nesac\nmkdir -p \"$RUN\"\n";
    t += "echo \"=== slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -u +%FT%TZ)\" >>\"$RUN/grid.log\"\n";
    let threads = o.threads.or(o.cpus_per_task.map(|c| c as i32));
    let sets = threads.map(|t| format!(" --set training.threads={t}")).unwrap_or_default();
    let _ = writeln!(
        t,
        "exec {} grid run-one {} --index \"$SLURM_ARRAY_TASK_ID\"{sets} >>\"$RUN/grid.log\" 2>&1",
        quote(&exe.display().to_string()),
        quote(&grid_file.display().to_string())
    );
    t
}

/// The report script: `report` (a shell command line) after the array, whatever its tasks did.
pub fn report_script(grid: &Grid, array_job: &str, report: &str, o: &SlurmOptions) -> String {
    let mut t = String::from("#!/bin/bash\n");
    let _ = writeln!(
        t,
        "# Written by iw {}: the grid's summary and report once array job {array_job} has ended\n# (afterany: also when some of its tasks failed or were cancelled).",
        env!("CARGO_PKG_VERSION")
    );
    let o = SlurmOptions { gres: None, time: None, ..o.clone() };
    header(&mut t, "iw-grid-report", grid, &o);
    let _ = writeln!(t, "#SBATCH --dependency=afterany:{array_job}");
    let _ = writeln!(t, "#SBATCH --output={}", slurm_dir(&grid.root).join("report-%j.out").display());
    let _ = writeln!(t, "\nset -euo pipefail\n{report}");
    t
}

fn sbatch(script: &Path) -> anyhow::Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .context("running sbatch (is this a SLURM login node?)")?;
    if !out.status.success() {
        bail!("sbatch {}: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch {}: unexpected answer {text:?}", script.display());
    }
    Ok(id)
}

/// Writes and submits the array for the runs `indices` of `grid` that are neither done nor
/// running nor queued in SLURM, then the report job (`report`, a shell command line run in the
/// grid's working directory).
pub fn submit(
    grid: &Grid,
    grid_file: &Path,
    indices: &[usize],
    o: &SlurmOptions,
    report: &str,
) -> anyhow::Result<Submission> {
    let exe = std::env::current_exe().context("finding the iw binary")?;
    let grid_file = std::path::absolute(grid_file).with_context(|| grid_file.display().to_string())?;
    let tasks = Tasks::of(grid);
    let todo: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            matches!(super::state_of(&grid.dir_of(&grid.runs[i])), RunState::Pending | RunState::Failed(_))
                && !tasks.get(i).is_some_and(Task::active)
        })
        .collect();
    let dir = slurm_dir(&grid.root);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if todo.is_empty() {
        return Ok(Submission { array_job: None, report_job: None, runs: todo });
    }
    let array = dir.join("array.sbatch");
    iw_core::write_file_atomically(&array, array_script(grid, &grid_file, &exe, &todo, o).as_bytes())?;
    let array_job = sbatch(&array)?;
    let rep = dir.join("report.sbatch");
    iw_core::write_file_atomically(&rep, report_script(grid, &array_job, report, o).as_bytes())?;
    let report_job = sbatch(&rep)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let line = format!(
        "{now} array {array_job} report {report_job} runs {}\n",
        todo.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("jobs.txt"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .with_context(|| format!("writing {}", dir.join("jobs.txt").display()))?;
    Ok(Submission { array_job: Some(array_job), report_job: Some(report_job), runs: todo })
}

/// One array task of a run, as SLURM last reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Task {
    /// `<array job>_<task>` (the task number is the run's index in grid.json).
    pub id: String,
    /// SLURM's state word (`PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, `FAILED`, ...), or
    /// `ENDED` when the task has left the queue and SLURM keeps no record of it (no accounting).
    pub state: String,
}

impl Task {
    /// Whether SLURM still holds it (queued, running, requeued, suspended, ...).
    pub fn active(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "COMPLETED"
                | "CANCELLED"
                | "FAILED"
                | "TIMEOUT"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "OUT_OF_MEMORY"
                | "SPECIAL_EXIT"
                | "REVOKED"
                | "ENDED"
        )
    }
}

/// The SLURM tasks of a grid's runs: for each run, the task of the last array that ran it
/// (`<root>/slurm/jobs.txt`), its state from `squeue` (which keeps ended jobs a few minutes), else
/// `sacct`; empty for a grid never submitted to SLURM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tasks {
    by_run: std::collections::BTreeMap<usize, Task>,
    /// The last report job.
    pub report: Option<Task>,
    /// Why SLURM could not be asked (no `squeue` here, the controller unreachable).
    pub error: Option<String>,
}

impl Tasks {
    /// The tasks of `grid` (no SLURM call when it was never submitted).
    pub fn of(grid: &Grid) -> Tasks {
        let mut t = Tasks::default();
        let Ok(text) = std::fs::read_to_string(slurm_dir(&grid.root).join("jobs.txt")) else { return t };
        let mut jobs: Vec<String> = Vec::new();
        let mut report = None;
        let mut ids: std::collections::BTreeMap<usize, String> = Default::default();
        for line in text.lines() {
            // `<unix> array <A> report <R> runs <i,j,...>`
            let w: Vec<&str> = line.split_whitespace().collect();
            let (Some(a), Some(r), Some(runs)) = (w.get(2), w.get(4), w.get(6)) else { continue };
            if w.get(1) != Some(&"array") || !a.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            for i in runs.split(',').filter_map(|i| i.parse::<usize>().ok()) {
                ids.insert(i, format!("{a}_{i}"));
            }
            jobs.push(a.to_string());
            report = Some(r.to_string());
        }
        if let Some(r) = &report {
            jobs.push(r.clone());
        }
        if jobs.is_empty() {
            return t;
        }
        let mut states: std::collections::BTreeMap<String, String> = Default::default();
        let list = jobs.join(",");
        let squeue =
            |ids: &str| Command::new("squeue").args(["-h", "-r", "-t", "all", "-j", ids, "-o", "%i %T"]).output();
        let mut answers = Vec::new();
        match squeue(&list) {
            Ok(o) if o.status.success() => answers.push(o.stdout),
            // A job SLURM has forgotten (older than MinJobAge) fails the whole list: ask one by one.
            Ok(o) if String::from_utf8_lossy(&o.stderr).contains("Invalid job id") => {
                for j in &jobs {
                    match squeue(j) {
                        Ok(o) if o.status.success() => answers.push(o.stdout),
                        _ => {}
                    }
                }
            }
            Ok(o) => t.error = Some(format!("squeue: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => t.error = Some(format!("squeue: {e}")),
        }
        for a in &answers {
            for l in String::from_utf8_lossy(a).lines() {
                if let Some((id, st)) = l.trim().split_once(' ') {
                    states.insert(id.to_string(), st.trim().to_string());
                }
            }
        }
        let known = |id: &str, states: &std::collections::BTreeMap<String, String>| states.contains_key(id);
        if t.error.is_none()
            && (ids.values().any(|id| !known(id, &states)) || report.as_ref().is_some_and(|r| !known(r, &states)))
        {
            // Left the queue: accounting has the final state, where there is accounting.
            if let Ok(o) = Command::new("sacct").args(["-n", "-P", "-X", "-j", &list, "-o", "JobID,State"]).output() {
                if o.status.success() {
                    for l in String::from_utf8_lossy(&o.stdout).lines() {
                        if let Some((id, st)) = l.trim().split_once('|') {
                            let word = st.split_whitespace().next().unwrap_or("").to_string();
                            states.entry(id.to_string()).or_insert(word);
                        }
                    }
                }
            }
        }
        if t.error.is_some() {
            return t;
        }
        let task = |id: String| {
            let state = states.get(&id).cloned().unwrap_or_else(|| "ENDED".into());
            Task { id, state }
        };
        t.by_run = ids.into_iter().map(|(i, id)| (i, task(id))).collect();
        t.report = report.map(task);
        t
    }

    /// The task of run `index`.
    pub fn get(&self, index: usize) -> Option<&Task> {
        self.by_run.get(&index)
    }

    /// Whether any task (or the report job) is still held by SLURM.
    pub fn any_active(&self) -> bool {
        self.by_run.values().chain(&self.report).any(Task::active)
    }
}

/// `--wait` after a submission: polls (every 2 s) until no run of `indices` is running or
/// queued and the report job has ended; a progress bar counts the runs done.
pub fn wait(grid: &Grid, indices: &[usize], _submission: &Submission) -> anyhow::Result<()> {
    let pb = iw_run::progress::bar(indices.len() as u64, "grid (SLURM)");
    loop {
        let tasks = Tasks::of(grid);
        if let Some(e) = &tasks.error {
            pb.abandon();
            bail!("--wait: cannot ask SLURM about {}: {e}", grid.root.display());
        }
        let c = super::Completion::of(grid, indices, &tasks);
        pb.set_position((c.done.len() + c.failed.len()) as u64);
        pb.set_message(format!("{} running or queued", c.elsewhere.len()));
        if c.elsewhere.is_empty() && !tasks.report.as_ref().is_some_and(Task::active) {
            pb.finish_and_clear();
            return Ok(());
        }
        if iw_run::interrupt::requested() {
            pb.abandon();
            return Err(iw_run::interrupt::Interrupted(format!(
                "stopped waiting; the SLURM jobs go on (`iw grid status {} --watch`)",
                grid.root.display()
            ))
            .into());
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// The current executable, quoted for a script line.
pub fn exe_quoted() -> anyhow::Result<String> {
    Ok(quote(&std::env::current_exe().context("finding the iw binary")?.display().to_string()))
}

/// A shell word.
pub fn shell_quote(s: &str) -> String {
    quote(s)
}
