//! Experiment files (YAML): what to train, how, and how to evaluate.
//!
//! A file may `extends:` another (a path relative to it): the parent is loaded first and the
//! child's keys override it, recursively (mappings merge, everything else replaces). Every key
//! has the paper's default, so a method file can be three lines. `--set key.path=value`
//! overrides any value last (the value is read as YAML: `--set training.epochs=2`,
//! `--set loss.name=iwdl`, `--set training.patch=[32,48,48]`). Unknown keys are an error that
//! names the key, the line and the file. The resolved configuration is saved with every run.
use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_norway::Value;
use std::path::{Path, PathBuf};

/// Dataset section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetCfg {
    /// Dataset name (the report's dataset column and runs/<name>/).
    pub name: String,
    /// Prepared-data folder (`iw prepare`).
    pub prepared: PathBuf,
    /// Intensity window before per-case min-max scaling (CT, HU); `null`: use the intensities
    /// as prepared (MR scaled per modality by `iw prepare nnunet`).
    pub window: Option<[f64; 2]>,
}

impl Default for DatasetCfg {
    fn default() -> Self {
        DatasetCfg { name: "lits".into(), prepared: PathBuf::from("data/lits/prepared"), window: Some([-300.0, 300.0]) }
    }
}

/// Model section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelCfg {
    /// Channel multiplier.
    pub width: f64,
    /// Encoder levels.
    pub depth: usize,
}

impl Default for ModelCfg {
    fn default() -> Self {
        ModelCfg { width: 1.0, depth: 3 }
    }
}

/// Loss section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossCfg {
    /// `bce, iwbce, wce, dl, iwdl, gdl, fl, iwfl, asl, iwasl`, or `blob-<name>`, `cc-<name>`.
    pub name: String,
    /// iw clip bounds.
    pub w_min: f64,
    /// iw clip bounds.
    pub w_max: f64,
    /// Focal loss gamma.
    pub focal_gamma: f64,
    /// Focal loss alpha (foreground).
    pub focal_alpha: f64,
    /// Asymmetric similarity beta.
    pub asl_beta: f64,
    /// Blob loss global weight.
    pub blob_alpha: f64,
    /// Blob loss per-component weight.
    pub blob_beta: f64,
    /// Connectivity of the components the weights use (6, 18, 26).
    pub connectivity: u32,
}

impl Default for LossCfg {
    /// `dl` with iw-config's parameters of the paper (`LossConfig::from_name` of `dl`, `fl`,
    /// `asl`, `blob-dl`), so the two cannot drift apart.
    fn default() -> Self {
        use iw_config::{BaseLoss, Instance, LossConfig};
        let paper = |name: &str| LossConfig::from_name(name).expect("a configuration of the paper");
        let dl = paper("dl");
        let BaseLoss::Focal { gamma: focal_gamma, alpha: focal_alpha } = paper("fl").base else {
            unreachable!("fl is a focal loss")
        };
        let BaseLoss::AsymmetricSimilarity { beta: asl_beta } = paper("asl").base else {
            unreachable!("asl is an asymmetric similarity loss")
        };
        let Instance::Blob { alpha: blob_alpha, beta: blob_beta } = paper("blob-dl").instance else {
            unreachable!("blob-dl is a blob loss")
        };
        LossCfg {
            name: dl.name(),
            w_min: dl.w_min,
            w_max: dl.w_max,
            focal_gamma,
            focal_alpha,
            asl_beta,
            blob_alpha,
            blob_beta,
            connectivity: iw_core::Connectivity::default().number(),
        }
    }
}

/// Sampler section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplerCfg {
    /// Probability of a lesion-centred patch (paper: 0.5; 0 = no lesion-centred sampling).
    pub lesion_fraction: f64,
    /// Background patch centres: `paper` (uniform over the centres whose whole patch fits;
    /// the volume's centre when the patch is longer on some axis), `per_axis` (that rule per
    /// axis) or `any_voxel` (uniform over the volume).
    pub background: iw_data::sampler::BackgroundCentre,
    /// Worker threads.
    pub workers: usize,
    /// Batches queued ahead.
    pub queue: usize,
}

