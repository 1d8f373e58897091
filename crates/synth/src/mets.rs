//! Synthetic brain MR with multiple metastases, on real anatomy, for `iw synth mets`.
//!
//! Anatomy: the MNI152 (ICBM 2009a, symmetric) T1 template and its grey- and white-matter
//! probability maps, as the nilearn package ships them (skull-stripped, 1 mm). A FLAIR-like
//! contrast is derived from the tissue maps: grey matter brighter than white matter, CSF
//! suppressed (dark). Each case flips left-right at random, shifts by a few voxels, has its
//! own smooth bias field and noise, and carries metastases: hyperintense lobulated lesions,
//! placed preferentially at the grey/white junction, many of them small (about half under 5
//! voxels in diameter, the paper's small threshold for this dataset), the larger ones with a
//! hyperintense oedema ring that is NOT labelled. Labels: 0 background, 1 metastasis.
use iw_core::filters::gaussian_blur;
use iw_core::{Geometry, Volume};
use ndarray::{s, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// The template: T1, grey and white matter probabilities in [0, 1], at the working resolution.
pub struct BrainTemplate {
    /// T1 (brain mask = T1 > 0).
    pub t1: Array3<f32>,
    /// Grey-matter probability.
    pub gm: Array3<f32>,
    /// White-matter probability.
    pub wm: Array3<f32>,
    /// Geometry at the working resolution.
    pub geometry: Geometry,
}

/// Averages `factor`^3 blocks.
fn downsample(a: &Array3<f32>, f: usize) -> Array3<f32> {
    if f <= 1 {
        return a.clone();
    }
    let (d, h, w) = a.dim();
    let (nd, nh, nw) = (d / f, h / f, w / f);
    Array3::from_shape_fn((nd, nh, nw), |(z, y, x)| {
        a.slice(s![z * f..(z + 1) * f, y * f..(y + 1) * f, x * f..(x + 1) * f]).mean().unwrap_or(0.0)
    })
}

impl BrainTemplate {
    /// Loads the three nilearn files and downsamples them by `factor` (block means).
    pub fn load(
        t1: &std::path::Path,
        gm: &std::path::Path,
        wm: &std::path::Path,
        factor: usize,
    ) -> crate::Result<Self> {
        let t = iw_io::read_volume(t1)?.to_f32();
        let scale = |v: Volume<f32>| {
            let m = v.data.iter().copied().fold(0.0f32, f32::max).max(1e-6);
            v.data.mapv(|x| x / m)
        };
        let g = iw_io::read_volume(gm)?.to_f32();
        let w = iw_io::read_volume(wm)?.to_f32();
        if g.shape_zyx() != t.shape_zyx() || w.shape_zyx() != t.shape_zyx() {
            return Err(crate::Error::format(gm, "the tissue maps and the T1 template differ in shape"));
        }
        let f = factor.max(1);
        let mut geometry = t.geometry.clone();
        for a in 0..3 {
            geometry.spacing_xyz_mm[a] *= f as f64;
        }
        // The first block's centre.
        let off = (f as f64 - 1.0) / 2.0;
        geometry.origin_xyz_mm = t.geometry.index_xyz_to_world([off; 3]);
        Ok(BrainTemplate {
            t1: downsample(&scale(t.clone()), f),
            gm: downsample(&scale(g), f),
            wm: downsample(&scale(w), f),
            geometry,
        })
    }
}

/// One synthetic case.
pub struct MetsCase {
    /// FLAIR-like image, int16 (0 outside the brain).
    pub image: Volume<i16>,
    /// Labels: 1 metastasis.
    pub labels: Volume<u8>,
    /// Diameters `(6 V / pi)^(1/3)` of the planted lesions, voxels.
    pub diameters: Vec<f64>,
}

fn shift<T: Copy + Default>(a: &Array3<T>, flip: bool, d: [i64; 3]) -> Array3<T> {
    let (nz, ny, nx) = a.dim();
    Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let (sz, sy, sx) = (z as i64 - d[0], y as i64 - d[1], x as i64 - d[2]);
        let sx = if flip { nx as i64 - 1 - sx } else { sx };
        if sz < 0 || sy < 0 || sx < 0 || sz >= nz as i64 || sy >= ny as i64 || sx >= nx as i64 {
            T::default()
        } else {
            a[[sz as usize, sy as usize, sx as usize]]
        }
    })
}

