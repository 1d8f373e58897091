//! The run folder of `iw run` and its stages `iw train`, `iw predict`, `iw evaluate`: its
//! layout, its record (run.json), the settings check that keeps a resumed stage from reusing
//! outputs made with other settings, and the `iw evaluate` stage. Training and prediction need
//! libtorch and live in `iw-train` (the `iw-torch` binary, which `iw` hands those commands to).
//!
//! Layout (the paper's, so that `iw report runs/` makes the table):
//! `runs/<dataset>/<method>/experiment_<k>/{config.yaml, run.json, train_log.csv,
//! validation_log.csv, train_curve.png, events.out.tfevents.*, checkpoints/, test_predictions/,
//! test_metrics/prc_records.json, test_metrics/dice.json}`. Each stage is skipped when its
//! outputs exist; training resumes from `checkpoints/last.safetensors`, written at the end of
//! every epoch and on Ctrl-C. At the end of each epoch the network (eval mode) is scored on fixed
//! validation patches (the split's validation cases, the training sampler's rule on its own
//! stream), and every `training.validate_every` epochs on the whole validation cases with the
//! test-time sliding window ([`crate::validation`]): `validation_log.csv` and the curve show
//! under-training and a prediction that floods the organ.
use crate::experiment::Experiment;
use crate::progress::bar;
use anyhow::{bail, Context};
use iw_data::manifest::Manifest;
use iw_data::prepared::{PreparedCase, PreparedDataset};
use iw_io::read_volume;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Set by Ctrl-C ([`crate::interrupt`]): training writes a checkpoint and stops.
pub use crate::interrupt::STOP;
pub use crate::validation::ValidationRow;

/// The run folder of an experiment.
pub fn run_dir(out: &Path, exp: &Experiment, index: usize) -> PathBuf {
    out.join(&exp.dataset.name).join(exp.method()).join(format!("experiment_{index}"))
}

/// The prepared case ids of a split part (`train`, `validation`, `test`) that are present; a
/// manifest case that is not prepared is a warning.
pub fn split_ids(exp: &Experiment, part: &str) -> anyhow::Result<Vec<String>> {
    let root = &exp.dataset.prepared;
    let info = PreparedDataset::info(root)
        .with_context(|| format!("{}: not a prepared dataset (run `iw prepare` first)", root.display()))?;
    let m = Manifest::read(&root.join("manifest.yaml"))?;
    let ids = match part {
        "train" => Manifest::ids(&m.split.train),
        "validation" => Manifest::ids(&m.split.validation),
        _ => Manifest::ids(&m.split.test),
    };
    let have: std::collections::HashSet<&String> = info.cases.iter().collect();
    let (present, absent): (Vec<String>, Vec<String>) = ids.into_iter().partition(|i| have.contains(i));
    if !absent.is_empty() {
        eprintln!("warning: {} {part} case(s) of the manifest are not prepared: {}", absent.len(), absent.join(", "));
    }
    if present.is_empty() && part != "validation" {
        bail!("{}: no {part} case is prepared", root.display());
    }
    Ok(present)
}

/// Image channels of the prepared dataset (the model's input channels).
pub fn dataset_channels(exp: &Experiment) -> anyhow::Result<usize> {
    let root = &exp.dataset.prepared;
    let info = iw_data::prepared::PreparedDataset::info(root)?;
    Ok(match info.cases.first() {
        Some(id) => PreparedCase::open(&root.join("cases"), id)?.meta.channels.max(1),
        None => 1,
    })
}

