//! Sliding-window inference (METHOD.md, "Training": inference).
//!
//! The volume is padded (with its minimum) to a multiple of `divisor`, covered by a grid of
//! patches (`patch`, `stride`; the last patch of an axis ends at the border) and each patch is
//! passed to any predictor (a closure: a network, or the identity in tests). Overlapping logits
//! are averaged, with uniform weights (the paper) or nnU-Net's Gaussian importance map
//! (sigma = patch / 8); mirroring test-time augmentation averages the 8 flips. Sums are kept in
//! f64, so that uniform averaging of equal values is exact. Probabilities are the sigmoid of
//! the averaged logits. Memory is one patch on the device plus the output arrays.
use crate::error::{Error, Result};
use tch::{Device, Kind, Tensor};

/// Inference settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InferenceConfig {
    /// Patch size `[d, h, w]` (paper: 160).
    pub patch_dhw: [i64; 3],
    /// Stride (paper: 144).
    pub stride_dhw: [i64; 3],
    /// Pad the volume to a multiple of this (paper: 8).
    pub divisor: i64,
    /// nnU-Net's Gaussian weighting of overlaps (off in the paper).
    pub gaussian: bool,
    /// Mirroring test-time augmentation over the 3 axes (off in the paper).
    pub mirror: bool,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig { patch_dhw: [160; 3], stride_dhw: [144; 3], divisor: 8, gaussian: false, mirror: false }
    }
}

/// Logits and probabilities with the input's shape `[D, H, W]` (CPU, f32).
pub struct Prediction {
    /// Averaged logits.
    pub logits: Tensor,
    /// Sigmoid of the logits.
    pub probs: Tensor,
}

/// Pads `x` (`[D, H, W]`) at the end of each axis to a multiple of `divisor` with `value`.
pub fn pad_to_multiple(x: &Tensor, divisor: i64, value: f64) -> Result<Tensor> {
    let s = x.size();
    let pads: Vec<i64> = (0..3).rev().flat_map(|a| [0, (divisor - s[a] % divisor) % divisor]).collect();
    x.f_constant_pad_nd(pads.as_slice())?.f_fill_value_outside(&s, value)
}

trait FillOutside {
    fn f_fill_value_outside(&self, inner: &[i64], value: f64) -> Result<Tensor>;
}

impl FillOutside for Tensor {
    /// constant_pad_nd pads with 0; put `value` in the padded region.
    fn f_fill_value_outside(&self, inner: &[i64], value: f64) -> Result<Tensor> {
        if value == 0.0 {
            return Ok(self.shallow_clone());
        }
        let out = self.copy();
        for a in 0..3 {
            let n = self.size()[a];
            if n > inner[a] {
                let _ = out.f_narrow(a as i64, inner[a], n - inner[a])?.f_fill_(value)?;
            }
        }
        Ok(out)
    }
}

/// Patch starts along one axis: 0, stride, ... and a last one ending at the border.
fn starts(n: i64, p: i64, stride: i64) -> Vec<i64> {
    if n <= p {
        return vec![0];
    }
    let mut v: Vec<i64> = (0..).map(|i| i * stride).take_while(|&s| s + p < n).collect();
    v.push(n - p);
    v.dedup();
    v
}

fn gaussian_map(p: [i64; 3]) -> Result<Tensor> {
    let axis = |n: i64| {
        let sigma = n as f64 / 8.0;
        let c = (n as f64 - 1.0) / 2.0;
        Tensor::from_slice(
            &(0..n).map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp()).collect::<Vec<f64>>(),
        )
    };
    let g = axis(p[0]).reshape([p[0], 1, 1]) * axis(p[1]).reshape([1, p[1], 1]) * axis(p[2]).reshape([1, 1, p[2]]);
    let g = &g / g.max();
    // Never 0: nnU-Net clamps to the smallest non-zero value.
    let min_pos = g.masked_select(&g.gt(0.0)).min();
    Ok(g.f_clamp_min_tensor(&min_pos)?)
}

