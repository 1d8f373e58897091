//! The paper's patch sampler, with a pool of worker threads (METHOD.md, "Training"), as the
//! authors' code does it (inverse_weighting's `batch_iter.py` on deep_pipe).
//!
//! For each patch of a batch: a case is drawn with probability proportional to its sampling
//! weight (its number of lesions; for LUNA16 its annotations.csv rows, as the authors'
//! `n_tumors`); with probability `lesion_fraction` (0.5) the centre is a uniform voxel of a
//! uniformly chosen lesion, otherwise a background centre ([`BackgroundCentre`]; the paper's:
//! uniform over the centres whose whole patch fits inside the volume, `randint(n - p + 1) + p / 2`
//! per axis, or the volume's centre `n / 2` when the patch is longer than the volume on any axis:
//! deep_pipe's `sample_box_center_uniformly` behind `sample_center_uniformly`). The patch
//! `[c - p/2, c - p/2 + p)` is cut out; parts outside the volume are padded with the minimum of
//! the cropped image patch (deep_pipe's `crop_to_box(x, box, padding_values=np.min)`, over all
//! channels) and with 0 in the mask and labels. Intensities: clip to the window, then min-max to
//! [0, 1] with the case's clipped range. Inverse weights come from the cropped label patch (not
//! relabelled), exactly `iw_data::inverse_weights`.
//!
//! Batch `i` is a pure function of `(seed, i)`: its generator is ChaCha8 seeded with `seed` on
//! stream `i`. Workers take batch indices from a counter and a reorder buffer hands batches out
//! in index order, so the stream is the same for any number of workers, and a training run
//! resumed at batch `i` continues exactly. Memory is bounded by the queue, not the dataset.
use crate::prepared::PreparedDataset;
use iw_core::voronoi_regions;
use iw_core::{inverse_weights, WeightBounds};
use ndarray::ArrayView3;
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Sampler settings.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// Patch size, `[d, h, w]` = `[z, y, x]`.
    pub patch_dhw: [usize; 3],
    /// Patches per batch.
    pub batch_size: usize,
    /// Probability that a patch is centred on a lesion voxel (paper: 0.5).
    pub lesion_fraction: f64,
    /// Intensity window (CT: LiTS [-300, 300]); `None`: the intensities as prepared (already
    /// scaled per modality by `iw prepare nnunet`), padded with the case's minimum.
    pub window: Option<[f64; 2]>,
    /// Seed of the stream.
    pub seed: u64,
    /// Weight bounds; `None`: no weights computed.
    pub weights: Option<WeightBounds>,
    /// Also compute the Voronoi regions of the lesions (CC loss).
    pub regions: bool,
    /// Where background (non-lesion) patches are centred.
    pub background: BackgroundCentre,
}

/// Where a background (not lesion-centred) patch is centred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackgroundCentre {
    /// The authors' rule: uniform over the centres whose patch fits inside the volume on every
    /// axis; the volume's centre (every axis) when the patch is longer than the volume on any.
    #[default]
    Paper,
    /// Per axis: uniform where the patch fits on that axis, the volume's centre on the others.
    PerAxis,
    /// Uniform over every voxel of the volume (patches may hang out by up to half their size).
    AnyVoxel,
}

impl BackgroundCentre {
    /// A background centre `[z, y, x]` in a volume of `shape` for a patch of `patch`.
    pub fn draw(self, shape: [usize; 3], patch: [usize; 3], rng: &mut impl Rng) -> [usize; 3] {
        let fits = |a: usize| patch[a] <= shape[a];
        let uniform = |a: usize, rng: &mut dyn rand::RngCore| rng.gen_range(0..=shape[a] - patch[a]) + patch[a] / 2;
        match self {
            BackgroundCentre::Paper if (0..3).all(fits) => [0, 1, 2].map(|a| uniform(a, rng)),
            BackgroundCentre::Paper => shape.map(|n| n / 2),
            BackgroundCentre::PerAxis => [0, 1, 2].map(|a| if fits(a) { uniform(a, rng) } else { shape[a] / 2 }),
            BackgroundCentre::AnyVoxel => shape.map(|n| rng.gen_range(0..n)),
        }
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            patch_dhw: [128, 128, 128],
            batch_size: 2,
            lesion_fraction: 0.5,
            window: Some([-300.0, 300.0]),
            seed: 0xBADCAFE,
            weights: Some(WeightBounds::default()),
            regions: false,
            background: BackgroundCentre::Paper,
        }
    }
}

