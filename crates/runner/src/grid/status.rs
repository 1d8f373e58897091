//! `iw grid status`: where every run of a grid stands, read from its folder (train_log.csv,
//! validation_log.csv, run.json, its lock) and, for a SLURM grid, from SLURM ([`slurm::Tasks`]).
//!
//! Per run: state, step and epochs done of the total, the latest training loss and learning
//! rate, the latest validation values (whole-volume ones when the run logs them, else the patch
//! Dice), the work time so far, an ETA from its own step times, host and pid while it runs, the
//! first line of its error when it failed, and its SLURM task's state. Totals: counts, and an
//! ETA for the grid at the current parallelism. [`Status`] serialises as the `--json` schema
//! (`crates/runner/grid-status.schema.json`, described in the README); [`watch`] redraws it.
use super::{slurm, state_of, ExecutorLock, Grid, RunState};
use crate::grid::time::{duration, local, now_unix};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The `schema` value of `--json` (bumped when a field changes meaning or goes away).
pub const SCHEMA: &str = "iw-grid-status/1";

/// How many of the last logged steps the step time of an ETA averages.
const RECENT_STEPS: usize = 50;

/// `iw grid status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The grid's folder.
    pub root: String,
    /// When this was read: Unix seconds, and in the local zone.
    pub now_unix: u64,
    /// `now_unix` in the local zone.
    pub now: String,
    /// Counts and the grid's ETA.
    pub totals: Totals,
    /// One entry per run of grid.json, in its order.
    pub runs: Vec<RunStatus>,
    /// Why SLURM could not be asked (a SLURM grid only).
    pub slurm_error: Option<String>,
}

/// The grid as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Runs in grid.json.
    pub runs: usize,
    /// Done.
    pub done: usize,
    /// Held by a live process.
    pub running: usize,
    /// Failed (their last attempt).
    pub failed: usize,
    /// Neither (not started, or stopped without an error).
    pub pending: usize,
    /// Pending runs whose SLURM task is queued.
    pub queued: usize,
    /// Whether a local executor (`iw grid`, `iw reproduce`) of this grid is alive.
    pub executor_alive: bool,
    /// The runs at once the ETA assumes: those running now (at least 1).
    pub parallelism: usize,
    /// Seconds until every run that is running or will run (pending under a live executor or a
    /// queued SLURM task) has ended; `null` when unknown (no step time yet) or nothing runs.
    pub eta_s: Option<f64>,
    /// `now_unix + eta_s`.
    pub eta_unix: Option<u64>,
    /// `eta_unix` in the local zone.
    pub eta: Option<String>,
    /// Nothing runs or will run: no run held, no live executor, no SLURM task or report job
    /// queued or running. `--watch` stops here.
    pub ended: bool,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    /// Its index in grid.json.
    pub index: usize,
    /// `<dataset>/<method>/experiment_<k>`.
    pub name: String,
    /// Its folder.
    pub dir: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: &'static str,
    /// Training steps done (rows of train_log.csv).
    pub step: Option<u64>,
    /// Training steps in all (`training.epochs` x `training.iterations`).
    pub total_steps: Option<u64>,
    /// Epochs done.
    pub epoch: Option<u64>,
    /// `training.epochs`.
    pub total_epochs: Option<u64>,
    /// The last logged training loss.
    pub train_loss: Option<f64>,
    /// The last logged learning rate.
    pub lr: Option<f64>,
    /// The last validation row, and the last whole-volume validation.
    pub validation: Option<ValidationStatus>,
    /// Seconds of work so far: the finished stages' wall times (run.json) and, while training
    /// is not finished, its logged step times.
    pub elapsed_s: f64,
    /// Seconds it still needs (running, pending): the steps left times the mean of its last
    /// logged step times (the grid's when it has none), plus the mean predict and evaluate time
    /// of the grid's finished runs. `null` when no step time is known.
    pub remaining_s: Option<f64>,
    /// A running run's expected end, `now_unix + remaining_s`.
    pub eta_unix: Option<u64>,
    /// `eta_unix` in the local zone.
    pub eta: Option<String>,
    /// The host of the process that holds it (running).
    pub host: Option<String>,
    /// That process's id.
    pub pid: Option<u32>,
    /// When that process took it, Unix seconds.
    pub started_unix: Option<u64>,
    /// `started_unix` in the local zone.
    pub started: Option<String>,
    /// The first line of the error of its last attempt (failed).
    pub error: Option<String>,
    /// Its SLURM array task (a SLURM grid).
    pub slurm: Option<slurm::Task>,
}

