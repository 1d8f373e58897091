//! `iw segment`: the network of a trained run over the user's scans. The scans, their
//! preprocessing, the outputs and the lesion tables are [`crate::segment`]; this module loads
//! the checkpoint and runs the sliding window of `iw predict` on the run's device.
use crate::segment::{resolve_model, segment, NetworkInput};
use anyhow::{bail, Context};
use iw_models::{parse_device, sliding_window, DeviceSpecExt, Trainer, UNetConfig};
use iw_run::cli::SegmentArgs;
use std::path::Path;
use tch::{Kind, Tensor};

/// The network's configuration stored in a checkpoint (its `meta/json` entry).
fn checkpoint_model(path: &Path) -> anyhow::Result<UNetConfig> {
    let named =
        Tensor::read_safetensors(path).with_context(|| format!("{}: not a readable checkpoint", path.display()))?;
    let meta = named
        .iter()
        .find(|(k, _)| k == "meta/json")
        .ok_or_else(|| anyhow::anyhow!("{}: no meta/json entry (not an iw checkpoint)", path.display()))?;
    let bytes: Vec<u8> = Vec::<u8>::try_from(&meta.1)?;
    let meta: iw_models::Checkpoint =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: bad checkpoint metadata", path.display()))?;
    Ok(meta.model)
}

/// `iw segment MODEL SCAN... --out DIR`.
pub fn run(a: &SegmentArgs) -> anyhow::Result<()> {
    let (exp, checkpoint) = resolve_model(a)?;
    let model = checkpoint_model(&checkpoint)?;
    if model.in_channels != 1 {
        bail!(
            "{}: the network reads {} image channels (a multi-sequence run); iw segment reads one scan per case",
            checkpoint.display(),
            model.in_channels
        );
    }
    let t = &exp.training;
    if let Some(n) = t.threads {
        tch::set_num_threads(n);
    }
    let device = match a.device.as_deref() {
        Some(d) => parse_device(d)?,
        None => exp.device().resolve()?,
    };
    let mut trainer = Trainer::new(device, model, crate::stages::optimizer_config(&exp), t.seed as i64)?;
    trainer.load_checkpoint(&checkpoint)?;
    let icfg = exp.inference.config();
    let said = format!("{} on {device:?}", checkpoint.display());
    segment(a, &exp, &said, |input: &NetworkInput| {
        let [d, h, w] = input.shape_zyx.map(|v| v as i64);
        let x = Tensor::from_slice(&input.image).reshape([1, d, h, w]);
        let p = sliding_window(&x, &icfg, device, |x| Ok(trainer.forward(x, false)))?;
        Ok(Vec::<f32>::try_from(&p.probs.to_kind(Kind::Float).flatten(0, -1))?)
    })
}
