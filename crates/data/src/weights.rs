//! Inverse-size voxel weights (Shirokikh et al. 2020, "iw").
//!
//! Patch of N voxels with component labels c = 0..=K (0 = background, K = the number of
//! distinct non-zero labels present in the patch; labels are not renumbered after a crop):
//!
//! ```text
//! w(v) = N / ((K + 1) * |c(v)|),   clipped to [w_min, w_max]   (defaults 1 and 2e5)
//! ```
//!
//! so before clipping every component present, background included, carries total weight
//! N / (K + 1). An empty patch gives all ones. O(N): one counting pass, a per-label table,
//! one gather pass; never a loop over components times voxels.
use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3, Zip};

/// Clip bounds of the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightBounds {
    /// Lower bound (paper: 1).
    pub w_min: f64,
    /// Upper bound (paper: 2e5).
    pub w_max: f64,
}

impl Default for WeightBounds {
    fn default() -> Self {
        WeightBounds { w_min: 1.0, w_max: 2e5 }
    }
}

impl WeightBounds {
    /// Checked bounds: finite, `0 <= w_min <= w_max`.
    pub fn new(w_min: f64, w_max: f64) -> Result<Self> {
        if !(w_min.is_finite() && w_max.is_finite() && 0.0 <= w_min && w_min <= w_max) {
            return Err(Error::InvalidArgument(format!(
                "weight bounds need 0 <= w_min <= w_max, finite; got [{w_min}, {w_max}]"
            )));
        }
        Ok(WeightBounds { w_min, w_max })
    }
}

/// Unsigned label types.
pub trait Label: Copy + Send + Sync + 'static {
    /// The label as an index.
    fn index(self) -> usize;
}
macro_rules! label_impl {
    ($($t:ty),*) => {$(impl Label for $t { #[inline] fn index(self) -> usize { self as usize } })*};
}
label_impl!(u8, u16, u32, u64);

/// Voxel counts per label (index = label), grown as labels appear.
pub fn label_counts<L: Label>(labels: ArrayView3<'_, L>) -> Vec<u64> {
    let mut counts: Vec<u64> = vec![0; 256];
    let mut count = |l: L| {
        let i = l.index();
        if i >= counts.len() {
            counts.resize((i + 1).next_power_of_two(), 0);
        }
        counts[i] += 1;
    };
    match labels.as_slice_memory_order() {
        Some(s) => s.iter().for_each(|&l| count(l)),
        None => labels.iter().for_each(|&l| count(l)),
    }
    counts
}

/// The weight of each label, indexed by label (0 where the label is absent).
pub fn label_weights(counts: &[u64], bounds: WeightBounds) -> Vec<f32> {
    let n: u64 = counts.iter().sum();
    let k = counts.iter().skip(1).filter(|&&c| c > 0).count() as f64;
    counts
        .iter()
        .map(
            |&c| {
                if c == 0 {
                    0.0
                } else {
                    (n as f64 / ((k + 1.0) * c as f64)).clamp(bounds.w_min, bounds.w_max) as f32
                }
            },
        )
        .collect()
}

/// Inverse weights of a label patch, `[z, y, x]`, as f32.
pub fn inverse_weights<L: Label>(labels: ArrayView3<'_, L>, bounds: WeightBounds) -> Array3<f32> {
    let table = label_weights(&label_counts(labels), bounds);
    let mut out = Array3::<f32>::zeros(labels.raw_dim());
    match (labels.as_slice(), out.as_slice_mut()) {
        (Some(src), Some(dst)) => {
            for (d, &l) in dst.iter_mut().zip(src) {
                *d = table[l.index()];
            }
        }
        _ => Zip::from(&mut out).and(&labels).for_each(|d, &l| *d = table[l.index()]),
    }
    out
}
