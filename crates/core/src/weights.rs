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
use crate::alloc;
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
fn flat_labels<'a, L: Label>(labels: &'a ArrayView3<'_, L>) -> Result<std::borrow::Cow<'a, [L]>> {
    Ok(match labels.as_slice_memory_order() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(alloc::try_collect(labels.iter().copied(), "a copy of the labels")?),
    })
}

/// Counts per label of blocks of [`BLOCK`] voxels; returns, per block, whether it holds one
/// label only. A patch is mostly background: a uniform block is counted with one vectorised
/// comparison; a mixed block goes through four interleaved histograms (one counter would
/// serialise every increment on the previous store). The count table has a row per label up
/// to the largest: allocated fallibly, as everything here.
fn count_blocks<L: Label>(flat: &[L]) -> Result<(Vec<u64>, Vec<bool>)> {
    let table = "the count table of the labels";
    let mut lanes: Vec<u64> = alloc::try_zeroed(4 * 256, table)?;
    let mut uniform = alloc::try_with_capacity(flat.len().div_ceil(BLOCK), "the block table of the labels")?;
    for block in flat.chunks(BLOCK) {
        let first = block[0].index();
        let same = block.iter().filter(|l| l.index() == first).count();
        uniform.push(same == block.len());
        let max = if same == block.len() { first } else { block.iter().map(|l| l.index()).max().unwrap_or(0) };
        if max >= lanes.len() / 4 {
            // 4 lanes per label, rows up to the next power of two above the largest label.
            let rows = max.checked_add(1).and_then(usize::checked_next_power_of_two);
            let len = rows
                .and_then(|r| r.checked_mul(4))
                .ok_or_else(|| alloc::out_of_memory::<u64>(table, 4 * (max as u128 + 1).next_power_of_two()))?;
            lanes.try_reserve_exact(len - lanes.len()).map_err(|_| alloc::out_of_memory::<u64>(table, len as u128))?;
            lanes.resize(len, 0);
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
    let mut counts: Vec<u64> = alloc::try_collect(lanes.chunks_exact(4).map(|c| c.iter().sum()), table)?;
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    counts.truncate(last + 1);
    Ok((counts, uniform))
}

/// Voxel counts per label (index = label, up to the largest label present).
///
/// # Panics
/// When the count table (8 bytes per label value up to the largest, 4 during the count) cannot
/// be allocated.
pub fn label_counts<L: Label>(labels: ArrayView3<'_, L>) -> Vec<u64> {
    flat_labels(&labels).and_then(|flat| count_blocks(&flat)).unwrap_or_else(|e| panic!("{e}")).0
}

/// The weight of each label, indexed by label (0 where the label is absent).
pub fn label_weights(counts: &[u64], bounds: WeightBounds) -> Vec<f32> {
    weights_of_counts(counts, bounds).collect()
}

fn weights_of_counts(counts: &[u64], bounds: WeightBounds) -> impl ExactSizeIterator<Item = f32> + '_ {
    let n: u64 = counts.iter().sum();
    let k = counts.iter().skip(1).filter(|&&c| c > 0).count() as f64;
    counts.iter().map(move |&c| {
        if c == 0 {
            0.0
        } else {
            (n as f64 / ((k + 1.0) * c as f64)).clamp(bounds.w_min, bounds.w_max) as f32
        }
    })
}

/// Inverse weights of a label patch, `[z, y, x]`, as f32.
///
/// # Panics
/// Where [`try_inverse_weights`] fails (a patch too large for the machine's memory).
pub fn inverse_weights<L: Label>(labels: ArrayView3<'_, L>, bounds: WeightBounds) -> Array3<f32> {
    try_inverse_weights(labels, bounds).unwrap_or_else(|e| panic!("{e}"))
}

/// [`inverse_weights`], with every buffer allocated fallibly ([`Error::OutOfMemory`]); the
/// weights first, before any label is read.
pub fn try_inverse_weights<L: Label>(labels: ArrayView3<'_, L>, bounds: WeightBounds) -> Result<Array3<f32>> {
    let (nz, ny, nx) = labels.dim();
    let out = alloc::try_with_capacity(labels.len(), &format!("the weights of a {nz} x {ny} x {nx} patch"))?;
    try_inverse_weights_into(labels, bounds, out)
}

/// [`try_inverse_weights`] written into `out` (cleared first, grown if it is too small): lets a
/// caller allocate the weights before a pass that makes the labels, so that a patch too large
/// for the machine fails before that pass.
pub fn try_inverse_weights_into<L: Label>(
    labels: ArrayView3<'_, L>,
    bounds: WeightBounds,
    mut out: Vec<f32>,
) -> Result<Array3<f32>> {
    out.clear();
    if out.capacity() < labels.len() {
        let (nz, ny, nx) = labels.dim();
        out.try_reserve_exact(labels.len()).map_err(|_| {
            alloc::out_of_memory::<f32>(&format!("the weights of a {nz} x {ny} x {nx} patch"), labels.len() as u128)
        })?;
    }
    let flat = flat_labels(&labels)?;
    let (counts, uniform) = count_blocks(&flat)?;
    let table: Vec<f32> = alloc::try_collect(weights_of_counts(&counts, bounds), "the weight table of the labels")?;
    if labels.as_slice().is_none() {
        // Not in C order: the weights follow the labels' logical order.
        out.extend(labels.iter().map(|l| table[l.index()]));
        return Ok(Array3::from_shape_vec(labels.raw_dim(), out).expect("one weight per voxel"));
    }
    for (block, &u) in flat.chunks(BLOCK).zip(&uniform) {
        if u {
            out.extend(std::iter::repeat_n(table[block[0].index()], block.len()));
        } else {
            out.extend(block.iter().map(|l| table[l.index()]));
        }
    }
    Ok(Array3::from_shape_vec(labels.raw_dim(), out).expect("one weight per voxel"))
}