impl Default for SamplerCfg {
    fn default() -> Self {
        SamplerCfg { lesion_fraction: 0.5, background: Default::default(), workers: 2, queue: 4 }
    }
}

/// Training section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingCfg {
    /// Patch `[d, h, w]`.
    pub patch: [usize; 3],
    /// Batch size.
    pub batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Iterations per epoch.
    pub iterations: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Epochs (0-based) after which the learning rate is multiplied by `lr_gamma` (deep_pipe's
    /// `Schedule`: `[80]` gives 81 epochs at `lr`).
    pub lr_milestones: Vec<usize>,
    /// Learning-rate factor.
    pub lr_gamma: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Gradient-norm clipping.
    pub clip_grad_norm: Option<f64>,
    /// bf16 autocast (CUDA).
    pub amp_bf16: bool,
    /// Epochs between whole-volume validations (each validation case predicted whole with the
    /// test-time sliding window: voxel Dice, false positives per case, predicted / true
    /// volume; [`crate::validation`]), and always after the last epoch; 0: none. The patch
    /// validation runs every epoch regardless.
    pub validate_every: usize,
    /// Seed (paper: 0xBadCafe).
    pub seed: u64,
    /// `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// CPU threads for libtorch (default: libtorch's choice).
    pub threads: Option<i32>,
    // Speed options (issue 21; `iw_models::performance` says what each does on the CPU).
    /// Channels-last 3D memory format of weights and inputs (CPU and CUDA).
    pub channels_last: bool,
    /// cuDNN benchmark mode (CUDA; no effect on the CPU).
    pub cudnn_benchmark: bool,
    /// Batches staged in pinned memory and copied with `non_blocking` (CUDA; no effect on
    /// the CPU).
    pub pin_memory: bool,
    /// Batches converted and sent to the device ahead of the step (0: none).
    pub prefetch: usize,
    /// CUDA graphs: tch 0.26 has no binding for them, so only `false` is accepted.
    pub cuda_graphs: bool,
}

impl Default for TrainingCfg {
    fn default() -> Self {
        TrainingCfg {
            patch: [128, 128, 128],
            batch: 2,
            epochs: 100,
            iterations: 100,
            lr: 1e-2,
            lr_milestones: vec![80],
            lr_gamma: 0.1,
            momentum: 0.9,
            nesterov: true,
            clip_grad_norm: None,
            amp_bf16: false,
            // Every 5 epochs, at most ~5 % of training time at the CPU scale (measured 2026-12-04,
            // dl, 900 steps, one thread, the 2-core VM under load): a pass over its one validation
            // case (43 x 58 x 58 voxels, one 48 x 64 x 64 tile) took 0.7 s of CPU, about 5
            // training steps; 5 passes added 3 % to the run's CPU time (129.0 s against 125.4 s),
            // a pass every epoch 14 % (142.8 s). The paper's 100 epochs: 20 passes.
            validate_every: 5,
            seed: 0xBADCAFE,
            device: "auto".into(),
            threads: None,
            channels_last: false,
            cudnn_benchmark: false,
            pin_memory: false,
            prefetch: 0,
            cuda_graphs: false,
        }
    }
}

/// Inference section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InferenceCfg {
    /// Patch `[d, h, w]`.
    pub patch: [i64; 3],
    /// Stride.
    pub stride: [i64; 3],
    /// `paper`: each tile padded to a multiple of this; `flush`: the volume.
    pub divisor: i64,
    /// `paper` (deep_pipe's patches_grid: centred zero padding to patch + k stride, regular
    /// tiles, probabilities and logits averaged separately) or `flush` (padding at the end, the
    /// last tile at the border, probabilities = sigmoid of the averaged logits).
    pub grid: iw_config::Grid,
    /// Gaussian weighting of overlaps (nnU-Net).
    pub gaussian: bool,
    /// Mirroring test-time augmentation.
    pub mirror: bool,
}

impl Default for InferenceCfg {
    /// iw-config's [`iw_config::InferenceConfig`] defaults (the paper's tiling).
    fn default() -> Self {
        let c = iw_config::InferenceConfig::default();
        InferenceCfg {
            patch: c.patch_dhw,
            stride: c.stride_dhw,
            divisor: c.divisor,
            grid: c.grid,
            gaussian: c.gaussian,
            mirror: c.mirror,
        }
    }
}

