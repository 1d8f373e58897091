//! `iw run` and its stages `iw train`, `iw predict`, `iw evaluate`.
//!
//! Layout (the paper's, so that `iw report runs/` makes the table):
//! `runs/<dataset>/<method>/experiment_<k>/{config.yaml, run.json, train_log.csv,
//! validation_log.csv, train_curve.png, events.out.tfevents.*, checkpoints/, test_predictions/,
//! test_metrics/prc_records.json, test_metrics/dice.json}`. Each stage is skipped when its
//! outputs exist; training resumes from `checkpoints/last.safetensors`, written at the end of
//! every epoch and on Ctrl-C. At the end of each epoch the network (eval mode) is scored on fixed
//! validation patches (the split's validation cases, the training sampler's rule on its own
//! stream): `validation_log.csv` and the curve show under-training.
use crate::experiment::Experiment;
use crate::progress::bar;
use anyhow::{bail, Context};
use iw_core::{Connectivity, Volume};
use iw_data::manifest::Manifest;
use iw_data::prepared::{PreparedCase, PreparedDataset};
use iw_data::sampler::{scaled_image, BatchStream, SamplerConfig};
use iw_io::{read_volume, write_volume};
use iw_losses::LossInputs;
use iw_models::{lr_at, parse_device, sliding_window, LrSchedule, OptimizerConfig, Trainer, UNetConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Set by Ctrl-C ([`crate::interrupt`]): training writes a checkpoint and stops.
pub use crate::interrupt::STOP;

/// The run folder of an experiment.
pub fn run_dir(out: &Path, exp: &Experiment, index: usize) -> PathBuf {
    out.join(&exp.dataset.name).join(exp.method()).join(format!("experiment_{index}"))
}

fn split_ids(exp: &Experiment, part: &str) -> anyhow::Result<Vec<String>> {
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

fn device_of(exp: &Experiment) -> anyhow::Result<Device> {
    if let Some(t) = exp.training.threads {
        tch::set_num_threads(t);
    }
    Ok(parse_device(&exp.training.device)?)
}

/// Image channels of the prepared dataset (the model's input channels).
fn dataset_channels(exp: &Experiment) -> anyhow::Result<usize> {
    let root = &exp.dataset.prepared;
    let info = iw_data::prepared::PreparedDataset::info(root)?;
    Ok(match info.cases.first() {
        Some(id) => PreparedCase::open(&root.join("cases"), id)?.meta.channels.max(1),
        None => 1,
    })
}

/// The host memory a training run needs, estimated before anything is allocated: 1 GiB for
/// libtorch, the process and the data's pages; the weights with their gradients and momentum
/// (3 x the parameters); per sample 3.5 x the layer outputs of `iw model summary` (autograd
/// keeps the input of every convolution, normalisation and activation, and the backward pass
/// its own buffers); the sampler's queued batches (image channels, mask, labels, weights).
/// Calibrated on the peak RSS of `iw train` (width 1, depth 4, batch 2, one thread): 32x64x64
/// 1.93 GiB (estimate 1.87), 64^3 2.35 (2.53), 64x128x128 6.40 (6.74).
pub fn training_memory(exp: &Experiment, channels: usize) -> anyhow::Result<f64> {
    let cfg = UNetConfig {
        in_channels: channels as i64,
        width: exp.model.width,
        depth: exp.model.depth,
        ..UNetConfig::default()
    };
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = iw_models::ResUNet::new(&vs.root(), cfg)?;
    let t = &exp.training;
    let patch = t.patch.map(|v| v as i64);
    let activations: f64 =
        model.summary(&vs, patch).iter().map(|r| r.output.iter().map(|&v| v as f64).product::<f64>()).sum();
    let params = iw_models::parameter_count(&vs) as f64;
    let voxels: f64 = t.patch.iter().map(|&v| v as f64).product();
    let batch = t.batch as f64;
    let queued = (exp.sampler.queue + exp.sampler.workers) as f64 * batch * voxels * 4.0 * (channels as f64 + 3.0);
    Ok(1024f64.powi(3) + 3.0 * 4.0 * params + batch * 3.5 * 4.0 * activations + queued)
}

/// Refuses, with the estimate, a CPU training run that cannot fit in this machine's memory (on
/// CUDA the host holds little and the device's memory is not queried: tch has no binding).
fn check_training_memory(exp: &Experiment, device: Device) -> anyhow::Result<()> {
    if device.is_cuda() {
        return Ok(());
    }
    let need = training_memory(exp, dataset_channels(exp)?)?;
    let t = &exp.training;
    crate::resources::check_fits(
        &format!("training.patch {:?} x training.batch {}", t.patch, t.batch),
        need,
        "use a smaller training.patch or training.batch (`iw model summary` lists the activations)",
    )
}

fn trainer_for(exp: &Experiment, device: Device) -> anyhow::Result<Trainer> {
    let model = UNetConfig {
        in_channels: dataset_channels(exp)? as i64,
        width: exp.model.width,
        depth: exp.model.depth,
        ..UNetConfig::default()
    };
    let opt = OptimizerConfig {
        momentum: exp.training.momentum,
        nesterov: exp.training.nesterov,
        weight_decay: 0.0,
        clip_grad_norm: exp.training.clip_grad_norm,
        amp_bf16: exp.training.amp_bf16,
    };
    let mut trainer = Trainer::new(device, model, opt, exp.training.seed as i64)?;
    trainer.set_channels_last(exp.training.channels_last)?;
    if device.is_cuda() {
        iw_models::set_cudnn_benchmark(exp.training.cudnn_benchmark);
    }
    Ok(trainer)
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

/// Records a stage in run.json (versions, git revision, device, wall time).
fn record(dir: &Path, stage: &str, device: Device, seconds: f64, details: serde_json::Value) -> anyhow::Result<()> {
    let mut r = RunRecord::read_in(dir)?.unwrap_or_else(RunRecord::empty);
    r.iw_version = env!("CARGO_PKG_VERSION").into();
    r.git_revision = env!("IW_GIT_REVISION").into();
    r.libtorch = env!("IW_TORCH_VERSION").into();
    let finished_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    r.stages
        .insert(stage.into(), StageRecord { device: format!("{device:?}"), wall_s: seconds, finished_unix, details });
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
fn prepare_dir(dir: &Path, exp: &Experiment, stage: Stage) -> anyhow::Result<()> {
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

fn write_curve(dir: &Path, rows: &[(u64, f64)], validation: &[ValidationRow]) {
    let raw: Vec<(f64, f64)> = rows.iter().map(|&(s, l)| (s as f64, l)).collect();
    let k = (rows.len() / 50).max(1);
    let smooth: Vec<(f64, f64)> =
        raw.windows(k).map(|w| (w[w.len() - 1].0, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)).collect();
    let mut series = vec![("training loss", raw), ("moving average", smooth)];
    if !validation.is_empty() {
        series.push(("validation loss (per epoch)", validation.iter().map(|v| (v.step as f64, v.loss)).collect()));
        series.push(("validation Dice (per epoch)", validation.iter().map(|v| (v.step as f64, v.dice)).collect()));
    }
    if let Err(e) =
        iw_metrics::write_line_chart(&dir.join("train_curve.png"), "training", "step", "loss / Dice", &series)
    {
        eprintln!("warning: {e}");
    }
}

/// One epoch's validation: the loss and the Dice (p > 0.5, pooled over the patches) of fixed
/// patches from the validation cases, the network in eval mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationRow {
    /// Epoch (0-based) that just finished.
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// Mean loss over the validation patches.
    pub loss: f64,
    /// Dice of the thresholded prediction over all validation patches.
    pub dice: f64,
}

/// Validation patches drawn once, with the training sampler's rule from the validation cases,
/// on a stream of their own (so the training stream is unchanged).
pub struct Validation {
    batches: Vec<iw_data::sampler::Batch>,
}

/// Patches of the validation set: batches of the training batch size.
const VALIDATION_BATCHES: u64 = 4;

impl Validation {
    /// `None` when the split has no validation case or none with a lesion to centre on.
    pub fn new(exp: &Experiment, scfg: &SamplerConfig) -> anyhow::Result<Option<Self>> {
        let ids = split_ids(exp, "validation")?;
        if ids.is_empty() {
            return Ok(None);
        }
        let ds = PreparedDataset::open(&exp.dataset.prepared, &ids)?;
        let Ok(dist) = iw_data::sampler::case_distribution(&ds) else { return Ok(None) };
        let cfg = SamplerConfig { seed: scfg.seed ^ 0x005E_ED0F_7A11, ..scfg.clone() };
        let batches = (0..VALIDATION_BATCHES).map(|i| iw_data::sampler::sample_batch(&ds, &cfg, &dist, i)).collect();
        Ok(Some(Validation { batches }))
    }

    /// Evaluates `trainer` (eval mode, no gradients) with `loss_cfg`.
    pub fn evaluate(
        &self,
        trainer: &Trainer,
        loss_cfg: &iw_losses::LossConfig,
        patch: [usize; 3],
        device: Device,
    ) -> anyhow::Result<(f64, f64)> {
        let (mut loss, mut inter, mut sum) = (0.0, 0.0, 0.0);
        for b in &self.batches {
            let t = BatchTensors::new(b, patch, device, false)?;
            let l = tch::no_grad(|| -> anyhow::Result<f64> {
                let logits = trainer.forward(&t.image, false);
                let v = loss_cfg.compute(&t.inputs(&logits, b))?;
                let pred = logits.gt(0.0).to_kind(Kind::Float);
                inter += (&pred * &t.target).sum(Kind::Double).double_value(&[]);
                sum += (pred.sum(Kind::Double) + t.target.sum(Kind::Double)).double_value(&[]);
                Ok(v.double_value(&[]))
            })?;
            loss += l;
        }
        let dice = if sum > 0.0 { 2.0 * inter / sum } else { 1.0 };
        Ok((loss / self.batches.len() as f64, dice))
    }
}

/// A batch on the device.
struct BatchTensors {
    image: Tensor,
    target: Tensor,
    labels: Tensor,
    regions: Option<Tensor>,
}

impl BatchTensors {
    /// The batch on `device`; `pinned`: through page-locked memory with non-blocking copies
    /// (`training.pin_memory`, CUDA only).
    fn new(batch: &iw_data::sampler::Batch, patch: [usize; 3], device: Device, pinned: bool) -> anyhow::Result<Self> {
        let [d, h, w] = patch.map(|v| v as i64);
        let b = batch.origins.len() as i64;
        let shape = [b, 1, d, h, w];
        let up = |t: Tensor| iw_models::upload(&t, device, pinned);
        let long = |v: &[u16]| up(Tensor::from_slice(&v.iter().map(|&l| l as i64).collect::<Vec<_>>()).reshape(shape));
        Ok(BatchTensors {
            image: up(Tensor::from_slice(&batch.image).reshape([b, batch.channels as i64, d, h, w]))?,
            target: up(Tensor::from_slice(&batch.mask).reshape(shape))?,
            labels: long(&batch.labels)?,
            regions: if batch.regions.is_empty() { None } else { Some(long(&batch.regions)?) },
        })
    }
    fn inputs<'a>(&'a self, logits: &'a Tensor, batch: &iw_data::sampler::Batch) -> LossInputs<'a> {
        LossInputs {
            logits,
            target: &self.target,
            labels: Some(&self.labels),
            regions: self.regions.as_ref(),
            max_label: Some(batch.max_label as i64),
        }
    }
}

/// `iw train`.
pub fn train(exp: &Experiment, dir: &Path) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Train)?;
    crate::resources::keep_freed_memory();
    let ck = dir.join("checkpoints");
    let (last, fin) = (ck.join("last.safetensors"), ck.join("final.safetensors"));
    if fin.is_file() {
        println!("train: {} exists, skipped", fin.display());
        return Ok(());
    }
    let t0 = Instant::now();
    let device = device_of(exp)?;
    let loss_cfg = exp.loss_config()?;
    let ids = split_ids(exp, "train")?;
    let mut ds = PreparedDataset::open(&exp.dataset.prepared, &ids)?;
    if exp.loss.connectivity != 26 {
        let conn = Connectivity::from_number(exp.loss.connectivity)?;
        for c in &mut ds.cases {
            c.relabel_for_weights(conn)?;
        }
    }
    check_training_memory(exp, device)?;
    let mut trainer = trainer_for(exp, device)?;
    let mut start = 0u64;
    if last.is_file() {
        start = trainer.load_checkpoint(&last)?.step;
        println!("train: resuming from {} at step {start}", last.display());
    }
    let t = &exp.training;
    let total = (t.epochs * t.iterations) as u64;
    let schedule = LrSchedule { base: t.lr, milestones: t.lr_milestones.clone(), gamma: t.lr_gamma };
    let scfg = SamplerConfig {
        patch_dhw: t.patch,
        batch_size: t.batch,
        lesion_fraction: exp.sampler.lesion_fraction,
        window: exp.dataset.window,
        seed: t.seed,
        weights: None,
        regions: loss_cfg.needs_regions(),
        background: exp.sampler.background,
    };
    // The log keeps the rows of the steps before the checkpoint.
    let log_path = dir.join("train_log.csv");
    let mut rows: Vec<(u64, f64)> = Vec::new();
    let mut log = String::from("step,epoch,lr,loss,seconds\n");
    if let Ok(text) = std::fs::read_to_string(&log_path) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if let (Some(s), Some(l)) =
                (f.first().and_then(|v| v.parse::<u64>().ok()), f.get(3).and_then(|v| v.parse::<f64>().ok()))
            {
                if s < start {
                    rows.push((s, l));
                    log += line;
                    log.push('\n');
                }
            }
        }
    }
    // Validation rows of the epochs before the checkpoint are kept, as the log's.
    let val_path = dir.join("validation_log.csv");
    let mut val_rows: Vec<ValidationRow> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&val_path) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            if let (Some(e), Some(st), Some(l), Some(d)) = (num(0), num(1), num(2), num(3)) {
                if (st as u64) <= start {
                    val_rows.push(ValidationRow { epoch: e as usize, step: st as u64, loss: l, dice: d });
                }
            }
        }
    }
    let validation = Validation::new(exp, &scfg)?;
    if validation.is_none() {
        println!("train: no validation case with a lesion in the split: no validation curve");
    }
    // TensorBoard scalars beside the CSVs, kept to the same steps on a resume.
    let mut events = iw_report::tfevents::EventWriter::resume(dir, |tag, s| {
        if tag.starts_with("validation/") {
            s as u64 <= start
        } else {
            (s as u64) < start
        }
    })?;
    let mut stream = BatchStream::new(Arc::new(ds), scfg, start, exp.sampler.workers, exp.sampler.queue)?;
    let pb = bar(total, &format!("train {}", exp.method()));
    pb.set_position(start);
    let save = |trainer: &Trainer, path: &Path, step: u64| {
        trainer.save_checkpoint(path, json!({"epoch": step / t.iterations as u64, "sampler_batch": step}))
    };
    let mut ahead = std::collections::VecDeque::new();
    for step in start..total {
        let epoch = (step / t.iterations as u64) as usize;
        let lr = lr_at(&schedule, epoch);
        // `training.prefetch` batches wait on the device ahead of this step (issue 21).
        while ahead.len() <= t.prefetch && step + (ahead.len() as u64) < total {
            let batch = stream.next().context("the sampler stopped")?;
            let bt = BatchTensors::new(&batch, t.patch, device, t.pin_memory)?;
            ahead.push_back((batch, bt));
        }
        let (batch, bt) = ahead.pop_front().expect("filled above");
        let ts = Instant::now();
        let loss = trainer
            .train_step(&bt.image, lr, |logits| {
                loss_cfg.compute(&bt.inputs(logits, &batch)).map_err(|e| iw_models::Error::Loss(e.to_string()))
            })
            .map_err(|e| {
                pb.abandon();
                anyhow::anyhow!("{}: {e}", dir.display())
            })?;
        rows.push((step, loss));
        events.scalar("train/loss", step as i64, loss)?;
        events.scalar("train/lr", step as i64, lr)?;
        log += &format!("{step},{epoch},{lr},{loss},{:.4}\n", ts.elapsed().as_secs_f64());
        pb.set_message(format!("loss {loss:.4} lr {lr:.1e}"));
        pb.inc(1);
        let end_of_epoch = (step + 1) % t.iterations as u64 == 0;
        let stop = STOP.load(Ordering::Relaxed);
        if end_of_epoch {
            if let Some(v) = &validation {
                let (l, d) = v.evaluate(&trainer, &loss_cfg, t.patch, device)?;
                val_rows.push(ValidationRow { epoch, step: step + 1, loss: l, dice: d });
                events.scalar("validation/loss", (step + 1) as i64, l)?;
                events.scalar("validation/dice", (step + 1) as i64, d)?;
                pb.set_message(format!("loss {loss:.4} lr {lr:.1e}; validation loss {l:.4} Dice {d:.3}"));
            }
        }
        if end_of_epoch || stop || step + 1 == total {
            save(&trainer, &last, step + 1)?;
            events.flush()?;
            std::fs::write(&log_path, &log).with_context(|| format!("writing {}", log_path.display()))?;
            let mut vlog = String::from("epoch,step,loss,dice\n");
            for v in &val_rows {
                vlog += &format!("{},{},{},{}\n", v.epoch, v.step, v.loss, v.dice);
            }
            std::fs::write(&val_path, vlog).with_context(|| format!("writing {}", val_path.display()))?;
            write_curve(dir, &rows, &val_rows);
        }
        if stop {
            pb.abandon();
            return Err(crate::interrupt::Interrupted(format!(
                "checkpoint written at step {} ({}); rerun the same command to resume",
                step + 1,
                last.display()
            ))
            .into());
        }
    }
    pb.finish_and_clear();
    drop(stream);
    save(&trainer, &fin, total)?;
    let mean_last: f64 =
        rows.iter().rev().take(t.iterations).map(|r| r.1).sum::<f64>() / rows.len().clamp(1, t.iterations) as f64;
    println!("train: {total} steps, mean loss of the last epoch {mean_last:.4}; {}", fin.display());
    record(
        dir,
        "train",
        device,
        t0.elapsed().as_secs_f64(),
        json!({"steps": total, "resumed_at": start, "last_epoch_mean_loss": mean_last}),
    )
}