/// The latest validation values of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValidationStatus {
    /// Epoch of the last row of validation_log.csv.
    pub epoch: Option<u64>,
    /// Its step.
    pub step: Option<u64>,
    /// Its validation loss (patches).
    pub loss: Option<f64>,
    /// Its patch Dice.
    pub dice: Option<f64>,
    /// The last row with whole-volume values (`volume_dice`, ...), if the run logs them.
    pub whole_volume: Option<WholeVolume>,
}

/// Whole-volume validation values of one row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WholeVolume {
    /// Its epoch.
    pub epoch: Option<u64>,
    /// Its step.
    pub step: Option<u64>,
    /// Dice over whole validation volumes.
    pub dice: Option<f64>,
    /// False-positive components per case.
    pub fp_per_case: Option<f64>,
    /// Predicted over true lesion volume.
    pub volume_ratio: Option<f64>,
}

/// One row of train_log.csv, by header name.
#[derive(Debug, Clone, Deserialize)]
struct TrainRow {
    step: u64,
    epoch: Option<u64>,
    lr: Option<f64>,
    loss: Option<f64>,
    seconds: Option<f64>,
}

/// One row of validation_log.csv, by header name; the whole-volume columns may be absent or
/// empty.
#[derive(Debug, Clone, Deserialize)]
struct ValidationRow {
    epoch: Option<u64>,
    step: Option<u64>,
    loss: Option<f64>,
    dice: Option<f64>,
    #[serde(default)]
    volume_dice: Option<f64>,
    #[serde(default)]
    fp_per_case: Option<f64>,
    #[serde(default)]
    volume_ratio: Option<f64>,
}

/// What a train log says.
#[derive(Debug, Clone, Default)]
struct TrainSummary {
    rows: u64,
    last: Option<TrainRow>,
    seconds: f64,
    recent_step_s: Option<f64>,
}

/// Parsed logs and experiment totals kept between the redraws of `--watch`, re-read only when a
/// file's size or modification time changes.
#[derive(Debug, Default)]
pub struct Cache {
    train: HashMap<PathBuf, (u64, std::time::SystemTime, TrainSummary)>,
    validation: HashMap<PathBuf, (u64, std::time::SystemTime, Option<ValidationStatus>)>,
    totals: HashMap<usize, Option<(u64, u64, u64)>>,
}