impl InferenceCfg {
    /// The library's inference settings.
    pub fn config(&self) -> iw_config::InferenceConfig {
        iw_config::InferenceConfig {
            patch_dhw: self.patch,
            stride_dhw: self.stride,
            divisor: self.divisor,
            grid: self.grid,
            gaussian: self.gaussian,
            mirror: self.mirror,
        }
    }
}

/// Evaluation section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationCfg {
    /// Small-lesion threshold, diameter in voxels (default: by dataset; for synthetic data the
    /// dataset's `small_below_equivalent`).
    pub small_below: Option<f64>,
}

/// A whole experiment as written (YAML): every key with its default, strings as spelled. What
/// config.yaml holds and the settings hash covers; [`Experiment::check`] makes it an
/// [`Experiment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawExperiment {
    /// A parent file (resolved away after loading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Method name (runs/<dataset>/<name>/); default: the loss name.
    pub name: Option<String>,
    /// Dataset.
    pub dataset: DatasetCfg,
    /// Model.
    pub model: ModelCfg,
    /// Loss.
    pub loss: LossCfg,
    /// Sampler.
    pub sampler: SamplerCfg,
    /// Training.
    pub training: TrainingCfg,
    /// Inference.
    pub inference: InferenceCfg,
    /// Evaluation.
    pub evaluation: EvaluationCfg,
}

/// A valid range of a numeric key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// `[lo, hi]`.
    Closed(f64, f64),
    /// `(lo, hi]`.
    OpenClosed(f64, f64),
    /// `[lo, hi)`.
    ClosedOpen(f64, f64),
}

impl Range {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: f64) -> bool {
        match *self {
            Range::Closed(lo, hi) => lo <= v && v <= hi,
            Range::OpenClosed(lo, hi) => lo < v && v <= hi,
            Range::ClosedOpen(lo, hi) => lo <= v && v < hi,
        }
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hi = |h: f64| if h == f64::MAX { "inf".to_string() } else { h.to_string() };
        match *self {
            Range::Closed(lo, h) if h == f64::MAX => write!(f, ">= {lo}"),
            Range::OpenClosed(lo, h) if h == f64::MAX => write!(f, "> {lo}"),
            Range::Closed(lo, h) => write!(f, "in [{lo}, {}]", hi(h)),
            Range::OpenClosed(lo, h) => write!(f, "in ({lo}, {}]", hi(h)),
            Range::ClosedOpen(lo, h) => write!(f, "in [{lo}, {})", hi(h)),
        }
    }
}

/// A name that becomes one part of a path (`runs/<dataset.name>/<method>/`): not empty, no
/// separator, not `.`/`..`, no leading dot, no NUL.
pub fn check_path_part(key: &str, name: &str) -> anyhow::Result<()> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.contains("..")
        || name.trim() != name;
    if bad {
        bail!("{key} = {name:?}: must be a plain folder name (not empty, no '/', '\\' or '..', no leading '.')");
    }
    Ok(())
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// How experiment files are read: [`read_file`] from the file system; the fuzz target and tests
/// read from memory.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Reads an experiment file from the file system, refusing one over 1 MiB (an experiment is a
/// few hundred bytes; the YAML parser holds the whole text and its tree in memory).
pub fn read_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    const LIMIT: u64 = 1 << 20;
    let mut text = String::new();
    std::fs::File::open(path)?.take(LIMIT + 1).read_to_string(&mut text)?;
    if text.len() as u64 > LIMIT {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "larger than 1 MiB: not an experiment file"));
    }
    Ok(text)
}