/// `iw predict`.
pub fn predict(exp: &Experiment, dir: &Path) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Predict)?;
    crate::resources::keep_freed_memory();
    let fin = dir.join("checkpoints/final.safetensors");
    if !fin.is_file() {
        bail!("{}: no trained model (run `iw train` first)", fin.display());
    }
    let ids = split_ids(exp, "test")?;
    let out = dir.join("test_predictions");
    std::fs::create_dir_all(&out)?;
    // Viewer files: the binary prediction (p > 0.5) beside the probabilities, for runs that
    // predicted before it was written.
    for id in &ids {
        let (prob, bin) = (out.join(format!("{id}_prob.nii.gz")), out.join(format!("{id}_pred.nii.gz")));
        if prob.is_file() && !bin.is_file() {
            let p = read_volume(&prob)?.to_f32();
            write_volume(&bin, &Volume::new(p.data.mapv(|v| u8::from(v > 0.5)), p.geometry))?;
        }
    }
    let todo: Vec<&String> = ids
        .iter()
        .filter(|id| {
            !(out.join(format!("{id}_prob.nii.gz")).is_file() && out.join(format!("{id}_logit.nii.gz")).is_file())
        })
        .collect();
    if todo.is_empty() {
        println!("predict: all {} test predictions exist, skipped", ids.len());
        return Ok(());
    }
    let t0 = Instant::now();
    let device = device_of(exp)?;
    let mut trainer = trainer_for(exp, device)?;
    trainer.load_checkpoint(&fin)?;
    let icfg = exp.inference.config();
    let pb = bar(todo.len() as u64, &format!("predict {}", exp.method()));
    for id in todo {
        pb.set_message(format!("case {id}"));
        let case = PreparedCase::open(&exp.dataset.prepared.join("cases"), id)?;
        let [d, h, w] = case.meta.shape_zyx;
        let c = case.meta.channels.max(1) as i64;
        let vol =
            Tensor::from_slice(&scaled_image(&case, exp.dataset.window)).reshape([c, d as i64, h as i64, w as i64]);
        let p = sliding_window(&vol, &icfg, device, |x| Ok(trainer.forward(x, false)))?;
        let g = case.meta.geometry();
        for (name, t) in [("prob", &p.probs), ("logit", &p.logits)] {
            let v: Vec<f32> = Vec::<f32>::try_from(&t.to_kind(Kind::Float).flatten(0, -1))?;
            let arr = ndarray::Array3::from_shape_vec((d, h, w), v)?;
            if name == "prob" {
                write_volume(
                    out.join(format!("{id}_pred.nii.gz")),
                    &Volume::new(arr.mapv(|v| u8::from(v > 0.5)), g.clone()),
                )?;
            }
            write_volume(out.join(format!("{id}_{name}.nii.gz")), &Volume::new(arr, g.clone()))?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    record(dir, "predict", device, t0.elapsed().as_secs_f64(), json!({"cases": ids.len()}))
}

/// `iw evaluate`.
pub fn evaluate(exp: &Experiment, dir: &Path) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Evaluate)?;
    let metrics = dir.join("test_metrics");
    let (rec_path, dice_path) = (metrics.join("prc_records.json"), metrics.join("dice.json"));
    if rec_path.is_file() && dice_path.is_file() {
        println!("evaluate: {} exists, skipped", rec_path.display());
        return Ok(());
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
        let e = iw_metrics::evaluate_case(gt.view(), prob.data.view(), Some(logit.data.view()))?;
        records.insert(id.clone(), e.records);
        dice.insert(id.clone(), json!(e.dice));
        pb.inc(1);
    }
    pb.finish_and_clear();
    iw_metrics::write_records(&rec_path, &records)?;
    let mean = dice.values().filter_map(|v| v.as_f64()).sum::<f64>() / dice.len().max(1) as f64;
    std::fs::write(&dice_path, serde_json::to_string_pretty(&json!({"mean": mean, "cases": dice}))?)?;
    println!("evaluate: {} test cases, mean voxel Dice {mean:.4}; {}", ids.len(), rec_path.display());
    record(dir, "evaluate", Device::Cpu, t0.elapsed().as_secs_f64(), json!({"mean_dice": mean}))
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

/// `iw run`: train, predict, evaluate.
pub fn run_all(exp: &Experiment, dir: &Path) -> anyhow::Result<()> {
    train(exp, dir)?;
    predict(exp, dir)?;
    evaluate(exp, dir)
}
