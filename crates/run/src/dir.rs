//! The run folder, named once. Every file a run holds is a method of [`RunDir`]; no other
//! module (and no crate below this one) spells these names.
//!
//! Layout (the paper's, so that `iw report runs/` makes the table):
//!
//! ```text
//! runs/<dataset>/<method>/experiment_<k>/
//!   config.yaml                  the resolved experiment (RunDir::config)
//!   run.json                     versions, stages, the settings hash, a grid's error (RunDir::record)
//!   train_log.csv                one row per step (RunDir::train_log)
//!   validation_log.csv           one row per validated epoch (RunDir::validation_log)
//!   train_curve.png              the curves of both logs (RunDir::curve)
//!   events.out.tfevents.*        TensorBoard scalars (iw_report::tfevents, in RunDir::path)
//!   checkpoints/{last,final}.safetensors
//!   test_predictions/<case>_{prob,logit,pred}.nii.gz
//!   test_metrics/prc_records.json, records_meta.json, dice.json
//!   grid.log, .iw-lock           a grid's log of attempts and its lock
//! ```
use std::path::{Path, PathBuf};

const CONFIG: &str = "config.yaml";
const RECORD: &str = "run.json";
const TRAIN_LOG: &str = "train_log.csv";
const VALIDATION_LOG: &str = "validation_log.csv";
const CURVE: &str = "train_curve.png";
const CHECKPOINTS: &str = "checkpoints";
const LAST: &str = "last.safetensors";
const FINAL: &str = "final.safetensors";
const PREDICTIONS: &str = "test_predictions";
const METRICS: &str = "test_metrics";
const RECORDS: &str = "prc_records.json";
const RECORDS_META: &str = "records_meta.json";
const DICE: &str = "dice.json";
const GRID_LOG: &str = "grid.log";
const LOCK: &str = ".iw-lock";

/// What a prediction file holds (`test_predictions/<case>_<kind>.nii.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// float32 probabilities.
    Prob,
    /// float32 logits.
    Logit,
    /// uint8, probability > 0.5 (for viewers).
    Mask,
}

impl Prediction {
    fn suffix(self) -> &'static str {
        match self {
            Prediction::Prob => "prob",
            Prediction::Logit => "logit",
            Prediction::Mask => "pred",
        }
    }
}

/// A run folder (`.../experiment_<k>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// `out/<dataset>/<method>/experiment_<index>`.
    pub fn of(out: &Path, dataset: &str, method: &str, index: usize) -> Self {
        RunDir::new(out.join(dataset).join(method).join(format!("experiment_{index}")))
    }

    /// The run folder of a records file (`<run>/test_metrics/prc_records.json`).
    pub fn of_records(records: &Path) -> Option<Self> {
        records.parent().and_then(|p| p.parent()).map(RunDir::new)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `config.yaml`: the resolved experiment.
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG)
    }

    /// `run.json`: the run's record ([`crate::RunRecord`]).
    pub fn record(&self) -> PathBuf {
        self.root.join(RECORD)
    }

    /// `train_log.csv` ([`crate::logs::TrainLogRow`]).
    pub fn train_log(&self) -> PathBuf {
        self.root.join(TRAIN_LOG)
    }

    /// `validation_log.csv` ([`crate::logs::ValidationRow`]).
    pub fn validation_log(&self) -> PathBuf {
        self.root.join(VALIDATION_LOG)
    }

    /// `train_curve.png`.
    pub fn curve(&self) -> PathBuf {
        self.root.join(CURVE)
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS)
    }

    /// `checkpoints/last.safetensors`: written at the end of every epoch and on Ctrl-C.
    pub fn last_checkpoint(&self) -> PathBuf {
        self.checkpoints().join(LAST)
    }

    /// `checkpoints/final.safetensors`: the trained network.
    pub fn final_checkpoint(&self) -> PathBuf {
        self.checkpoints().join(FINAL)
    }

    /// `test_predictions/`.
    pub fn predictions(&self) -> PathBuf {
        self.root.join(PREDICTIONS)
    }

    /// `test_predictions/<case>_<kind>.nii.gz`.
    pub fn prediction(&self, case: &str, kind: Prediction) -> PathBuf {
        self.predictions().join(format!("{case}_{}.nii.gz", kind.suffix()))
    }

    /// `test_metrics/`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join(METRICS)
    }

    /// `test_metrics/prc_records.json`: the lesion records of the test cases.
    pub fn records(&self) -> PathBuf {
        self.metrics().join(RECORDS)
    }

    /// `test_metrics/records_meta.json`: what the records need to be read right
    /// ([`crate::RecordsMeta`]).
    pub fn records_meta(&self) -> PathBuf {
        self.metrics().join(RECORDS_META)
    }

    /// `test_metrics/dice.json`: per-case voxel Dice.
    pub fn dice(&self) -> PathBuf {
        self.metrics().join(DICE)
    }

    /// `grid.log`: the log of a grid's attempts at this run (any executor).
    pub fn grid_log(&self) -> PathBuf {
        self.root.join(GRID_LOG)
    }

    /// `.iw-lock`: held by the process running the run ([`crate::lock`]).
    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// The folders that hold a stage's outputs (checkpoints, predictions, metrics).
    pub fn output_folders(&self) -> [PathBuf; 3] {
        [self.checkpoints(), self.predictions(), self.metrics()]
    }

    /// The records file inside any run folder, relative to it (`test_metrics/prc_records.json`):
    /// what [`iw_metrics::load_records_dir`] looks for under each `experiment_*` folder.
    pub fn records_in_run() -> PathBuf {
        Path::new(METRICS).join(RECORDS)
    }
}

impl AsRef<Path> for RunDir {
    fn as_ref(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_papers() {
        let r = RunDir::of(Path::new("runs"), "lits", "iwdl", 2);
        assert_eq!(r.path(), Path::new("runs/lits/iwdl/experiment_2"));
        assert_eq!(r.records(), Path::new("runs/lits/iwdl/experiment_2/test_metrics/prc_records.json"));
        assert_eq!(
            r.prediction("7", Prediction::Logit),
            Path::new("runs/lits/iwdl/experiment_2/test_predictions/7_logit.nii.gz")
        );
        assert_eq!(r.final_checkpoint(), Path::new("runs/lits/iwdl/experiment_2/checkpoints/final.safetensors"));
        assert_eq!(RunDir::of_records(&r.records()), Some(r.clone()));
        assert_eq!(r.path().join(RunDir::records_in_run()), r.records());
    }
}