/// Loads one file and its parents into a merged YAML value; checks each file's keys on the way.
fn load_value(path: &Path, depth: usize, read: ReadFile<'_>) -> anyhow::Result<Value> {
    if depth > 16 {
        bail!("{}: `extends` chain longer than 16 (a cycle?)", path.display());
    }
    let text = read(path).with_context(|| format!("reading {}", path.display()))?;
    // Each file alone must only use known keys (errors name the line).
    let _: RawExperiment = serde_norway::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut v: Value = serde_norway::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if v.is_null() {
        v = Value::Mapping(Default::default());
    }
    let parent = v.as_mapping_mut().and_then(|m| m.remove("extends"));
    match parent {
        Some(Value::String(p)) => {
            let pp = path.parent().unwrap_or(Path::new(".")).join(&p);
            let mut base =
                load_value(&pp, depth + 1, read).with_context(|| format!("{}: in `extends: {p}`", path.display()))?;
            merge(&mut base, v);
            Ok(base)
        }
        Some(other) => bail!("{}: `extends` must be a path, got {other:?}", path.display()),
        None => Ok(v),
    }
}

/// Applies `key.path=value` overrides.
fn apply_sets(v: &mut Value, sets: &[String]) -> anyhow::Result<()> {
    for s in sets {
        let (key, val) = s.split_once('=').ok_or_else(|| anyhow!("--set {s:?}: expected key.path=value"))?;
        let parsed: Value =
            serde_norway::from_str(val).map_err(|e| anyhow!("--set {key}: cannot read value {val:?}: {e}"))?;
        // The value alone over the defaults: a wrong type or an unknown key names this --set.
        let mut alone = serde_norway::to_value(RawExperiment::default()).expect("an experiment serialises");
        set_one(&mut alone, key, parsed.clone())?;
        serde_norway::from_value::<RawExperiment>(alone).map_err(|e| anyhow!("--set {key}={val}: {e}"))?;
        set_one(v, key, parsed)?;
    }
    Ok(())
}

/// Sets one dotted key of a YAML value (sections created as needed).
fn set_one(v: &mut Value, key: &str, parsed: Value) -> anyhow::Result<()> {
    let mut cur = v;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let m =
            cur.as_mapping_mut().ok_or_else(|| anyhow!("--set {key}: {} is not a section", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            m.insert(Value::String(part.to_string()), parsed);
            break;
        }
        if m.get(*part).is_none() {
            m.insert(Value::String(part.to_string()), Value::Mapping(Default::default()));
        }
        cur = m.get_mut(*part).expect("inserted above");
    }
    Ok(())
}

/// A checked experiment: a [`RawExperiment`] whose values are in range, with the strings the
/// stages act on parsed once: the loss ([`iw_config::LossConfig`]), the device
/// ([`iw_config::DeviceSpec`]) and the components' connectivity. Read-only: its sections read
/// through `Deref` (`exp.training.patch`); config.yaml and the settings hash are the raw
/// experiment's ([`Experiment::raw`]), so they are what the user wrote, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    raw: RawExperiment,
    loss_config: iw_config::LossConfig,
    device: iw_config::DeviceSpec,
    connectivity: iw_core::Connectivity,
}

impl std::ops::Deref for Experiment {
    type Target = RawExperiment;

    fn deref(&self) -> &RawExperiment {
        &self.raw
    }
}

impl Default for Experiment {
    /// The paper's experiment (every default).
    fn default() -> Self {
        Experiment::check(RawExperiment::default()).expect("the defaults are a valid experiment")
    }
}

impl Experiment {
    /// Loads a file (with its `extends` chain) and applies `--set` overrides.
    pub fn load(path: &Path, sets: &[String]) -> anyhow::Result<Self> {
        Self::load_with(path, &[], sets)
    }

    /// Loads a file, merges overlay files over it (each with its own `extends`), then `--set`.
    pub fn load_with(path: &Path, overlays: &[PathBuf], sets: &[String]) -> anyhow::Result<Self> {
        Self::load_from(path, overlays, sets, &read_file)
    }

    /// [`Experiment::load_with`], the files read by `read`.
    pub fn load_from(path: &Path, overlays: &[PathBuf], sets: &[String], read: ReadFile<'_>) -> anyhow::Result<Self> {
        let mut v = load_value(path, 0, read)?;
        for o in overlays {
            merge(&mut v, load_value(o, 0, read)?);
        }
        apply_sets(&mut v, sets)?;
        let e: RawExperiment =
            serde_norway::from_value(v).map_err(|e| anyhow!("{} (after extends and --set): {e}", path.display()))?;
        Experiment::check(e).with_context(|| path.display().to_string())
    }