/// Where one patch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOrigin {
    /// Index of the case in the dataset.
    pub case: usize,
    /// Patch centre, `[z, y, x]`.
    pub center_zyx: [usize; 3],
    /// Whether the centre was drawn on a lesion.
    pub lesion_centred: bool,
}

/// A batch, arrays flat `[B, 1, D, H, W]`.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Its index in the stream.
    pub index: u64,
    /// Image channels.
    pub channels: usize,
    /// Scaled intensities, `[batch, channel, z, y, x]`.
    pub image: Vec<f32>,
    /// Lesion mask (0/1).
    pub mask: Vec<f32>,
    /// Lesion labels (case labels, not renumbered).
    pub labels: Vec<u16>,
    /// Inverse weights (empty when not asked for).
    pub weights: Vec<f32>,
    /// Voronoi region of each voxel (empty when not asked for).
    pub regions: Vec<u16>,
    /// Largest label in the batch's cases.
    pub max_label: u32,
    /// Origins, one per patch.
    pub origins: Vec<PatchOrigin>,
}

fn draw_origin(
    ds: &PreparedDataset,
    cfg: &SamplerConfig,
    case_dist: &WeightedIndex<f64>,
    rng: &mut ChaCha8Rng,
) -> PatchOrigin {
    let ci = case_dist.sample(rng);
    let case = &ds.cases[ci];
    let [_, h, w] = case.meta.shape_zyx;
    let lesion = rng.gen::<f64>() < cfg.lesion_fraction && !case.meta.components.is_empty();
    let center_zyx = if lesion {
        let k = rng.gen_range(0..case.meta.components.len());
        let vox = case.lesion_voxels(k as u32 + 1);
        let flat = vox[rng.gen_range(0..vox.len())] as usize;
        [flat / (h * w), flat / w % h, flat % w]
    } else {
        cfg.background.draw(case.meta.shape_zyx, cfg.patch_dhw, rng)
    };
    PatchOrigin { case: ci, center_zyx, lesion_centred: lesion }
}

/// Copies the patch of `src` (`shape`) starting at `start` (may be negative) into `dst`,
/// converting with `f` and padding with `pad`.
fn cut<S: Copy, D: Copy>(
    src: &[S],
    shape: [usize; 3],
    start: [i64; 3],
    patch: [usize; 3],
    dst: &mut [D],
    pad: D,
    f: impl Fn(S) -> D,
) {
    let [pd, ph, pw] = patch;
    let [sd, sh, sw] = shape.map(|v| v as i64);
    let x0 = start[2].clamp(0, sw);
    let x1 = (start[2] + pw as i64).clamp(0, sw);
    for z in 0..pd {
        let sz = start[0] + z as i64;
        for y in 0..ph {
            let sy = start[1] + y as i64;
            let row = &mut dst[(z * ph + y) * pw..(z * ph + y + 1) * pw];
            if sz < 0 || sz >= sd || sy < 0 || sy >= sh || x0 >= x1 {
                row.fill(pad);
                continue;
            }
            let base = ((sz * sh + sy) * sw) as usize;
            let (a, b) = ((x0 - start[2]) as usize, (x1 - start[2]) as usize);
            row[..a].fill(pad);
            for (o, s) in row[a..b].iter_mut().zip(&src[base + x0 as usize..base + x1 as usize]) {
                *o = f(*s);
            }
            row[b..].fill(pad);
        }
    }
}

/// One patch cut from a case, flat `[D, H, W]`.
#[derive(Debug, Clone)]
pub struct Patch {
    /// Scaled intensities, `[c, z, y, x]` (outside the volume: the patch's minimum).
    pub image: Vec<f32>,
    /// Lesion mask (0 outside).
    pub mask: Vec<f32>,
    /// Lesion labels (0 outside).
    pub labels: Vec<u16>,
}

/// Cuts the patch centred at `center_zyx` from `case`: `[c - p/2, c - p/2 + p)` per axis,
/// intensities clipped to `window` and scaled to [0, 1] by the case's clipped range (`None`:
/// as prepared); outside the volume the image takes the minimum of the cropped part (all
/// channels, as deep_pipe's `padding_values=np.min`), mask and labels 0.
pub fn cut_patch(
    case: &crate::prepared::PreparedCase,
    patch_dhw: [usize; 3],
    window: Option<[f64; 2]>,
    center_zyx: [usize; 3],
) -> Patch {
    let n = patch_dhw.iter().product::<usize>();
    let c = case.meta.channels.max(1);
    let mut p = Patch { image: vec![0.0; c * n], mask: vec![0.0; n], labels: vec![0; n] };
    cut_patch_into(case, patch_dhw, window, center_zyx, &mut p.image, &mut p.mask, &mut p.labels);
    p
}

