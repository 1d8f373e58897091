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
//! makes the loss 0 instead of NaN. Sums are taken in the logits' kind, per sample.
use crate::check::{prepare, sample_dims};
use crate::error::Result;
use tch::Tensor;

/// Smoothing of the region losses.
pub const EPS: f64 = 1e-10;

fn weighted(x: Tensor, w: &Option<Tensor>) -> Result<Tensor> {
    Ok(match w {
        Some(w) => x.f_mul(w)?,
        None => x,
    })
}

fn per_sample_sum(x: &Tensor) -> Result<Tensor> {
    Ok(x.f_sum_dim_intlist(sample_dims(x).as_slice(), false, x.kind())?)
}

/// `1 - (a + eps) / (b + eps)`, averaged over the batch.
fn ratio_loss(num: Tensor, den: Tensor) -> Result<Tensor> {
    let r = (num + EPS).f_div(&(den + EPS))?;
    let l = r.f_neg()? + 1.0;
    Ok(l.f_mean(l.kind())?)
}

/// Soft Dice loss (Milletari et al., squared denominator).
pub fn dice(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("dice", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let inter = per_sample_sum(&weighted(p.f_mul(&t)?, &w)?)?;
    let den = per_sample_sum(&weighted(p.f_square()?.f_add(&t.f_square()?)?, &w)?)?;
    ratio_loss(inter * 2.0, den)
}

/// Generalized Dice loss (Sudre et al.) over the foreground and background classes.
pub fn generalized_dice(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let (t, w) = prepare("generalized_dice", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let (q, u) = (p.f_neg()? + 1.0, t.f_neg()? + 1.0); // background p, t
    let t_fg = per_sample_sum(&t)?;
    let t_bg = per_sample_sum(&u)?;
    let v_fg = (t_fg.f_square()? + 1.0).f_reciprocal()?;
    let v_bg = (t_bg.f_square()? + 1.0).f_reciprocal()?;
    let i_fg = per_sample_sum(&weighted(p.f_mul(&t)?, &w)?)?;
    let i_bg = per_sample_sum(&weighted(q.f_mul(&u)?, &w)?)?;
    let s_fg = per_sample_sum(&weighted(p.f_square()?.f_add(&t.f_square()?)?, &w)?)?;
    let s_bg = per_sample_sum(&weighted(q.f_square()?.f_add(&u.f_square()?)?, &w)?)?;
    let num = (v_fg.f_mul(&i_fg)? + v_bg.f_mul(&i_bg)?) * 2.0;
    let den = v_fg.f_mul(&s_fg)? + v_bg.f_mul(&s_bg)?;
    ratio_loss(num, den)
}

/// Asymmetric similarity loss (Hashemi et al.), `beta` > 1 favours recall.
pub fn asymmetric_similarity(logits: &Tensor, target: &Tensor, weight: Option<&Tensor>, beta: f64) -> Result<Tensor> {
    let (t, w) = prepare("asymmetric_similarity", logits, target, weight)?;
    let p = logits.f_sigmoid()?;
    let b2 = beta * beta;
    let inter = per_sample_sum(&weighted(p.f_mul(&t)?, &w)?)?;
    let den = per_sample_sum(&weighted((t.f_square()? * b2).f_add(&p.f_square()?)?, &w)?)?;
    ratio_loss(inter * (1.0 + b2), den)
}