    /// Checks a raw experiment ([`RawExperiment::validate`]) and parses its loss, device and
    /// connectivity.
    pub fn check(raw: RawExperiment) -> anyhow::Result<Self> {
        raw.validate()?;
        let loss_config = raw.loss_config()?;
        // The spelling only: an experiment for a GPU validates on a machine without one.
        let device = iw_config::DeviceSpec::parse(&raw.training.device).context("training.device")?;
        let connectivity = iw_core::Connectivity::from_number(raw.loss.connectivity).context("loss.connectivity")?;
        Ok(Experiment { raw, loss_config, device, connectivity })
    }

    /// The experiment as written (config.yaml, the settings hash).
    pub fn raw(&self) -> &RawExperiment {
        &self.raw
    }

    /// The loss (`loss.name` and its parameters).
    pub fn loss_config(&self) -> &iw_config::LossConfig {
        &self.loss_config
    }

    /// `training.device`.
    pub fn device(&self) -> iw_config::DeviceSpec {
        self.device
    }

    /// `loss.connectivity`: of the components the weights use.
    pub fn connectivity(&self) -> iw_core::Connectivity {
        self.connectivity
    }

    /// The experiment of seed index `k`: `training.seed + k` (a grid's `experiment_<k>`).
    pub fn with_seed_index(mut self, k: usize) -> Self {
        self.raw.training.seed += k as u64;
        self
    }
}

