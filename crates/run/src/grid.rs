//! The experiment grid's file, `<root>/grid.json`: a list of runs (experiment file, overlays,
//! `--set`, seed index, run folder). `iw grid` and `iw reproduce` plan and write it (iw-runner);
//! every executor's task reads it (`iw grid run-one <root>/grid.json --index I`, [`crate::run_one`]).
//!
//! * One grid per folder: a command naming other runs than `<root>/grid.json`'s is refused
//!   unless `--add` merges them in ([`Grid::adopt`]), so `iw grid status` lists every run.
use crate::dir::RunDir;
use crate::experiment::Experiment;
use crate::state::{state_of, RunState};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
        Ok(Experiment::load_with(&self.experiment, &self.overlays, &sets)?.with_seed_index(self.seed_index))
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
                let dir = RunDir::of(root, &exp.dataset.name, &exp.method(), k).path().to_path_buf();
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
    pub fn dir_of(&self, run: &GridRun) -> RunDir {
        if run.dir.is_absolute() || std::env::current_dir().ok().as_deref() == Some(&self.cwd) {
            RunDir::new(&run.dir)
        } else {
            RunDir::new(self.cwd.join(&run.dir))
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
}