/// `run.json` of a run folder: versions and, per stage, the device and wall time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// iw version of the last stage written.
    pub iw_version: String,
    /// Git revision of that build.
    pub git_revision: String,
    /// libtorch it linked.
    pub libtorch: String,
    /// SHA-256 of the resolved configuration that made this folder's outputs
    /// ([`config_hash`]; absent in folders of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// The stages that ran (`train`, `predict`, `evaluate`).
    pub stages: std::collections::BTreeMap<String, StageRecord>,
    /// The error of the last attempt, written by the grid (`iw grid`, `iw reproduce`) and cleared
    /// when the run finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::grid::RunFailure>,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageRecord {
    /// The device it ran on.
    pub device: String,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// When it finished (Unix seconds).
    pub finished_unix: u64,
    /// What the stage reports (steps, cases, mean Dice, ...).
    pub details: serde_json::Value,
}

impl RunRecord {
    /// `dir/run.json` when there is one; a corrupt one is an error naming it.
    pub fn read_in(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join("run.json");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let r = serde_json::from_str(&text).with_context(|| format!("{}: not a run record", path.display()))?;
        Ok(Some(r))
    }

    /// A record with no stage yet.
    pub fn empty() -> Self {
        RunRecord {
            iw_version: String::new(),
            git_revision: String::new(),
            libtorch: String::new(),
            config_sha256: None,
            stages: Default::default(),
            error: None,
        }
    }
}

/// Records a stage in run.json (versions, git revision, device as libtorch prints it: `Cpu`,
/// `Cuda(0)`, wall time).
pub fn record(dir: &Path, stage: &str, device: &str, seconds: f64, details: serde_json::Value) -> anyhow::Result<()> {
    let mut r = RunRecord::read_in(dir)?.unwrap_or_else(RunRecord::empty);
    r.iw_version = env!("CARGO_PKG_VERSION").into();
    r.git_revision = env!("IW_GIT_REVISION").into();
    r.libtorch = env!("IW_TORCH_VERSION").into();
    let finished_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    r.stages.insert(stage.into(), StageRecord { device: device.to_string(), wall_s: seconds, finished_unix, details });
    let path = dir.join("run.json");
    iw_core::write_file_atomically(&path, serde_json::to_string_pretty(&r)?.as_bytes())?;
    Ok(())
}

/// Keys left out of the configuration hash and of the resume check: they change how fast a
/// run goes, not what it computes. libtorch threads and the device change only the rounding of
/// floating-point sums (a run resumed with other threads is as valid as one that was not, not
/// bit-identical); the sampler's threads and queue change nothing (batches are drawn by index).
pub const NOT_HASHED: &[&str] = &["training.threads", "training.device", "sampler.workers", "sampler.queue"];

/// The stages of a run, in order; each depends on the keys of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `iw train`: every key but `inference.*` and `evaluation.*`.
    Train,
    /// `iw predict`: the training keys and `inference.*`.
    Predict,
    /// `iw evaluate`: every key.
    Evaluate,
}

impl Stage {
    fn uses(self, key: &str) -> bool {
        match self {
            Stage::Train => !key.starts_with("inference.") && !key.starts_with("evaluation."),
            Stage::Predict => !key.starts_with("evaluation."),
            Stage::Evaluate => true,
        }
    }
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeMap<String, serde_json::Value>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// The resolved configuration as `dotted.key -> value`, sorted, without [`NOT_HASHED`].
pub fn settings(exp: &Experiment) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    flatten("", &serde_json::to_value(exp).expect("an experiment serialises"), &mut out);
    out.retain(|k, _| !NOT_HASHED.contains(&k.as_str()) && k != "extends");
    out
}

/// SHA-256 (hex) of the canonical serialisation of [`settings`]: compact JSON of the sorted
/// `key -> value` map.
pub fn config_hash(exp: &Experiment) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(&settings(exp)).expect("settings serialise");
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a run folder holds outputs of some stage.
fn has_outputs(dir: &Path) -> bool {
    let non_empty = |p: PathBuf| std::fs::read_dir(p).map(|mut d| d.next().is_some()).unwrap_or(false);
    non_empty(dir.join("checkpoints")) || non_empty(dir.join("test_predictions")) || non_empty(dir.join("test_metrics"))
}

