//! Instance-aware losses that followed the paper, on top of any base loss.
//!
//! **Blob loss** (Kofler et al., "blob loss: instance imbalance aware loss functions for
//! semantic segmentation", IPMI 2023). For a sample with GT components k = 1..K (labels l):
//!
//! ```text
//! blob(b)  = (1 / K) sum_k L( x_b, [l_b == k], m_k ),   m_k = [l_b == k or l_b == 0]
//! L_blob   = alpha * L(x, t, w) + beta * mean_{b: K_b > 0} blob(b)   (alpha = 2, beta = 1)
//! ```
//!
//! i.e. each component is scored as if it were the only lesion, with the other components
//! masked out. The instance term averages over the samples that have components only, as the
//! reference code does (`compute_blob_loss_multi` keeps a sample's term only when it has a
//! blob); a batch without any component has an instance term of 0.
//! The mask enters as a per-voxel weight (masked voxels contribute nothing to voxel means or to
//! region sums); the reference multiplies the raw network output by the mask instead, which
//! for a logit-space loss scores the masked voxels as p = 0.5 against background: we do not
//! copy that.
//!
//! **CC loss** (after Jaus et al., "Every Component Counts", 2023: CC-metrics evaluate each GT
//! component inside its Voronoi region). The patch is split into the Voronoi regions of its GT
//! components (each voxel belongs to its nearest component, `iw_data::voronoi_regions`) and the
//! base loss is averaged over the regions:
//!
//! ```text
//! L_cc = mean_b (1 / R_b) sum_r L( x_b, t_b, w_b [region_b == r] )
//! ```
//!
//! A sample without components is one region (the whole patch). With Dice + BCE as the base this
//! is the component-wise Dice+CE; any base loss works.
//!
//! Restricting a loss to a region: region losses take the mask inside their sums; voxel-wise
//! losses (mean over voxels) are divided by the mask's mean, so that they are a mean over the
//! region's voxels (`voxelwise = true`).
use crate::error::{Error, Result};
use tch::{Kind, Tensor};

/// The distinct non-zero values of a 1-sample tensor, read back to the host.
fn present_labels(t: &Tensor) -> Result<Vec<i64>> {
    let (u, _, _) = t.f_flatten(0, -1)?.f_to_kind(Kind::Int64)?.f_unique_dim(0, true, false, false)?;
    let u = u.f_to_device(tch::Device::Cpu)?;
    let v: Vec<i64> = Vec::<i64>::try_from(&u).map_err(Error::Torch)?;
    Ok(v.into_iter().filter(|&l| l != 0).collect())
}

fn check_same(op: &'static str, what: &'static str, logits: &Tensor, t: &Tensor) -> Result<()> {
    if t.size() != logits.size() {
        return Err(Error::Shape { op, what, expected: logits.size(), got: t.size() });
    }
    Ok(())
}

/// `base` restricted to the voxels where `mask` (a 0/1 weight, times any other weight) is on.
fn restricted<F>(
    base: &F,
    voxelwise: bool,
    x: &Tensor,
    t: &Tensor,
    region: &Tensor,
    w: Option<&Tensor>,
) -> Result<Tensor>
where
    F: Fn(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
{
    let m = match w {
        Some(w) => region.f_mul(w)?,
        None => region.shallow_clone(),
    };
    let v = base(x, t, Some(&m))?;
    if voxelwise {
        Ok(v.f_div(&region.f_mean(region.kind())?)?)
    } else {
        Ok(v)
    }
}

/// Blob loss around `base(logits, target, weight)`, weighted `alpha * global + beta * blobs`;
/// `voxelwise` says whether `base` is a mean over voxels (BCE, WCE, focal) rather than a region
/// loss.
pub fn blob<F>(
    logits: &Tensor,
    target: &Tensor,
    labels: &Tensor,
    weight: Option<&Tensor>,
    (alpha, beta): (f64, f64),
    voxelwise: bool,
    base: F,
) -> Result<Tensor>
where
    F: Fn(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
{
    check_same("blob", "labels", logits, labels)?;
    let global = base(logits, target, weight)?;
    let b = logits.size()[0];
    let mut per_sample = Vec::with_capacity(b as usize);
    for i in 0..b {
        let (x, l) = (logits.f_narrow(0, i, 1)?, labels.f_narrow(0, i, 1)?);
        let w = weight.map(|w| w.f_narrow(0, i, 1)).transpose()?;
        let ids = present_labels(&l)?;
        if ids.is_empty() {
            continue;
        }
        let mut terms = Vec::with_capacity(ids.len());
        let background = l.f_eq(0)?;
        for k in &ids {
            let this = l.f_eq(*k)?;
            let region = this.f_logical_or(&background)?.f_to_kind(logits.kind())?;
            terms.push(restricted(&base, voxelwise, &x, &this.f_to_kind(logits.kind())?, &region, w.as_ref())?);
        }
        per_sample.push(Tensor::f_stack(&terms, 0)?.f_mean(logits.kind())?);
    }
    if per_sample.is_empty() {
        return Ok(global * alpha);
    }
    let blob = Tensor::f_stack(&per_sample, 0)?.f_mean(logits.kind())?;
    Ok(global * alpha + blob * beta)
}

/// CC loss: `base` averaged over the Voronoi regions of the GT components (`regions`: region
/// id per voxel, 0 only where a sample has no component at all).
pub fn connected_components<F>(
    logits: &Tensor,
    target: &Tensor,
    regions: &Tensor,
    weight: Option<&Tensor>,
    voxelwise: bool,
    base: F,
) -> Result<Tensor>
where
    F: Fn(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
{
    check_same("cc", "regions", logits, regions)?;
    let b = logits.size()[0];
    let mut per_sample = Vec::with_capacity(b as usize);
    for i in 0..b {
        let (x, t, r) = (logits.f_narrow(0, i, 1)?, target.f_narrow(0, i, 1)?, regions.f_narrow(0, i, 1)?);
        let w = weight.map(|w| w.f_narrow(0, i, 1)).transpose()?;
        let ids = present_labels(&r)?;
        if ids.is_empty() {
            per_sample.push(base(&x, &t, w.as_ref())?);
            continue;
        }
        let mut terms = Vec::with_capacity(ids.len());
        for k in &ids {
            let region = r.f_eq(*k)?.f_to_kind(logits.kind())?;
            terms.push(restricted(&base, voxelwise, &x, &t, &region, w.as_ref())?);
        }
        per_sample.push(Tensor::f_stack(&terms, 0)?.f_mean(logits.kind())?);
    }
    Ok(Tensor::f_stack(&per_sample, 0)?.f_mean(logits.kind())?)
}