/// Generates case `seed`.
pub fn mets_case(seed: u64, tpl: &BrainTemplate) -> MetsCase {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let flip = rng.gen_bool(0.5);
    let d = [rng.gen_range(-2..=2), rng.gen_range(-3..=3), rng.gen_range(-3..=3)];
    let t1 = shift(&tpl.t1, flip, d);
    let gm = shift(&tpl.gm, flip, d);
    let wm = shift(&tpl.wm, flip, d);
    let shape = t1.dim();
    let brain = t1.mapv(|v| v > 0.02);
    // FLAIR-like tissue contrast.
    let mut img = Array3::<f32>::zeros(shape);
    ndarray::Zip::from(&mut img).and(&gm).and(&wm).and(&brain).for_each(|v, &g, &w, &b| {
        if b {
            let csf = (1.0 - g - w).clamp(0.0, 1.0);
            *v = 0.72 * g + 0.52 * w + 0.1 * csf;
        }
    });
    // Lesions.
    let n = rng.gen_range(3..=14usize);
    let candidates: Vec<(usize, usize, usize)> =
        brain.indexed_iter().filter(|(i, &b)| b && gm[*i] > 0.25 && wm[*i] > 0.25).map(|(i, _)| i).collect();
    let mut labels = Array3::<u8>::zeros(shape);
    let mut oedema = Array3::<f32>::zeros(shape);
    let mut diameters = Vec::new();
    let mut centres: Vec<([f64; 3], f64)> = Vec::new();
    for _ in 0..n {
        // About half below 5 voxels.
        let dia: f64 = if rng.gen_bool(0.5) { rng.gen_range(1.6..5.0) } else { (rng.gen_range(1.6f64..2.8)).exp() };
        let r = dia / 2.0;
        let mut chosen = None;
        for _ in 0..40 {
            let (z, y, x) = candidates[rng.gen_range(0..candidates.len())];
            let c = [
                z as f64 + rng.gen_range(-0.5..0.5),
                y as f64 + rng.gen_range(-0.5..0.5),
                x as f64 + rng.gen_range(-0.5..0.5),
            ];
            if centres
                .iter()
                .all(|(o, orad)| (0..3).map(|a| (o[a] - c[a]).powi(2)).sum::<f64>().sqrt() > r + orad + 3.0)
            {
                chosen = Some(c);
                break;
            }
        }
        let Some(c) = chosen else { continue };
        centres.push((c, r));
        let phase = [rng.gen_range(0.0..6.3), rng.gen_range(0.0..6.3)];
        let lobul = rng.gen_range(0.0..0.2);
        let reach = (r * 3.0 + 2.0).ceil() as i64;
        let mut vox = 0usize;
        for z in (c[0] as i64 - reach).max(0)..=(c[0] as i64 + reach).min(shape.0 as i64 - 1) {
            for y in (c[1] as i64 - reach).max(0)..=(c[1] as i64 + reach).min(shape.1 as i64 - 1) {
                for x in (c[2] as i64 - reach).max(0)..=(c[2] as i64 + reach).min(shape.2 as i64 - 1) {
                    let p = [z as f64 - c[0], y as f64 - c[1], x as f64 - c[2]];
                    let dist = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
                    let th = p[1].atan2(p[2]);
                    let ph = (p[0] / dist.max(1e-9)).acos();
                    let bound = r * (1.0 + lobul * (3.0 * th + phase[0]).sin() * (2.0 * ph + phase[1]).sin());
                    let i = [z as usize, y as usize, x as usize];
                    if !brain[i] {
                        continue;
                    }
                    if dist <= bound.max(0.5) {
                        labels[i] = 1;
                        vox += 1;
                    } else if r > 2.5 && dist <= bound * 2.6 {
                        oedema[i] = oedema[i].max((1.0 - (dist - bound) / (1.6 * bound)) as f32);
                    }
                }
            }
        }
        if vox > 0 {
            diameters.push((6.0 * vox as f64 / std::f64::consts::PI).cbrt());
        }
    }
    let lesion_hu = rng.gen_range(0.95..1.25f32);
    ndarray::Zip::from(&mut img).and(&labels).and(&oedema).for_each(|v, &l, &o| {
        if l != 0 {
            *v = lesion_hu;
        } else if o > 0.0 {
            *v = *v * (1.0 - 0.8 * o) + 0.9 * 0.8 * o;
        }
    });
    gaussian_blur(&mut img, [0.5, 0.5, 0.5]);
    // Bias field and noise, inside the brain.
    let b = [rng.gen_range(-0.12..0.12), rng.gen_range(-0.12..0.12), rng.gen_range(-0.12..0.12)];
    let noise = Normal::new(0.0, rng.gen_range(0.015..0.035f64)).expect("sigma > 0");
    let (fd, fh, fw) = (shape.0 as f32, shape.1 as f32, shape.2 as f32);
    let mut out = Array3::<i16>::zeros(shape);
    for ((z, y, x), v) in img.indexed_iter() {
        if !brain[[z, y, x]] {
            continue;
        }
        let bias = 1.0
            + b[0] as f32 * (z as f32 / fd - 0.5)
            + b[1] as f32 * (y as f32 / fh - 0.5)
            + b[2] as f32 * (x as f32 / fw - 0.5);
        let val = (v * bias + noise.sample(&mut rng) as f32).max(0.001);
        out[[z, y, x]] = (val * 1000.0).round().clamp(1.0, 32000.0) as i16;
    }
    MetsCase {
        image: Volume::new(out, tpl.geometry.clone()),
        labels: Volume::new(labels, tpl.geometry.clone()),
        diameters,
    }
}
