//! Inverse-size weights as a tensor op, on the labels' device (Shirokikh et al. 2020, "iw").
//!
//! For each sample of a batch of component-label patches (`[B, ...]`, integers, 0 =
//! background, labels not renumbered after cropping), with N voxels per sample and K distinct
//! non-zero labels present:
//!
//! ```text
//! w(v) = N / ((K + 1) |c(v)|),   clipped to [w_min, w_max]
//! ```
//!
//! One `scatter_add` counts the labels of every sample at once into a `[B, max_label + 1]`
//! table, the per-label weights are computed on that table in double precision, and one
//! `gather` maps them back: O(N) work and no host round trip when `max_label` is given (the
//! sampler knows it from the case's metadata); without it, one `max()` is read back. The values
//! equal `iw_data::inverse_weights` bit for bit (same f64 arithmetic, then f32).
use crate::error::{Error, Result};
use tch::{Kind, Tensor};

/// Inverse weights of a batch of label patches, as f32 on the labels' device.
/// `max_label` must bound every label (it sizes the count table); a label outside
/// `[0, max_label]` is an error on the CPU and a device-side assertion on CUDA.
pub fn inverse_weights(labels: &Tensor, max_label: Option<i64>, w_min: f64, w_max: f64) -> Result<Tensor> {
    let op = "inverse_weights";
    let shape = labels.size();
    if shape.len() < 2 {
        return Err(Error::Input { op, message: format!("labels need a batch dimension first, got shape {shape:?}") });
    }
    if matches!(labels.kind(), Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16 | Kind::Bool) {
        return Err(Error::Input { op, message: format!("labels must be integers, got {:?}", labels.kind()) });
    }
    if !(w_min.is_finite() && w_max.is_finite() && 0.0 <= w_min && w_min <= w_max) {
        return Err(Error::Input { op, message: format!("need 0 <= w_min <= w_max, finite; got [{w_min}, {w_max}]") });
    }
    let b = shape[0];
    let flat = labels.f_reshape([b, -1])?.f_to_kind(Kind::Int64)?;
    let n = flat.size()[1];
    let max_label = match max_label {
        Some(m) => m,
        None => flat.f_max()?.f_int64_value(&[])?,
    };
    if max_label < 0 {
        return Err(Error::Input { op, message: format!("labels must be >= 0 (max_label {max_label})") });
    }
    let opts = (Kind::Int64, labels.device());
    // A label above max_label is an index error of scatter_add (on CUDA, a device assert).
    let ones = Tensor::f_ones([1, 1], opts)?.f_expand([b, n], false)?;
    let counts = Tensor::f_zeros([b, max_label + 1], opts)?
        .f_scatter_add(1, &flat, &ones)
        .map_err(|e| Error::Input { op, message: format!("labels must lie in [0, max_label = {max_label}]: {e}") })?;
    let counts = counts.f_to_kind(Kind::Double)?;
    let k = counts.f_narrow(1, 1, max_label)?.f_gt(0.0)?.f_sum_dim_intlist([1].as_slice(), true, Kind::Double)?;
    let table = (counts.f_mul(&(k + 1.0))?).f_reciprocal()?.f_mul_scalar(n as f64)?.f_clamp(w_min, w_max)?;
    let w = table.f_to_kind(Kind::Float)?.f_gather(1, &flat, false)?;
    Ok(w.f_reshape(shape.as_slice())?)
}