fn cut_patch_into(
    case: &crate::prepared::PreparedCase,
    patch: [usize; 3],
    window: Option<[f64; 2]>,
    center_zyx: [usize; 3],
    image: &mut [f32],
    mask: &mut [f32],
    labels: &mut [u16],
) {
    let shape = case.meta.shape_zyx;
    let start = [0, 1, 2].map(|a| center_zyx[a] as i64 - (patch[a] / 2) as i64);
    let np = patch.iter().product::<usize>();
    // Out-of-volume voxels are first marked with +inf; the centre lies inside the volume, so
    // the crop is never empty and its minimum is finite.
    const OUTSIDE: f32 = f32::INFINITY;
    for c in 0..case.meta.channels.max(1) {
        let (src, dst) = (case.channel(c), &mut image[c * np..(c + 1) * np]);
        match window {
            Some(window) => {
                let (lo, scale, wlo, whi) = window_map(case, window);
                cut(src, shape, start, patch, dst, OUTSIDE, |v| (v.clamp(wlo, whi) - lo) * scale);
            }
            None => cut(src, shape, start, patch, dst, OUTSIDE, |v| v),
        }
    }
    let inside = (0..3).all(|a| start[a] >= 0 && start[a] + patch[a] as i64 <= shape[a] as i64);
    if !inside {
        let min = image.iter().copied().filter(|v| *v != OUTSIDE).fold(f32::INFINITY, f32::min);
        image.iter_mut().filter(|v| **v == OUTSIDE).for_each(|v| *v = min);
    }
    cut(case.mask(), shape, start, patch, mask, 0.0f32, |v| v as f32);
    cut(case.weight_labels().0, shape, start, patch, labels, 0u16, |v| v);
}

/// The whole case's intensities scaled as the patches are: clipped to `window`, min-max by the
/// case's clipped range (for inference).
/// `None`: the intensities as prepared. All channels, `[c, z, y, x]`.
pub fn scaled_image(case: &crate::prepared::PreparedCase, window: Option<[f64; 2]>) -> Vec<f32> {
    let Some(window) = window else { return case.image().to_vec() };
    let (lo, scale, wlo, whi) = window_map(case, window);
    case.image().iter().map(|&v| (v.clamp(wlo, whi) - lo) * scale).collect()
}

/// Clip bounds, offset and scale of the window mapping of one case.
fn window_map(case: &crate::prepared::PreparedCase, window: [f64; 2]) -> (f32, f32, f32, f32) {
    let lo = case.meta.intensity_min.max(window[0]);
    let hi = case.meta.intensity_max.min(window[1]);
    let scale = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
    (lo as f32, scale as f32, window[0] as f32, window[1] as f32)
}

/// Batch `index` of the stream `(dataset, config)`.
pub fn sample_batch(ds: &PreparedDataset, cfg: &SamplerConfig, case_dist: &WeightedIndex<f64>, index: u64) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(index);
    let patch = cfg.patch_dhw;
    let n = patch.iter().product::<usize>();
    let b = cfg.batch_size;
    let ch = ds.channels();
    let mut batch = Batch {
        index,
        channels: ch,
        image: vec![0.0; b * ch * n],
        mask: vec![0.0; b * n],
        labels: vec![0; b * n],
        weights: if cfg.weights.is_some() { vec![0.0; b * n] } else { Vec::new() },
        regions: if cfg.regions { vec![0; b * n] } else { Vec::new() },
        max_label: 0,
        origins: Vec::with_capacity(b),
    };
    for k in 0..b {
        let o = draw_origin(ds, cfg, case_dist, &mut rng);
        let case = &ds.cases[o.case];
        let range = k * n..(k + 1) * n;
        cut_patch_into(
            case,
            patch,
            cfg.window,
            o.center_zyx,
            &mut batch.image[k * ch * n..(k + 1) * ch * n],
            &mut batch.mask[range.clone()],
            &mut batch.labels[range.clone()],
        );
        let lab = ArrayView3::from_shape(patch, &batch.labels[range.clone()]).expect("patch-sized slice");
        if let Some(bounds) = cfg.weights {
            let w = inverse_weights(lab, bounds);
            batch.weights[range.clone()].copy_from_slice(w.as_slice().expect("standard layout"));
        }
        if cfg.regions {
            let l32 = lab.mapv(u32::from);
            let sp = case.meta.spacing_xyz_mm;
            let r = voronoi_regions(l32.view(), [sp[2], sp[1], sp[0]]);
            for (o, v) in batch.regions[range].iter_mut().zip(r.iter()) {
                *o = *v as u16;
            }
        }
        batch.max_label = batch.max_label.max(case.weight_labels().1);
        batch.origins.push(o);
    }
    batch
}

