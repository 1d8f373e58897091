//! Voxel-wise losses: BCE, adaptive weighted CE, focal. Each is a mean over every voxel of the
//! batch; a weight multiplies each voxel's term (inverse weighting: `iwbce`, `iwfl`).
//!
//! With x the logit, t the target in {0, 1}, p = sigmoid(x), w the weight (1 when absent):
//!
//! ```text
//! BCE   = mean( w * [ max(x, 0) - x t + ln(1 + e^-|x|) ] )
//! WCE   = mean( w * [ -pos_w t ln p - (1 - t) ln(1 - p) ] ),
//!         pos_w = (numel - sum p) / max(sum p, 1)   (adaptive, per batch, no gradient)
//! focal = mean( w * alpha_t (1 - p_t)^gamma * BCE ),  p_t = p if t = 1 else 1 - p,
//!         alpha_t = alpha if t = 1 else 1 - alpha;    1 - p_t = p + t - 2 p t (t in {0, 1})
//! ```
//!
//! The cross-entropy terms use libtorch's fused, stable BCE-with-logits kernel, so logits of
//! ±100 give finite values and gradients (focal's modulating factor is a probability in
//! [0, 1]; at a saturated correct voxel it is exactly 0, and so is the term). WCE's `pos_w` follows METHOD.md (predicted mass,
//! not target mass); it is treated as a constant of the batch (detached) and its denominator is
//! kept at least one voxel, so an all-background prediction gives a large finite weight rather
//! than infinity.
use crate::check::prepare;
use crate::error::Result;
use tch::{Reduction, Tensor};

/// Binary cross-entropy on logits, mean over voxels.
pub fn bce(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("bce", logits, target, weight)?;
    Ok(logits.f_binary_cross_entropy_with_logits(&t, w.as_ref(), None::<&Tensor>, Reduction::Mean)?)
}

/// WCE's adaptive positive-class weight `(numel - sum p) / max(sum p, 1)`, a detached scalar.
pub fn wce_pos_weight(logits: &Tensor) -> Result<Tensor> {
    tch::no_grad(|| -> Result<Tensor> {
        let mass = logits.f_sigmoid()?.f_sum(logits.kind())?;
        let numel = logits.numel() as f64;
        Ok((mass.f_neg()? + numel).f_div(&mass.f_clamp_min(1.0)?)?)
    })
}

/// BCE with a positive-class weight, mean over voxels.
pub fn weighted_bce(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>, pos_weight: &Tensor) -> Result<Tensor> {
    let (t, w) = prepare("weighted_bce", logits, target, weight)?;
    Ok(logits.f_binary_cross_entropy_with_logits(&t, w.as_ref(), Some(pos_weight), Reduction::Mean)?)
}

/// Adaptive weighted cross-entropy (WCE), mean over voxels.
pub fn wce(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    weighted_bce(logits, target, weight, &wce_pos_weight(logits)?)
}

/// Focal loss (Lin et al.), mean over voxels. `alpha` weighs the foreground.
pub fn focal(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>, gamma: f64, alpha: f64) -> Result<Tensor> {
    let (t, w) = prepare("focal", logits, target, weight)?;
    // Per-voxel BCE by libtorch's fused, stable kernel; 1 - p_t = p + t - 2 p t for t in {0, 1}.
    let ce = logits.f_binary_cross_entropy_with_logits(&t, None::<&Tensor>, None::<&Tensor>, Reduction::None)?;
    let p = logits.f_sigmoid()?;
    let one_minus_pt = t.f_mul(&(p.f_mul_scalar(-2.0)? + 1.0))?.f_add(&p)?;
    let modulating = if gamma == 2.0 {
        one_minus_pt.f_square()?
    } else {
        one_minus_pt.f_clamp_min(0.0)?.f_pow_tensor_scalar(gamma)?
    };
    let coeff = tch::no_grad(|| -> Result<Tensor> {
        // alpha t + (1 - alpha)(1 - t), times the weight: no gradient needed
        let a = t.f_mul_scalar(2.0 * alpha - 1.0)? + (1.0 - alpha);
        Ok(match &w {
            Some(w) => a.f_mul(w)?,
            None => a,
        })
    })?;
    let term = ce.f_mul(&modulating)?.f_mul(&coeff)?;
    Ok(term.f_mean(term.kind())?)
}