fn stamp(p: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// The rows of a CSV file that parse, by header name (a row being written, shorter than the
/// header, is skipped).
fn rows<T: for<'de> Deserialize<'de>>(p: &Path) -> Vec<T> {
    let Ok(bytes) = std::fs::read(p) else { return Vec::new() };
    let mut r = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    r.deserialize().filter_map(Result::ok).collect()
}

impl Cache {
    fn train(&mut self, p: &Path) -> TrainSummary {
        let Some((len, time)) = stamp(p) else { return TrainSummary::default() };
        if let Some((l, t, s)) = self.train.get(p) {
            if (*l, *t) == (len, time) {
                return s.clone();
            }
        }
        let all: Vec<TrainRow> = rows(p);
        let recent: Vec<f64> = all.iter().rev().filter_map(|r| r.seconds).take(RECENT_STEPS).collect();
        let s = TrainSummary {
            // Steps done: the last logged step's number + 1 (the log starts at step 0).
            rows: all.last().map_or(0, |r| r.step + 1),
            seconds: all.iter().filter_map(|r| r.seconds).filter(|s| s.is_finite()).sum(),
            recent_step_s: (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64),
            last: all.into_iter().last(),
        };
        self.train.insert(p.to_path_buf(), (len, time, s.clone()));
        s
    }

    fn validation(&mut self, p: &Path) -> Option<ValidationStatus> {
        let (len, time) = stamp(p)?;
        if let Some((l, t, v)) = self.validation.get(p) {
            if (*l, *t) == (len, time) {
                return v.clone();
            }
        }
        let all: Vec<ValidationRow> = rows(p);
        let v = all.last().map(|last| ValidationStatus {
            epoch: last.epoch,
            step: last.step,
            loss: last.loss,
            dice: last.dice,
            whole_volume: all.iter().rev().find(|r| r.volume_dice.is_some()).map(|r| WholeVolume {
                epoch: r.epoch,
                step: r.step,
                dice: r.volume_dice,
                fp_per_case: r.fp_per_case,
                volume_ratio: r.volume_ratio,
            }),
        });
        self.validation.insert(p.to_path_buf(), (len, time, v.clone()));
        v
    }

    /// (total steps, epochs, iterations per epoch) of run `i`, from its experiment.
    fn totals(&mut self, grid: &Grid, i: usize) -> Option<(u64, u64, u64)> {
        *self.totals.entry(i).or_insert_with(|| {
            let exp = grid.runs[i].load(&[]).ok()?;
            let t = &exp.training;
            Some(((t.epochs * t.iterations) as u64, t.epochs as u64, t.iterations.max(1) as u64))
        })
    }
}

/// `pid 123 host h since 1796410942` (a lock file's text).
fn holder(text: &str) -> (Option<u32>, Option<String>, Option<u64>) {
    let w: Vec<&str> = text.split_whitespace().collect();
    let after = |k: &str| w.iter().position(|x| *x == k).and_then(|i| w.get(i + 1)).map(|s| s.to_string());
    (after("pid").and_then(|p| p.parse().ok()), after("host"), after("since").and_then(|s| s.parse().ok()))
}

impl Status {
    /// Reads the status of every run of `grid`.
    pub fn collect(grid: &Grid, cache: &mut Cache) -> Status {
        let tasks = slurm::Tasks::of(grid);
        let now = now_unix();
        let executor_alive = ExecutorLock::held(&grid.root);
        // Per run: (state, train summary, totals, run.json).
        let mut runs = Vec::new();
        let mut post_times = Vec::new();
        let mut step_times = Vec::new();
        let mut raw = Vec::new();
        for (i, run) in grid.runs.iter().enumerate() {
            let dir = grid.dir_of(run);
            let state = state_of(&dir);
            let train = cache.train(&dir.train_log());
            let totals = cache.totals(grid, i);
            let record = iw_run::RunRecord::read(&dir).ok().flatten();
            if let Some(r) = &record {
                if state == RunState::Done {
                    let post: f64 =
                        ["predict", "evaluate"].iter().filter_map(|s| r.stages.get(*s)).map(|s| s.wall_s).sum();
                    post_times.push(post);
                }
            }
            if let Some(s) = train.recent_step_s {
                step_times.push(s);
            }
            raw.push((dir, state, train, totals, record));
        }
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let (post_mean, grid_step) = (mean(&post_times), mean(&step_times));
        for (i, (dir, state, train, totals, record)) in raw.into_iter().enumerate() {
            let trained = record.as_ref().is_some_and(|r| r.stages.contains_key("train"));
            let stages_s: f64 = record.as_ref().map(|r| r.stages.values().map(|s| s.wall_s).sum()).unwrap_or(0.0);
            let elapsed_s = stages_s + if trained { 0.0 } else { train.seconds };
            let (total_steps, total_epochs, iterations) = match totals {
                Some((s, e, it)) => (Some(s), Some(e), Some(it)),
                None => (None, None, None),
            };
            let step =
                if trained || state == RunState::Done { total_steps.or(Some(train.rows)) } else { Some(train.rows) };
            let epoch = match (step, iterations) {
                (Some(s), Some(it)) => Some(s / it),
                _ => train.last.as_ref().and_then(|r| r.epoch),
            };
            let remaining_s = match state {
                RunState::Done | RunState::Failed(_) => None,
                _ if trained => {
                    let since_train = record
                        .as_ref()
                        .and_then(|r| r.stages.get("train"))
                        .map(|t| now.saturating_sub(t.finished_unix) as f64)
                        .unwrap_or(0.0);
                    post_mean.map(|p| (p - since_train).max(0.0))
                }
                _ => match (total_steps, train.recent_step_s.or(grid_step)) {
                    (Some(t), Some(per)) => Some(t.saturating_sub(train.rows) as f64 * per + post_mean.unwrap_or(0.0)),
                    _ => None,
                },
            };
            let (mut host, mut pid, mut started_unix) = (None, None, None);
            if let RunState::Running(who) = &state {
                (pid, host, started_unix) = holder(who);
            }
            let eta_unix = match state {
                RunState::Running(_) => remaining_s.map(|r| now + r.round() as u64),
                _ => None,
            };
            let error = match &state {
                RunState::Failed(e) => Some(e.lines().next().unwrap_or("").to_string()),
                _ => None,
            };
            let run = &grid.runs[i];
            runs.push(RunStatus {
                index: i,
                name: run.name.clone(),
                dir: dir.path().display().to_string(),
                state: state.word(),
                step,
                total_steps,
                epoch,
                total_epochs,
                train_loss: train.last.as_ref().and_then(|r| r.loss),
                lr: train.last.as_ref().and_then(|r| r.lr),
                validation: cache.validation(&dir.validation_log()),
                elapsed_s,
                remaining_s,
                eta_unix,
                eta: eta_unix.map(local),
                host,
                pid,
                started_unix,
                started: started_unix.map(local),
                error,
                slurm: tasks.get(i).cloned(),
            });
        }
        let count = |w: &str| runs.iter().filter(|r| r.state == w).count();
        let running = count("running");
        let queued =
            runs.iter().filter(|r| r.state == "pending" && r.slurm.as_ref().is_some_and(slurm::Task::active)).count();
        let ended = running == 0 && !executor_alive && !tasks.any_active();
        // The grid's ETA: the running runs' remaining times fill `parallelism` slots, then each
        // run that will run takes the slot that frees first.
        let parallelism = running.max(1);
        let will_run = |r: &RunStatus| {
            r.state == "pending" && (executor_alive || r.slurm.as_ref().is_some_and(slurm::Task::active))
        };
        let eta_s = if ended {
            None
        } else {
            let now_running: Vec<Option<f64>> =
                runs.iter().filter(|r| r.state == "running").map(|r| r.remaining_s).collect();
            let next: Vec<Option<f64>> = runs.iter().filter(|r| will_run(r)).map(|r| r.remaining_s).collect();
            schedule(&now_running, &next, parallelism)
        };
        let eta_unix = eta_s.map(|s| now + s.round() as u64);
        Status {
            schema: SCHEMA,
            root: grid.root.display().to_string(),
            now_unix: now,
            now: local(now),
            totals: Totals {
                runs: runs.len(),
                done: count("done"),
                running,
                failed: count("failed"),
                pending: count("pending"),
                queued,
                executor_alive,
                parallelism,
                eta_s,
                eta_unix,
                eta: eta_unix.map(local),
                ended,
            },
            runs,
            slurm_error: tasks.error,
        }
    }

    /// The table: counts, the grid's ETA, then one row per run.
    pub fn table(&self) -> String {
        let t = &self.totals;
        let mut s = format!(
            "{}: {} runs: {} done, {} running, {} failed, {} pending\n",
            self.root, t.runs, t.done, t.running, t.failed, t.pending
        );
        let _ = write!(s, "now {}", self.now);
        if t.queued > 0 {
            let _ = write!(s, "; {} queued in SLURM", t.queued);
        }
        if t.ended {
            s += "; nothing is running";
        } else {
            let _ = write!(s, "; {} at a time", t.parallelism);
            match (&t.eta, t.eta_s) {
                (Some(e), Some(sec)) => {
                    let _ = write!(s, "; grid ETA {e} (in {})", duration(sec));
                }
                _ => s += "; grid ETA unknown (no step time yet)",
            }
        }
        if let Some(e) = &self.slurm_error {
            let _ = write!(s, "; SLURM not asked: {e}");
        }
        s.push('\n');
        let width = self.runs.iter().map(|r| r.name.len()).max().unwrap_or(0).max(3);
        let _ = writeln!(
            s,
            "{:>4}  {:<7}  {:<width$}  {:>11}  {:>7}  {:>8}  {:<28}  {:>8}  {:<24}  where / error",
            "#", "state", "run", "step", "epoch", "loss", "validation", "elapsed", "ETA"
        );
        let of = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => format!("{a}/{b}"),
            (Some(a), None) => a.to_string(),
            _ => "-".into(),
        };
        let num =
            |v: Option<f64>, d: usize| v.filter(|v| v.is_finite()).map_or("-".to_string(), |v| format!("{v:.d$}"));
        for r in &self.runs {
            let validation = match &r.validation {
                Some(ValidationStatus { whole_volume: Some(w), .. }) => {
                    format!("vol Dice {} FP {} vr {}", num(w.dice, 3), num(w.fp_per_case, 1), num(w.volume_ratio, 2))
                }
                Some(v) => format!("patch Dice {}", num(v.dice, 3)),
                None => "-".into(),
            };
            let eta = match (&r.eta, r.remaining_s) {
                (Some(e), _) => e.clone(),
                (None, Some(s)) => format!("needs {}", duration(s)),
                _ => "-".into(),
            };
            let mut notes = Vec::new();
            if let Some(t) = &r.slurm {
                notes.push(format!("SLURM {} {}", t.id, t.state));
            }
            if r.state == "running" {
                let mut w = String::new();
                if let Some(p) = r.pid {
                    let _ = write!(w, "pid {p}");
                }
                if let Some(h) = &r.host {
                    let _ = write!(w, " on {h}");
                }
                if let Some(st) = &r.started {
                    let _ = write!(w, " since {st}");
                }
                notes.push(w.trim().to_string());
            }
            if let Some(e) = &r.error {
                notes.push(e.clone());
            }
            let _ = writeln!(
                s,
                "{:>4}  {:<7}  {:<width$}  {:>11}  {:>7}  {:>8}  {:<28}  {:>8}  {:<24}  {}",
                r.index,
                r.state,
                r.name,
                of(r.step, r.total_steps),
                of(r.epoch, r.total_epochs),
                num(r.train_loss, 4),
                validation,
                if r.elapsed_s > 0.0 { duration(r.elapsed_s) } else { "-".into() },
                eta,
                notes.join("; ")
            );
        }
        s
    }
}