/// The case distribution of the paper: proportional to each case's sampling weight (its number
/// of lesions, or what the preparation recorded: [`crate::prepared::CaseMeta::sampling_weight`]).
pub fn case_distribution(ds: &PreparedDataset) -> crate::Result<WeightedIndex<f64>> {
    let w: Vec<f64> = ds.cases.iter().map(|c| c.meta.sampling_weight()).collect();
    WeightedIndex::new(&w)
        .map_err(|_| crate::Error::InvalidArgument("no training case has a lesion: nothing to sample".into()))
}

/// An endless, ordered stream of batches from a pool of worker threads.
pub struct BatchStream {
    rx: crossbeam_channel::Receiver<Batch>,
    pending: HashMap<u64, Batch>,
    next: u64,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl BatchStream {
    /// Starts `workers` threads producing batches `start, start + 1, ...` into a queue of
    /// `queue` batches.
    pub fn new(
        ds: Arc<PreparedDataset>,
        cfg: SamplerConfig,
        start: u64,
        workers: usize,
        queue: usize,
    ) -> crate::Result<Self> {
        let dist = Arc::new(case_distribution(&ds)?);
        let (tx, rx) = crossbeam_channel::bounded(queue.max(1));
        let counter = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let cfg = Arc::new(cfg);
        let workers = (0..workers.max(1))
            .map(|_| {
                let (ds, cfg, dist, tx, counter, stop) =
                    (ds.clone(), cfg.clone(), dist.clone(), tx.clone(), counter.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let b = sample_batch(&ds, &cfg, &dist, i);
                        if tx.send(b).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Ok(BatchStream { rx, pending: HashMap::new(), next: start, stop, workers })
    }
}

impl Iterator for BatchStream {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        loop {
            if let Some(b) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(b);
            }
            let b = self.rx.recv().ok()?;
            self.pending.insert(b.index, b);
        }
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock workers waiting on a full queue.
        while self.rx.try_recv().is_ok() {}
        for w in self.workers.drain(..) {
            while !w.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::yield_now();
            }
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12, point 2: background centres as the authors' `sample_center_uniformly`:
    /// `randint(n - p + 1) + p // 2` on every axis when the patch fits on all of them, else
    /// `n // 2` on every axis; `per_axis` applies the rule axis by axis.
    #[test]
    fn r12_background_centres_follow_the_authors_rule() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let range = |rule: BackgroundCentre, shape: [usize; 3], patch: [usize; 3], rng: &mut ChaCha8Rng| {
            let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
            for _ in 0..4000 {
                let c = rule.draw(shape, patch, rng);
                for a in 0..3 {
                    lo[a] = lo[a].min(c[a]);
                    hi[a] = hi[a].max(c[a]);
                }
            }
            (lo, hi)
        };
        // Fits everywhere: [p/2, n - p + p/2] on each axis, both ends reached.
        let (shape, patch) = ([40, 50, 64], [16, 15, 32]);
        for rule in [BackgroundCentre::Paper, BackgroundCentre::PerAxis] {
            assert_eq!(range(rule, shape, patch, &mut rng), ([8, 7, 16], [32, 42, 48]), "{rule:?}");
        }
        // Longer than the volume on x: the paper puts every centre at the volume's centre.
        let (shape, patch) = ([40, 50, 20], [16, 15, 32]);
        assert_eq!(range(BackgroundCentre::Paper, shape, patch, &mut rng), ([20, 25, 10], [20, 25, 10]));
        assert_eq!(range(BackgroundCentre::PerAxis, shape, patch, &mut rng), ([8, 7, 10], [32, 42, 10]));
        assert_eq!(range(BackgroundCentre::AnyVoxel, shape, patch, &mut rng), ([0, 0, 0], [39, 49, 19]));
    }
}
