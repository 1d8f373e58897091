//! Sliding-window inference (METHOD.md, "Training": inference), two grids.
//!
//! **`Grid::Paper`** is the authors' predictor, deep_pipe's `patches_grid(160, 144)` around
//! `divisible_shape(8, np.min)` (inverse_weighting's `model/unet.config`). Per axis of length
//! `n`, with patch `p` and stride `s`:
//!
//! ```text
//! m = max(n, p);  padded = m + (s - m + p) mod s          (= p + k s, the smallest >= n)
//! pad (padded - n) / 2 (floor) before, the rest after, with 0 (patches_grid's padding_values)
//! tiles start at 0, s, 2 s, ... while start + p <= padded   (regular; no tile flush with the border)
//! each tile: padded (centred, with its own minimum) to a multiple of `divisor`, predicted,
//!            cropped back (a no-op for p = 160, divisor 8)
//! overlaps averaged (deep_pipe's combine: sum / count), sigmoid probabilities and logits
//! averaged SEPARATELY (the authors ran `predict` and `predict_logit` as two passes)
//! crop the centred window of the input's shape
//! ```
//!
//! **`Grid::Flush`** (nnU-Net-like): the volume is padded at the end of each axis with each
//! channel's minimum to a multiple of `divisor`; tiles start at 0, s, ... and the last one ends
//! at the border; probabilities are the sigmoid of the averaged logits.
//!
//! Either grid can weight overlaps by nnU-Net's Gaussian importance map (sigma = patch / 8; off
//! in the paper) and average the 8 mirrorings (test-time augmentation; off in the paper). Each
//! tile goes to any predictor (a closure: a network, or the identity in tests). Sums are kept
//! in f64, so that uniform averaging of equal values is exact. Memory: the padded volume and
//! the accumulators on the device, one tile at a time through the predictor.
use crate::error::{Error, Result};
use tch::{Device, Kind, Tensor};

pub use iw_config::inference::{Grid, InferenceConfig};

/// Logits and probabilities with the input's shape `[D, H, W]` (CPU, f32).
pub struct Prediction {
    /// Averaged logits.
    pub logits: Tensor,
    /// Averaged probabilities (paper grid) or the sigmoid of the averaged logits (flush grid).
    pub probs: Tensor,
}

/// Patch starts along one axis of the flush grid: 0, stride, ... and a last one ending at the
/// border.
fn flush_starts(n: i64, p: i64, stride: i64) -> Vec<i64> {
    if n <= p {
        return vec![0];
    }
    let mut v: Vec<i64> = (0..).map(|i| i * stride).take_while(|&s| s + p < n).collect();
    v.push(n - p);
    v.dedup();
    v
}

/// One axis of a grid: padding before and after the volume, the tile size and the tile starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AxisGrid {
    before: i64,
    after: i64,
    tile: i64,
    starts: Vec<i64>,
}

/// deep_pipe's `patches_grid` shape rule for one axis: `m = max(n, p)`, padded to
/// `m + (s - m + p) mod s`, the padding split `floor(delta / 2)` before (`pad_to_shape` with
/// ratio 0.5), tiles at `0, s, ..` that fit.
fn paper_axis(n: i64, p: i64, s: i64) -> AxisGrid {
    let m = n.max(p);
    let padded = m + (s - m + p).rem_euclid(s);
    let delta = padded - n;
    let starts = (0..).map(|i| i * s).take_while(|&st| st + p <= padded).collect();
    AxisGrid { before: delta / 2, after: delta - delta / 2, tile: p, starts }
}

/// The flush grid's axis: padding at the end to a multiple of `divisor`, the last tile at the
/// border.
fn flush_axis(n: i64, p: i64, s: i64, divisor: i64) -> AxisGrid {
    let after = (divisor - n % divisor) % divisor;
    let tile = p.min(n + after);
    AxisGrid { before: 0, after, tile, starts: flush_starts(n + after, tile, s) }
}

/// Pads the last three axes of `t` by `pads` (libtorch order: last axis first, before/after)
/// with `value`.
fn pad_with(t: &Tensor, pads: &[i64], value: f64) -> Result<Tensor> {
    Ok(t.f_pad(pads, "constant", Some(value))?)
}

