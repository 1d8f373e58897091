//! Voxel-wise losses: BCE, adaptive weighted CE, focal. Each is a mean over every voxel of the
//! batch; a weight multiplies each voxel's term (inverse weighting: `iwbce`, `iwfl`).
//!
//! With x the logit, t the target in {0, 1}, p = sigmoid(x), w the weight (1 when absent):
//!
//! ```text
//! BCE   = mean( w * [ max(x, 0) - x t + ln(1 + e^-|x|) ] )
//! WCE   = mean( w * [ -pos_w t ln p - (1 - t) ln(1 - p) ] ),
//!         pos_w = (numel - sum p) / sum p           (adaptive, over the whole batch)
//! focal = mean( w * alpha_t (1 - p_t)^gamma * BCE ),  p_t = p if t = 1 else 1 - p,
//!         alpha_t = alpha if t = 1 else 1 - alpha;    1 - p_t = p + t - 2 p t (t in {0, 1})
//! ```
//!
//! The cross-entropy terms use libtorch's fused, stable BCE-with-logits kernel, so logits of
//! ±100 give finite values and gradients (focal's modulating factor is a probability in
//! [0, 1]; at a saturated correct voxel it is exactly 0, and so is the term).
//!
//! WCE is deep_pipe's `weighted_cross_entropy_with_logits(adaptive=True)`, the authors' code:
//! `pos_w` is computed from the predicted mass (not the target's) over every voxel of the batch
//! and is part of the graph, so the gradient also flows through it (no detach, no clamp). Its
//! share of the gradient is large: every voxel's logit moves `sum p`, hence the weight of
//! every foreground voxel. A prediction with `sum p` = 0 in the working precision (every logit
//! below about -104 in f32) makes `pos_w` infinite, as in the reference.
use crate::check::prepare;
use crate::error::Result;
use tch::{Reduction, Tensor};

/// Binary cross-entropy on logits, mean over voxels.
pub fn bce(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("bce", logits, target, weight)?;
    Ok(logits.f_binary_cross_entropy_with_logits(&t, w.as_ref(), None::<&Tensor>, Reduction::Mean)?)
}

/// WCE's adaptive positive-class weight `(numel - sum p) / sum p` over the whole batch, with
/// its gradient (deep_pipe's `adaptive=True`).
pub fn wce_pos_weight(logits: &Tensor) -> Result<Tensor> {
    let mass = logits.f_sigmoid()?.f_sum(logits.kind())?;
    Ok((mass.f_neg()? + logits.numel() as f64).f_div(&mass)?)
}

/// BCE with a positive-class weight `pos_weight` (a scalar tensor; gradients flow through it),
/// mean over voxels: `mean( w * [ -pos_w t ln p - (1 - t) ln(1 - p) ] )`, in log-sigmoids.
pub fn weighted_bce(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>, pos_weight: &Tensor) -> Result<Tensor> {
    let (t, w) = prepare("weighted_bce", logits, target, weight)?;
    // -ln p = -logsigmoid(x), -ln(1 - p) = -logsigmoid(-x): finite for any logit.
    let pos = t.f_mul(&logits.f_log_sigmoid()?)?.f_mul(pos_weight)?;
    let neg = t.f_neg()?.f_add_scalar(1.0)?.f_mul(&logits.f_neg()?.f_log_sigmoid()?)?;
    let term = pos.f_add(&neg)?.f_neg()?;
    let term = match &w {
        Some(w) => term.f_mul(w)?,
        None => term,
    };
    Ok(term.f_mean(term.kind())?)
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
