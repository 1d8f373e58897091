//! Region losses: Dice, generalized Dice, asymmetric similarity. Sums run over every voxel of
//! a sample (all dimensions but the batch), the loss is the mean over the batch; a weight goes
//! inside every voxel term of the sums (inverse weighting: `iwdl`, `iwasl`).
//!
//! With p = sigmoid(x), t the target, w the weight (1 when absent), eps = 1e-10:
//!
//! ```text
//! Dice = 1 - (2 S(w p t) + eps) / (S(w (p^2 + t^2)) + eps)
//! GDL  = 1 - (2 sum_c v_c S(w p_c t_c) + eps) / (sum_c v_c S(w (p_c^2 + t_c^2)) + eps),
//!        classes c = fg (p, t) and bg (1 - p, 1 - t), v_c = 1 / (1 + S(t_c)^2)
//! ASL  = 1 - ((1 + beta^2) S(w p t) + eps) / (S(w (beta^2 t^2 + p^2)) + eps)
//! ```
//!
//! `eps` only matters when both sums are ~0 (an empty target and an empty prediction), where it
//! makes the loss 0 instead of NaN. Sums are per sample, in the logits' kind; the target-only
//! sums `S(w t^2)` are taken without gradient and `p^2 + t^2` is never materialised.
use crate::check::prepare;
use crate::error::Result;
use tch::Tensor;

/// Smoothing of the region losses.
pub const EPS: f64 = 1e-10;

/// Per-sample sums `S(a b)`. (A batched matrix product `[B, 1, N] x [B, N, 1]` avoids the
/// temporary but measured twice as slow on the CPU: see BENCHMARKS.md.)
fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let n = a.size()[0];
    let ab = a.f_mul(b)?;
    Ok(ab.f_reshape([n, -1])?.f_sum_dim_intlist([1].as_slice(), false, ab.kind())?)
}

/// `x * w`, or `x` when there is no weight.
fn times(x: &Tensor, w: &Option<Tensor>) -> Result<Tensor> {
    Ok(match w {
        Some(w) => x.f_mul(w)?,
        None => x.shallow_clone(),
    })
}

/// `1 - (a + eps) / (b + eps)`, averaged over the batch.
fn ratio_loss(num: Tensor, den: Tensor) -> Result<Tensor> {
    let r = (num + EPS).f_div(&(den + EPS))?;
    let l = r.f_neg()? + 1.0;
    Ok(l.f_mean(l.kind())?)
}

/// The three sums of a region loss on one class: `S(w p t)`, `S(w p^2)` and `S(w t^2)` (the
/// last without gradient).
fn class_sums(p: &Tensor, t: &Tensor, w: &Option<Tensor>) -> Result<(Tensor, Tensor, Tensor)> {
    let wt = tch::no_grad(|| times(t, w))?;
    let inter = dot(p, &wt)?;
    let pp = match w {
        Some(w) => dot(p, &p.f_mul(w)?)?,
        None => dot(p, p)?,
    };
    let tt = tch::no_grad(|| dot(&wt, t))?;
    Ok((inter, pp, tt))
}

/// Soft Dice loss (Milletari et al., squared denominator).
pub fn dice(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("dice", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let (inter, pp, tt) = class_sums(&p, &t, &w)?;
    ratio_loss(inter * 2.0, pp + tt)
}

/// Generalized Dice loss (Sudre et al.) over the foreground and background classes.
pub fn generalized_dice(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("generalized_dice", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let q = p.f_neg()? + 1.0;
    let u = tch::no_grad(|| t.f_neg().map(|x| x + 1.0))?;
    let class_weight = |tc: &Tensor| -> Result<Tensor> {
        tch::no_grad(|| {
            let n = tc.size()[0];
            let s = tc.f_reshape([n, -1])?.f_sum_dim_intlist([1].as_slice(), false, tc.kind())?;
            Ok((s.f_square()? + 1.0).f_reciprocal()?)
        })
    };
    let (v_fg, v_bg) = (class_weight(&t)?, class_weight(&u)?);
    let (i_fg, pp_fg, tt_fg) = class_sums(&p, &t, &w)?;
    let (i_bg, pp_bg, tt_bg) = class_sums(&q, &u, &w)?;
    let num = (v_fg.f_mul(&i_fg)? + v_bg.f_mul(&i_bg)?) * 2.0;
    let den = v_fg.f_mul(&(pp_fg + tt_fg))? + v_bg.f_mul(&(pp_bg + tt_bg))?;
    ratio_loss(num, den)
}

/// Asymmetric similarity loss (Hashemi et al.), `beta` > 1 favours recall.
pub fn asymmetric_similarity(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>, beta: f64) -> Result<Tensor> {
    let (t, w) = prepare("asymmetric_similarity", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let b2 = beta * beta;
    let (inter, pp, tt) = class_sums(&p, &t, &w)?;
    ratio_loss(inter * (1.0 + b2), tt * b2 + pp)
}