impl RawExperiment {
    /// The method name.
    pub fn method(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.loss.name.clone())
    }

    /// Every numeric key with its valid range (one table: `validate` checks each, naming the
    /// key). Bounds are inclusive unless marked open; each value must also be finite.
    pub fn numeric_keys(&self) -> Vec<(String, f64, Range)> {
        use Range::*;
        let (t, l, i) = (&self.training, &self.loss, &self.inference);
        let mut v: Vec<(String, f64, Range)> = vec![
            ("model.width".into(), self.model.width, OpenClosed(0.0, 64.0)),
            ("model.depth".into(), self.model.depth as f64, Closed(1.0, 8.0)),
            ("loss.w_min".into(), l.w_min, OpenClosed(0.0, f64::MAX)),
            ("loss.w_max".into(), l.w_max, Closed(l.w_min, f64::MAX)),
            ("loss.focal_gamma".into(), l.focal_gamma, Closed(0.0, 100.0)),
            ("loss.focal_alpha".into(), l.focal_alpha, Closed(0.0, 1.0)),
            ("loss.asl_beta".into(), l.asl_beta, OpenClosed(0.0, 100.0)),
            ("loss.blob_alpha".into(), l.blob_alpha, Closed(0.0, 1e6)),
            ("loss.blob_beta".into(), l.blob_beta, Closed(0.0, 1e6)),
            ("sampler.lesion_fraction".into(), self.sampler.lesion_fraction, Closed(0.0, 1.0)),
            ("sampler.workers".into(), self.sampler.workers as f64, Closed(1.0, 256.0)),
            ("sampler.queue".into(), self.sampler.queue as f64, Closed(1.0, 1024.0)),
            ("training.batch".into(), t.batch as f64, Closed(1.0, 4096.0)),
            ("training.epochs".into(), t.epochs as f64, Closed(1.0, 1e6)),
            ("training.iterations".into(), t.iterations as f64, Closed(1.0, 1e7)),
            ("training.validate_every".into(), t.validate_every as f64, Closed(0.0, 1e6)),
            ("training.lr".into(), t.lr, OpenClosed(0.0, 10.0)),
            ("training.lr_gamma".into(), t.lr_gamma, OpenClosed(0.0, 10.0)),
            ("training.momentum".into(), t.momentum, ClosedOpen(0.0, 1.0)),
            ("inference.divisor".into(), i.divisor as f64, Closed(1.0, 4096.0)),
        ];
        for (k, p) in t.patch.iter().enumerate() {
            v.push((format!("training.patch[{k}]"), *p as f64, Closed(1.0, 4096.0)));
        }
        for (k, p) in i.patch.iter().enumerate() {
            v.push((format!("inference.patch[{k}]"), *p as f64, Closed(1.0, 65536.0)));
            v.push((format!("inference.stride[{k}]"), i.stride[k] as f64, Closed(1.0, *p as f64)));
        }
        for (k, m) in t.lr_milestones.iter().enumerate() {
            v.push((format!("training.lr_milestones[{k}]"), *m as f64, Closed(0.0, 1e6)));
        }
        if let Some(c) = t.clip_grad_norm {
            v.push(("training.clip_grad_norm".into(), c, OpenClosed(0.0, f64::MAX)));
        }
        if let Some(n) = t.threads {
            v.push(("training.threads".into(), n as f64, Closed(1.0, 4096.0)));
        }
        if let Some(s) = self.evaluation.small_below {
            v.push(("evaluation.small_below".into(), s, OpenClosed(0.0, f64::MAX)));
        }
        if let Some([lo, hi]) = self.dataset.window {
            v.push(("dataset.window[0]".into(), lo, Closed(-1e9, 1e9)));
            // Not empty: the high end above the low end.
            v.push(("dataset.window[1]".into(), hi, OpenClosed(lo, 1e9)));
        }
        v
    }

    /// Checks values that serde cannot: every numeric key against [`RawExperiment::numeric_keys`],
    /// the names that become parts of paths, and the combinations.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (key, value, range) in self.numeric_keys() {
            if !value.is_finite() || !range.contains(value) {
                bail!("{key} = {value}: must be {range}");
            }
        }
        check_path_part("dataset.name", &self.dataset.name)?;
        check_path_part(if self.name.is_some() { "name" } else { "loss.name (the method name)" }, &self.method())?;
        self.loss_config()?;
        if ![6, 18, 26].contains(&self.loss.connectivity) {
            bail!("loss.connectivity must be 6, 18 or 26, got {}", self.loss.connectivity);
        }
        let div = 1i64 << self.model.depth;
        if let Some(p) = self.training.patch.iter().find(|&&p| p as i64 % div != 0) {
            bail!("training.patch: {p} is not divisible by {div} (2^model.depth)");
        }
        if self.inference.divisor % div != 0 {
            bail!("inference.divisor = {}: must be a multiple of {div} (2^model.depth)", self.inference.divisor);
        }
        // The spelling only: an experiment for a GPU validates on a machine without one.
        iw_config::DeviceSpec::parse(&self.training.device).context("training.device")?;
        self.validate_speed_options()?;
        Ok(())
    }

    /// The speed options of issue 21 (`training.channels_last` ... `training.cuda_graphs`).
    fn validate_speed_options(&self) -> anyhow::Result<()> {
        let t = &self.training;
        if t.cuda_graphs {
            bail!("training.cuda_graphs: tch 0.26 has no binding for CUDA graphs (at::cuda::CUDAGraph); only false is accepted");
        }
        if t.prefetch > 64 {
            bail!("training.prefetch must be at most 64 batches, got {}", t.prefetch);
        }
        Ok(())
    }

    /// The loss configuration (parsed once by [`Experiment::check`]).
    fn loss_config(&self) -> anyhow::Result<iw_config::LossConfig> {
        let mut c = iw_config::LossConfig::from_name(&self.loss.name)?;
        c.w_min = self.loss.w_min;
        c.w_max = self.loss.w_max;
        c.base = match c.base {
            iw_config::BaseLoss::Focal { .. } => {
                iw_config::BaseLoss::Focal { gamma: self.loss.focal_gamma, alpha: self.loss.focal_alpha }
            }
            iw_config::BaseLoss::AsymmetricSimilarity { .. } => {
                iw_config::BaseLoss::AsymmetricSimilarity { beta: self.loss.asl_beta }
            }
            b => b,
        };
        if let iw_config::Instance::Blob { .. } = c.instance {
            c.instance = iw_config::Instance::Blob { alpha: self.loss.blob_alpha, beta: self.loss.blob_beta };
        }
        c.validate()?;
        Ok(c)
    }

    /// The resolved configuration as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("an experiment serialises")
    }
}