/// Seconds until the last of `running` (their remaining times) and `next` (the durations of the
/// runs that will start, in order) ends with `parallelism` runs at once, each next run taking the
/// slot that frees first; `None` when a time is unknown or nothing runs.
fn schedule(running: &[Option<f64>], next: &[Option<f64>], parallelism: usize) -> Option<f64> {
    if running.is_empty() && next.is_empty() {
        return None;
    }
    let mut slots: Vec<f64> = vec![0.0; parallelism.max(running.len()).max(1)];
    for (slot, r) in slots.iter_mut().zip(running) {
        *slot = (*r)?;
    }
    for n in next {
        let min = slots.iter_mut().min_by(|a, b| a.total_cmp(b)).expect("at least one slot");
        *min += (*n)?;
    }
    Some(slots.iter().copied().fold(0.0, f64::max))
}

/// `iw grid status --watch`: redraws the table (or prints one JSON line per look with `json`)
/// every `interval` seconds until the grid has ended ([`Totals::ended`]) or Ctrl-C; returns the
/// last look. On a terminal each draw replaces the last; elsewhere (a pipe, a file) the draws
/// follow each other.
pub fn watch(grid: &Grid, interval: f64, json: bool) -> anyhow::Result<Status> {
    use std::io::{IsTerminal as _, Write as _};
    let tty = std::io::stdout().is_terminal();
    let mut cache = Cache::default();
    loop {
        let s = Status::collect(grid, &mut cache);
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string(&s)?)?;
        } else if tty {
            write!(out, "\x1b[H\x1b[2J{}", s.table())?;
        } else {
            writeln!(out, "{}", s.table())?;
        }
        out.flush()?;
        if s.totals.ended {
            return Ok(s);
        }
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs_f64() < interval {
            if iw_run::interrupt::requested() {
                return Err(iw_run::interrupt::Interrupted("stopped watching; the grid goes on".into()).into());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iw_run::lock;

    #[test]
    fn the_grid_eta_fills_the_slot_that_frees_first() {
        // Two running (10 s and 30 s left), three to start of 20 s each, two at a time:
        // slot A 10 -> 30 -> 50, slot B 30 -> 50; the last ends at 50.
        assert_eq!(schedule(&[Some(10.0), Some(30.0)], &[Some(20.0); 3], 2), Some(50.0));
        // One at a time: everything in a row.
        assert_eq!(schedule(&[Some(10.0)], &[Some(20.0), Some(5.0)], 1), Some(35.0));
        // Nothing running yet (a queued SLURM array): the next runs alone.
        assert_eq!(schedule(&[], &[Some(7.0)], 1), Some(7.0));
        // An unknown time, or nothing at all: unknown.
        assert_eq!(schedule(&[Some(10.0), None], &[], 2), None);
        assert_eq!(schedule(&[Some(10.0)], &[None], 1), None);
        assert_eq!(schedule(&[], &[], 1), None);
    }

    #[test]
    fn a_lock_text_gives_pid_host_and_start() {
        assert_eq!(holder("pid 4242 host the-test since 17"), (Some(4242), Some("the-test".into()), Some(17)));
        assert_eq!(holder("garbage"), (None, None, None));
        // What RunLock writes.
        let dir = tempfile::tempdir().unwrap();
        let _l = lock::RunLock::acquire(&iw_run::RunDir::new(dir.path())).unwrap();
        let text = lock::held_by(&iw_run::RunDir::new(dir.path())).unwrap();
        let (pid, host, since) = holder(&text);
        assert_eq!(pid, Some(std::process::id()));
        assert_eq!(host, Some(lock::hostname()));
        assert!(since.unwrap() + 5 >= now_unix());
    }

    #[test]
    fn the_logs_are_read_by_header_name_with_or_without_whole_volume_columns() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("validation_log.csv");
        let mut c = Cache::default();
        // Today's columns only.
        std::fs::write(&v, "epoch,step,loss,dice\n0,10,0.9,0.1\n1,20,0.8,0.25\n").unwrap();
        let s = c.validation(&v).unwrap();
        assert_eq!((s.epoch, s.step, s.loss, s.dice, s.whole_volume), (Some(1), Some(20), Some(0.8), Some(0.25), None));
        // Whole-volume columns in another order, empty where the pass did not run: the latest
        // whole-volume row is kept beside the latest row.
        std::fs::write(
            &v,
            "epoch,step,volume_dice,loss,dice,fp_per_case,volume_ratio\n0,10,0.5,0.9,0.1,2.5,1.1\n1,20,,0.8,0.25,,\n",
        )
        .unwrap();
        let s = c.validation(&v).unwrap();
        assert_eq!(s.dice, Some(0.25));
        assert_eq!(
            s.whole_volume,
            Some(WholeVolume {
                epoch: Some(0),
                step: Some(10),
                dice: Some(0.5),
                fp_per_case: Some(2.5),
                volume_ratio: Some(1.1)
            })
        );
        // The train log: a half-written last row is skipped.
        let t = dir.path().join("train_log.csv");
        std::fs::write(&t, "step,epoch,lr,loss,seconds\n0,0,0.01,0.9,0.5\n1,0,0.01,0.8,1.5\n2,0,0.").unwrap();
        let s = c.train(&t);
        assert_eq!(s.rows, 2, "steps 0 and 1 done");
        assert_eq!(s.seconds, 2.0);
        assert_eq!(s.recent_step_s, Some(1.0));
        assert_eq!(s.last.unwrap().loss, Some(0.8));
    }
}