/// Runs `predictor` (`[1, C, d, h, w]` -> `[1, 1, d, h, w]` logits on `device`) over the volume
/// `x` (`[D, H, W]`, or `[C, D, H, W]` for C channels; any device) and returns averaged logits
/// and probabilities (`[D, H, W]`) on the CPU.
pub fn sliding_window(
    x: &Tensor,
    cfg: &InferenceConfig,
    device: Device,
    mut predictor: impl FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Prediction> {
    // [D, H, W] or [C, D, H, W].
    let x = match x.size().len() {
        3 => x.unsqueeze(0),
        4 => x.shallow_clone(),
        _ => {
            return Err(Error::Shape(format!(
                "sliding_window takes a [D, H, W] or [C, D, H, W] volume, got {:?}",
                x.size()
            )))
        }
    };
    let c = x.size()[0];
    let s = x.size()[1..].to_vec();
    if cfg.divisor < 1 || cfg.patch_dhw.iter().chain(&cfg.stride_dhw).any(|&v| v < 1) {
        return Err(Error::Config(format!("patch, stride and divisor must be positive: {cfg:?}")));
    }
    let x = x.to_device(Device::Cpu).to_kind(Kind::Float);
    // Each channel padded with its minimum; tiles are cut and averaged on `device` (one copy
    // of the volume there, none per tile).
    let padded = Tensor::stack(
        &(0..c)
            .map(|k| {
                let ch = x.get(k);
                pad_to_multiple(&ch, cfg.divisor, ch.min().double_value(&[]))
            })
            .collect::<Result<Vec<_>>>()?,
        0,
    )
    .to_device(device);
    let ps = padded.size()[1..].to_vec();
    let patch: [i64; 3] = [0, 1, 2].map(|a| cfg.patch_dhw[a].min(ps[a]));
    let weight = if cfg.gaussian { gaussian_map(patch)? } else { Tensor::ones(patch, (Kind::Double, Device::Cpu)) }
        .to_device(device);
    let sum = Tensor::zeros(ps.as_slice(), (Kind::Double, device));
    let wsum = Tensor::zeros(ps.as_slice(), (Kind::Double, device));
    let flips: Vec<Vec<i64>> = if cfg.mirror {
        vec![vec![], vec![2], vec![3], vec![4], vec![2, 3], vec![2, 4], vec![3, 4], vec![2, 3, 4]]
    } else {
        vec![vec![]]
    };
    for &z in &starts(ps[0], patch[0], cfg.stride_dhw[0]) {
        for &y in &starts(ps[1], patch[1], cfg.stride_dhw[1]) {
            for &xx in &starts(ps[2], patch[2], cfg.stride_dhw[2]) {
                let tile = padded.narrow(1, z, patch[0]).narrow(2, y, patch[1]).narrow(3, xx, patch[2]);
                let input = tile.reshape([1, c, patch[0], patch[1], patch[2]]);
                let mut acc = Tensor::zeros(patch, (Kind::Double, device));
                for f in &flips {
                    let inp = if f.is_empty() { input.shallow_clone() } else { input.flip(f.as_slice()) };
                    let out = tch::no_grad(|| predictor(&inp))?;
                    if out.size() != [1, 1, patch[0], patch[1], patch[2]] {
                        return Err(Error::Shape(format!(
                            "predictor returned {:?} for an input of {:?}",
                            out.size(),
                            inp.size()
                        )));
                    }
                    let out = if f.is_empty() { out } else { out.flip(f.as_slice()) };
                    acc += out.to_device(device).to_kind(Kind::Double).reshape(patch);
                }
                let acc = acc / flips.len() as f64;
                let _ = sum
                    .narrow(0, z, patch[0])
                    .narrow(1, y, patch[1])
                    .narrow(2, xx, patch[2])
                    .f_add_(&(&acc * &weight))?;
                let _ = wsum.narrow(0, z, patch[0]).narrow(1, y, patch[1]).narrow(2, xx, patch[2]).f_add_(&weight)?;
            }
        }
    }
    let logits = (sum / wsum)
        .narrow(0, 0, s[0])
        .narrow(1, 0, s[1])
        .narrow(2, 0, s[2])
        .to_kind(Kind::Float)
        .to_device(Device::Cpu)
        .contiguous();
    let probs = logits.sigmoid();
    Ok(Prediction { logits, probs })
}
