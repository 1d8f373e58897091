//! The two validations of a training run (`iw_run::validation` defines the scores and the
//! log): [`PatchValidation`], every epoch, on fixed patches the training sampler's rule draws
//! from the validation cases, and [`VolumeValidation`], every `training.validate_every`
//! epochs, on the whole validation cases with the test-time sliding window, as `iw predict`
//! predicts the test cases ([`predict_case`]).
use crate::stages::BatchTensors;
use iw_data::prepared::{PreparedCase, PreparedDataset};
use iw_data::sampler::{scaled_image, SamplerConfig};
use iw_losses::Compute;
use iw_models::{sliding_window, Prediction, Trainer};
use iw_run::split_ids;
use iw_run::validation::{CaseCounts, VolumeScores};
use iw_run::Experiment;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

/// One prepared case predicted whole: the sliding window of `inference.*` (eval mode, no
/// gradients) over the case's image in the dataset's window. `iw predict` writes this; the
/// whole-volume validation scores it.
pub fn predict_case(
    trainer: &Trainer,
    exp: &Experiment,
    case: &PreparedCase,
    device: Device,
) -> anyhow::Result<Prediction> {
    let [d, h, w] = case.meta.shape_zyx;
    let c = case.meta.channels.max(1) as i64;
    let vol = Tensor::from_slice(&scaled_image(case, exp.dataset.window)).reshape([c, d as i64, h as i64, w as i64]);
    let icfg = exp.inference.config();
    Ok(tch::no_grad(|| sliding_window(&vol, &icfg, device, |x| Ok(trainer.forward(x, false))))?)
}

/// A `[D, H, W]` float tensor on the CPU as float32 values, C order.
pub fn to_f32(t: &Tensor) -> anyhow::Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(&t.to_kind(Kind::Float).flatten(0, -1))?)
}

/// Validation patches drawn once, with the training sampler's rule from the validation cases,
/// on a stream of their own (so the training stream is unchanged).
pub struct PatchValidation {
    batches: Vec<iw_data::sampler::Batch>,
}

/// Patches of the validation set: batches of the training batch size.
const VALIDATION_BATCHES: u64 = 4;

impl PatchValidation {
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
        Ok(Some(PatchValidation { batches }))
    }

    /// Evaluates `trainer` (eval mode, no gradients) with `loss_cfg`: the mean loss and the
    /// Dice (logit > 0, pooled over the patches).
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

/// The whole validation cases, predicted as the test cases are.
pub struct VolumeValidation {
    cases_dir: PathBuf,
    ids: Vec<String>,
}

impl VolumeValidation {
    /// `None` when `training.validate_every` is 0 or the split has no validation case.
    pub fn new(exp: &Experiment) -> anyhow::Result<Option<Self>> {
        if exp.training.validate_every == 0 {
            return Ok(None);
        }
        let ids = split_ids(exp, "validation")?;
        if ids.is_empty() {
            return Ok(None);
        }
        // Open each case once now: a missing or corrupt one fails before training starts.
        let cases_dir = exp.dataset.prepared.join("cases");
        for id in &ids {
            PreparedCase::open(&cases_dir, id)?;
        }
        Ok(Some(VolumeValidation { cases_dir, ids }))
    }

    /// Scores `trainer` on every validation case (P = probability > 0.5, as `iw predict`'s
    /// `<case>_pred.nii.gz`). The cases are read one at a time, so the pass holds one volume.
    pub fn evaluate(&self, trainer: &Trainer, exp: &Experiment, device: Device) -> anyhow::Result<VolumeScores> {
        let mut counts = Vec::with_capacity(self.ids.len());
        for id in &self.ids {
            let case = PreparedCase::open(&self.cases_dir, id)?;
            let p = predict_case(trainer, exp, &case, device)?;
            let [d, h, w] = case.meta.shape_zyx;
            let pred: Vec<u8> = to_f32(&p.probs)?.iter().map(|&v| u8::from(v > 0.5)).collect();
            let pred = ndarray::Array3::from_shape_vec((d, h, w), pred)?;
            let truth = ndarray::ArrayView3::from_shape((d, h, w), case.mask())?;
            counts.push(CaseCounts::of(pred.view(), truth)?);
        }
        Ok(VolumeScores::pool(&counts).expect("at least one validation case (new)"))
    }

    /// The number of validation cases.
    pub fn cases(&self) -> usize {
        self.ids.len()
    }
}