/// Pads `t` (`[1, C, d, h, w]`) centred to a multiple of `divisor` per axis with `value`
/// (deep_pipe's `pad_to_divisible`, ratio 0.5); returns the padded tensor and the padding before.
fn pad_divisible(t: &Tensor, divisor: i64, value: f64) -> Result<(Tensor, [i64; 3])> {
    let s = t.size();
    let delta: Vec<i64> = (0..3).map(|a| (divisor - s[2 + a] % divisor) % divisor).collect();
    if delta.iter().all(|&d| d == 0) {
        return Ok((t.shallow_clone(), [0; 3]));
    }
    let before = [delta[0] / 2, delta[1] / 2, delta[2] / 2];
    let pads: Vec<i64> = (0..3).rev().flat_map(|a| [before[a], delta[a] - before[a]]).collect();
    Ok((pad_with(t, &pads, value)?, before))
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
    if s.iter().any(|&n| n < 1) {
        return Err(Error::Shape(format!("sliding_window: empty volume {s:?}")));
    }
    let x = x.to_device(Device::Cpu).to_kind(Kind::Float);
    let axes: Vec<AxisGrid> = (0..3)
        .map(|a| match cfg.grid {
            Grid::Paper => paper_axis(s[a], cfg.patch_dhw[a], cfg.stride_dhw[a]),
            Grid::Flush => flush_axis(s[a], cfg.patch_dhw[a], cfg.stride_dhw[a], cfg.divisor),
        })
        .collect();
    // The padded volume on `device`: 0 for the paper grid, each channel's minimum for the flush
    // grid.
    let pads: Vec<i64> = (0..3).rev().flat_map(|a| [axes[a].before, axes[a].after]).collect();
    let before = [axes[0].before, axes[1].before, axes[2].before];
    let padded = match cfg.grid {
        Grid::Paper => pad_with(&x, &pads, 0.0)?,
        Grid::Flush => Tensor::stack(
            &(0..c)
                .map(|k| {
                    let ch = x.get(k);
                    pad_with(&ch, &pads, ch.min().double_value(&[]))
                })
                .collect::<Result<Vec<_>>>()?,
            0,
        ),
    }
    .to_device(device);
    let ps = padded.size()[1..].to_vec();
    let patch = [axes[0].tile, axes[1].tile, axes[2].tile];
    let weight = if cfg.gaussian { gaussian_map(patch)? } else { Tensor::ones(patch, (Kind::Double, Device::Cpu)) }
        .to_device(device);
    let paper = cfg.grid == Grid::Paper;
    let sum = Tensor::zeros(ps.as_slice(), (Kind::Double, device));
    let psum = paper.then(|| Tensor::zeros(ps.as_slice(), (Kind::Double, device)));
    let wsum = Tensor::zeros(ps.as_slice(), (Kind::Double, device));
    let flips: Vec<Vec<i64>> = if cfg.mirror {
        vec![vec![], vec![2], vec![3], vec![4], vec![2, 3], vec![2, 4], vec![3, 4], vec![2, 3, 4]]
    } else {
        vec![vec![]]
    };
    let window =
        |t: &Tensor, z: i64, y: i64, xx: i64| t.narrow(0, z, patch[0]).narrow(1, y, patch[1]).narrow(2, xx, patch[2]);
    for &z in &axes[0].starts {
        for &y in &axes[1].starts {
            for &xx in &axes[2].starts {
                let tile = padded.narrow(1, z, patch[0]).narrow(2, y, patch[1]).narrow(3, xx, patch[2]);
                let input = tile.reshape([1, c, patch[0], patch[1], patch[2]]);
                // Paper grid: the tile padded to a multiple of `divisor` with its own minimum.
                let (input, inner) = if paper {
                    pad_divisible(&input, cfg.divisor, input.min().double_value(&[]))?
                } else {
                    (input, [0; 3])
                };
                let isz = input.size();
                let mut acc = Tensor::zeros(patch, (Kind::Double, device));
                let mut pacc = Tensor::zeros(patch, (Kind::Double, device));
                for f in &flips {
                    let inp = if f.is_empty() { input.shallow_clone() } else { input.flip(f.as_slice()) };
                    let out = tch::no_grad(|| predictor(&inp))?;
                    if out.size() != [1, 1, isz[2], isz[3], isz[4]] {
                        return Err(Error::Shape(format!(
                            "predictor returned {:?} for an input of {:?}",
                            out.size(),
                            inp.size()
                        )));
                    }
                    let out = if f.is_empty() { out } else { out.flip(f.as_slice()) };
                    let out = out
                        .to_device(device)
                        .to_kind(Kind::Double)
                        .reshape([isz[2], isz[3], isz[4]])
                        .narrow(0, inner[0], patch[0])
                        .narrow(1, inner[1], patch[1])
                        .narrow(2, inner[2], patch[2]);
                    if paper {
                        pacc += out.sigmoid();
                    }
                    acc += out;
                }
                let n = flips.len() as f64;
                let _ = window(&sum, z, y, xx).f_add_(&(acc / n * &weight))?;
                if let Some(psum) = &psum {
                    let _ = window(psum, z, y, xx).f_add_(&(pacc / n * &weight))?;
                }
                let _ = window(&wsum, z, y, xx).f_add_(&weight)?;
            }
        }
    }
    let crop = |t: Tensor| {
        t.narrow(0, before[0], s[0])
            .narrow(1, before[1], s[1])
            .narrow(2, before[2], s[2])
            .to_kind(Kind::Float)
            .to_device(Device::Cpu)
            .contiguous()
    };
    let logits = crop(&sum / &wsum);
    let probs = match psum {
        Some(psum) => crop(psum / &wsum),
        None => logits.sigmoid(),
    };
    Ok(Prediction { logits, probs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// deep_pipe's shape rule on the paper's numbers: 160 + 144 k, the smallest that holds n.
    #[test]
    fn paper_axis_pads_to_160_plus_144k() {
        for (n, padded, tiles) in [(1, 160, 1), (160, 160, 1), (161, 304, 2), (300, 304, 2), (305, 448, 3)] {
            let a = paper_axis(n, 160, 144);
            assert_eq!((a.before + n + a.after, a.starts.len()), (padded, tiles), "n = {n}");
            assert_eq!(a.before, (padded - n) / 2, "centred, the odd voxel after");
            assert_eq!(*a.starts.last().unwrap() + 160, padded, "the grid ends at the padded border");
        }
    }
}
