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

/// Writes and submits the array for the runs of `grid` that are neither done nor running, then
/// the report job (`report`, a shell command line run in the grid's working directory).
pub fn submit(grid: &Grid, grid_file: &Path, o: &SlurmOptions, report: &str) -> anyhow::Result<Submission> {
    let exe = std::env::current_exe().context("finding the iw binary")?;
    let grid_file = std::path::absolute(grid_file).with_context(|| grid_file.display().to_string())?;
    let states = grid.states();
    let todo: Vec<usize> =
        (0..grid.runs.len()).filter(|&i| matches!(states[i], RunState::Pending | RunState::Failed(_))).collect();
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

/// The current executable, quoted for a script line.
pub fn exe_quoted() -> anyhow::Result<String> {
    Ok(quote(&std::env::current_exe().context("finding the iw binary")?.display().to_string()))
}

/// A shell word.
pub fn shell_quote(s: &str) -> String {
    quote(s)
}