/// Checks that the outputs in `dir` were made with the settings of `exp` that `stage` depends
/// on: an error lists the keys whose values differ (old -> new) and points to `--restart`.
pub fn check_settings(dir: &Path, exp: &Experiment, stage: Stage) -> anyhow::Result<()> {
    if !has_outputs(dir) {
        return Ok(());
    }
    let path = dir.join("config.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}: the outputs in {} cannot be matched to their settings; rerun with --restart to start afresh",
            path.display(),
            dir.display()
        )
    })?;
    let old: Experiment = serde_norway::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a resolved experiment ({e}); rerun with --restart", path.display()))?;
    let (a, b) = (settings(&old), settings(exp));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| stage.uses(k) && a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into());
            format!("{k}: {} -> {}", show(a.get(k)), show(b.get(k)))
        })
        .collect();
    if !diff.is_empty() {
        bail!(
            "{}: its outputs were made with other settings ({}); rerun with --restart to delete them and start \
             afresh, or use another --out / --experiment-index",
            dir.display(),
            diff.join("; ")
        );
    }
    Ok(())
}

/// Before a stage: checks the settings against the outputs in `dir`, removes stale temporary
/// files of killed writers, writes config.yaml (when the folder has no outputs yet) and the
/// configuration hash.
pub fn prepare_dir(dir: &Path, exp: &Experiment, stage: Stage) -> anyhow::Result<()> {
    check_settings(dir, exp, stage)?;
    std::fs::create_dir_all(dir.join("checkpoints")).with_context(|| format!("creating {}", dir.display()))?;
    for sub in ["", "checkpoints", "test_predictions", "test_metrics"] {
        iw_core::remove_stale_temporaries(&dir.join(sub));
    }
    let fresh = !has_outputs(dir) || !dir.join("config.yaml").is_file();
    if fresh {
        iw_core::write_file_atomically(&dir.join("config.yaml"), exp.to_yaml().as_bytes())?;
    }
    let mut r = RunRecord::read_in(dir)?.unwrap_or_else(|| RunRecord {
        iw_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: env!("IW_GIT_REVISION").into(),
        libtorch: env!("IW_TORCH_VERSION").into(),
        ..RunRecord::empty()
    });
    let hash = config_hash(exp);
    if fresh || r.config_sha256.is_none() {
        r.config_sha256 = Some(hash);
        iw_core::write_file_atomically(&dir.join("run.json"), serde_json::to_string_pretty(&r)?.as_bytes())?;
    }
    Ok(())
}

/// `--restart`: removes the run folder `dir` (every output of the run) so the stages start
/// afresh.
pub fn restart(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {} (--restart)", dir.display()))?;
        println!("restart: removed {}", dir.display());
    }
    Ok(())
}

/// Writes train_curve.png: the training loss, its moving average, the patch validation's loss
/// and Dice, and the whole-volume validation's Dice and log10(predicted / true volume) (0 when
/// the predicted volume is right, 2 for a 100-fold flood); the title gives the last
/// whole-volume scores, false positives per case included.
pub fn write_curve(dir: &Path, rows: &[(u64, f64)], validation: &[ValidationRow]) {
    let raw: Vec<(f64, f64)> = rows.iter().map(|&(s, l)| (s as f64, l)).collect();
    let k = (rows.len() / 50).max(1);
    let smooth: Vec<(f64, f64)> =
        raw.windows(k).map(|w| (w[w.len() - 1].0, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)).collect();
    let mut series = vec![("training loss", raw), ("moving average", smooth)];
    let points = |f: &dyn Fn(&ValidationRow) -> Option<f64>| -> Vec<(f64, f64)> {
        validation.iter().filter_map(|v| f(v).map(|y| (v.step as f64, y))).collect()
    };
    for (name, p) in [
        ("validation loss, patches (per epoch)", points(&|v| v.loss)),
        ("validation Dice, patches (per epoch)", points(&|v| v.dice)),
        ("validation Dice, whole volumes", points(&|v| v.volume.map(|s| s.dice))),
        ("log10 predicted / true volume, whole volumes", points(&|v| v.volume.map(|s| s.volume_ratio.log10()))),
    ] {
        if !p.is_empty() {
            series.push((name, p));
        }
    }
    let title = match validation.iter().rev().find_map(|v| v.volume.map(|s| (v.epoch, s))) {
        Some((epoch, s)) => format!(
            "training; whole volumes at epoch {}: Dice {:.3}, FP/case {:.1}, volume x{:.2}",
            epoch + 1,
            s.dice,
            s.fp_per_case,
            s.volume_ratio
        ),
        None => "training".to_string(),
    };
    if let Err(e) = iw_metrics::write_line_chart(
        &dir.join("train_curve.png"),
        &title,
        "step",
        "loss, Dice, log10 volume ratio",
        &series,
    ) {
        eprintln!("warning: {e}");
    }
}

