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
use ndarray::{Array3, ArrayView3};

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

/// Voxels per block in [`label_counts`] and [`inverse_weights`].
const BLOCK: usize = 256;

/// The labels in memory order (a copy only for a non-contiguous view).
fn flat_labels<'a, L: Label>(labels: &'a ArrayView3<'_, L>) -> std::borrow::Cow<'a, [L]> {
    match labels.as_slice_memory_order() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(labels.iter().copied().collect()),
    }
}

/// Counts per label of blocks of [`BLOCK`] voxels; returns, per block, whether it holds one
/// label only. A patch is mostly background: a uniform block is counted with one vectorised
/// comparison; a mixed block goes through four interleaved histograms (one counter would
/// serialise every increment on the previous store).
fn count_blocks<L: Label>(flat: &[L]) -> (Vec<u64>, Vec<bool>) {
    let mut lanes: Vec<u64> = vec![0; 4 * 256];
    let mut uniform = Vec::with_capacity(flat.len().div_ceil(BLOCK));
    for block in flat.chunks(BLOCK) {
        let first = block[0].index();
        let same = block.iter().filter(|l| l.index() == first).count();
        uniform.push(same == block.len());
        let max = if same == block.len() { first } else { block.iter().map(|l| l.index()).max().unwrap_or(0) };
        if 4 * max + 3 >= lanes.len() {
            lanes.resize(4 * (max + 1).next_power_of_two(), 0);
        }
        if same == block.len() {
            lanes[4 * first] += block.len() as u64;
            continue;
        }
        let mut quads = block.chunks_exact(4);
        for c in &mut quads {
            lanes[4 * c[0].index()] += 1;
            lanes[4 * c[1].index() + 1] += 1;
            lanes[4 * c[2].index() + 2] += 1;
            lanes[4 * c[3].index() + 3] += 1;
        }
        for l in quads.remainder() {
            lanes[4 * l.index()] += 1;
        }
    }
    let mut counts: Vec<u64> = lanes.chunks_exact(4).map(|c| c.iter().sum()).collect();
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    counts.truncate(last + 1);
    (counts, uniform)
}

/// Voxel counts per label (index = label, up to the largest label present).
pub fn label_counts<L: Label>(labels: ArrayView3<'_, L>) -> Vec<u64> {
    count_blocks(&flat_labels(&labels)).0
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
    let Some(flat) = labels.as_slice() else {
        let table = label_weights(&label_counts(labels), bounds);
        return labels.map(|&l| table[l.index()]);
    };
    let (counts, uniform) = count_blocks(flat);
    let table = label_weights(&counts, bounds);
    let mut out: Vec<f32> = Vec::with_capacity(flat.len());
    for (block, &u) in flat.chunks(BLOCK).zip(&uniform) {
        if u {
            out.extend(std::iter::repeat_n(table[block[0].index()], block.len()));
        } else {
            out.extend(block.iter().map(|l| table[l.index()]));
        }
    }
    Array3::from_shape_vec(labels.raw_dim(), out).expect("one weight per voxel")
}