/// `iw evaluate`.
pub fn evaluate(exp: &Experiment, dir: &Path) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Evaluate)?;
    let metrics = dir.join("test_metrics");
    let (rec_path, dice_path) = (metrics.join("prc_records.json"), metrics.join("dice.json"));
    if rec_path.is_file() && dice_path.is_file() {
        // Records made before iw recorded each component's size and overlaps cannot be matched
        // one to one: made again from the saved predictions.
        let old = iw_metrics::read_records(&rec_path)?.values().flatten().any(|r| r.extent.is_none());
        if !old {
            println!("evaluate: {} exists, skipped", rec_path.display());
            return Ok(());
        }
        println!("evaluate: {} predates the component extents: evaluating again", rec_path.display());
    }
    let t0 = Instant::now();
    std::fs::create_dir_all(&metrics)?;
    let ids = split_ids(exp, "test")?;
    let mut records = iw_metrics::CaseRecords::new();
    let mut dice = serde_json::Map::new();
    let pb = bar(ids.len() as u64, &format!("evaluate {}", exp.method()));
    for id in &ids {
        let case = PreparedCase::open(&exp.dataset.prepared.join("cases"), id)?;
        let [d, h, w] = case.meta.shape_zyx;
        let gt = ndarray::Array3::from_shape_vec((d, h, w), case.mask().iter().map(|&v| v as f32).collect())?;
        let pred = dir.join("test_predictions");
        let prob = read_volume(pred.join(format!("{id}_prob.nii.gz")))?.to_f32();
        let logit = read_volume(pred.join(format!("{id}_logit.nii.gz")))?.to_f32();
        let mut e = iw_metrics::evaluate_case(gt.view(), prob.data.view(), Some(logit.data.view()))?;
        e.set_voxel_volume(case.meta.geometry().spacing_xyz_mm.iter().product());
        records.insert(id.clone(), e.records);
        dice.insert(id.clone(), json!(e.dice));
        pb.inc(1);
    }
    pb.finish_and_clear();
    iw_metrics::write_records(&rec_path, &records)?;
    let mean = dice.values().filter_map(|v| v.as_f64()).sum::<f64>() / dice.len().max(1) as f64;
    std::fs::write(&dice_path, serde_json::to_string_pretty(&json!({"mean": mean, "cases": dice}))?)?;
    println!("evaluate: {} test cases, mean voxel Dice {mean:.4}; {}", ids.len(), rec_path.display());
    record(dir, "evaluate", "Cpu", t0.elapsed().as_secs_f64(), json!({"mean_dice": mean}))
}

/// The per-case voxel Dice that `iw evaluate` wrote (`test_metrics/dice.json`); a corrupt file is
/// an error naming it.
pub fn read_case_dice(metrics_dir: &Path) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    #[derive(serde::Deserialize)]
    struct DiceFile {
        cases: std::collections::BTreeMap<String, f64>,
    }
    let p = metrics_dir.join("dice.json");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let d: DiceFile = serde_json::from_str(&text).with_context(|| format!("{}: not a dice.json", p.display()))?;
    Ok(d.cases)
}
