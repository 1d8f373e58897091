//! Synthetic LiTS-like CT phantoms, written in the real dataset's format by `iw synth lits`.
//!
//! Each case is an abdominal CT in Hounsfield units: air (-1000), a body with a subcutaneous fat
//! layer (-100) around soft tissue (45), a spine, the aorta and kidneys, and a contrast-enhanced
//! liver (95..135 HU, slow texture, enhancing vessels) on the patient's right. Inside the liver:
//! hypodense tumours 10..70 HU darker than the liver (some with a necrotic core or an enhancing
//! rim), lobulated rather than spherical, and hypodense cysts that are NOT labelled (hard
//! negatives). The image is blurred (partial-volume effect, sigma 0.6 / 0.4 voxel in-plane /
//! through-plane) and noised (10..20 HU), so that small low-contrast tumours are genuinely hard.
//!
//! Tumour counts per case and tumour diameters are drawn from the LiTS test set (the authors'
//! per-lesion records: `data-manifests/lits-tumour-stats.json`): a diameter of d LiTS voxels
//! (0.8 x 0.8 x 2.5 mm) is `d * 1.6^(1/3)` mm, drawn at the phantom's resolution.
//! Geometry: a 410 x 410 x 320 mm field of view over the chosen shape (default 128 x 128 x 64:
//! 3.2 x 3.2 x 5 mm voxels). Labels: 0 background, 1 liver, 2 tumour. Deterministic for a seed.
use iw_core::filters::gaussian_blur;
use iw_core::{Geometry, Volume};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::TAU;

/// Tumour statistics of a real dataset's test set.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TumourStats {
    /// Tumours in each test case.
    pub tumours_per_case: Vec<usize>,
    /// Tumour diameters `(6 V / pi)^(1/3)`, in voxels of the real scans.
    pub diameters_voxels: Vec<f64>,
    /// The real scans' typical voxel size, mm (x, y, z).
    pub voxel_size_mm: [f64; 3],
}

impl TumourStats {
    /// Diameter in mm of a diameter given in real voxels.
    pub fn diameter_mm(&self, d_voxels: f64) -> f64 {
        d_voxels * self.voxel_size_mm.iter().product::<f64>().cbrt()
    }
}

/// Phantom geometry and contrast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhantomOptions {
    /// Voxels along x, y, z.
    pub shape_xyz: [usize; 3],
    /// Field of view along x, y, z, mm.
    pub fov_mm: [f64; 3],
    /// How much darker than the liver a tumour is, HU: each tumour draws uniformly in this
    /// range (default 10..70: small low-contrast tumours are genuinely hard).
    pub tumour_contrast_hu: [f64; 2],
    /// The image noise's standard deviation, HU: each case draws uniformly in this range.
    pub noise_sd_hu: [f64; 2],
}

impl Default for PhantomOptions {
    fn default() -> Self {
        PhantomOptions {
            shape_xyz: [128, 128, 64],
            fov_mm: [410.0, 410.0, 320.0],
            tumour_contrast_hu: [10.0, 70.0],
            noise_sd_hu: [10.0, 20.0],
        }
    }
}

impl PhantomOptions {
    /// Voxel size, mm (x, y, z).
    pub fn spacing_xyz_mm(&self) -> [f64; 3] {
        [0, 1, 2].map(|a| self.fov_mm[a] / self.shape_xyz[a] as f64)
    }
    /// How many phantom voxels a diameter of one real voxel spans (diameters scale by the cube
    /// root of the voxel volumes): multiply a real-data diameter threshold by this.
    pub fn diameter_scale(&self, stats: &TumourStats) -> f64 {
        stats.voxel_size_mm.iter().product::<f64>().cbrt() / self.spacing_xyz_mm().iter().product::<f64>().cbrt()
    }
}

/// One synthetic case.
pub struct LitsPhantom {
    /// CT, int16 HU.
    pub image: Volume<i16>,
    /// Labels: 0 background, 1 liver, 2 tumour.
    pub segmentation: Volume<u8>,
    /// Tumours in the segmentation (26-connected components of label 2).
    pub tumours: usize,
}

struct Tumour {
    c: [f64; 3],
    ax: [f64; 3],
    phase: [f64; 2],
    delta: f64,
    rim: bool,
}

impl Tumour {
    /// Normalised radius and the lobulated boundary at point p (mm): inside when rho <= bound.
    fn rho(&self, p: [f64; 3]) -> (f64, f64) {
        let d = [p[0] - self.c[0], p[1] - self.c[1], p[2] - self.c[2]];
        let rho = ((d[0] / self.ax[0]).powi(2) + (d[1] / self.ax[1]).powi(2) + (d[2] / self.ax[2]).powi(2)).sqrt();
        let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-9);
        let theta = d[1].atan2(d[0]);
        let phi = (d[2] / r).acos();
        (rho, 1.0 + 0.18 * (2.0 * theta + self.phase[0]).sin() * (3.0 * phi + self.phase[1]).sin())
    }
    fn max_radius(&self) -> f64 {
        1.2 * self.ax.iter().cloned().fold(0.0, f64::max)
    }
}

struct Liver {
    c: [f64; 3],
    ax: [f64; 3],
    phase: [f64; 3],
}

impl Liver {
    /// Implicit function: inside when < 0.
    fn f(&self, p: [f64; 3]) -> f64 {
        let d = [(p[0] - self.c[0]) / self.ax[0], (p[1] - self.c[1]) / self.ax[1], (p[2] - self.c[2]) / self.ax[2]];
        // A right lobe larger than the left: widen towards -x (the patient's right).
        let taper = 1.0 + 0.25 * d[0].clamp(-1.5, 1.5);
        let base = (d[0] * d[0]) + (d[1] * taper).powi(2) + (d[2] * taper).powi(2) - 1.0;
        base + 0.12 * (p[0] / 25.0 + self.phase[0]).sin() * (p[1] / 30.0 + self.phase[1]).cos()
            + 0.08 * (p[2] / 20.0 + self.phase[2]).sin()
    }
}

/// Generates case `case_seed` of a synthetic LiTS dataset.
pub fn lits_phantom(case_seed: u64, stats: &TumourStats, opts: &PhantomOptions) -> LitsPhantom {
    let mut rng = ChaCha8Rng::seed_from_u64(case_seed);
    let [nx, ny, nz] = opts.shape_xyz;
    let sp = opts.spacing_xyz_mm();
    let pos = |i: usize, a: usize| (i as f64 + 0.5 - opts.shape_xyz[a] as f64 / 2.0) * sp[a];
    let u = |rng: &mut ChaCha8Rng, lo: f64, hi: f64| rng.gen_range(lo..hi);

    let body = [u(&mut rng, 150.0, 175.0), u(&mut rng, 105.0, 125.0)];
    let fat = u(&mut rng, 10.0, 22.0);
    let liver = Liver {
        c: [u(&mut rng, -80.0, -60.0), u(&mut rng, -15.0, 5.0), u(&mut rng, -30.0, 30.0)],
        ax: [u(&mut rng, 65.0, 85.0), u(&mut rng, 60.0, 75.0), u(&mut rng, 65.0, 85.0)],
        phase: [u(&mut rng, 0.0, TAU), u(&mut rng, 0.0, TAU), u(&mut rng, 0.0, TAU)],
    };
    let liver_hu = u(&mut rng, 95.0, 135.0);
    let noise_sd = u(&mut rng, opts.noise_sd_hu[0], opts.noise_sd_hu[1]);
    // Enhancing vessels: segments through the liver.
    let vessels: Vec<([f64; 3], [f64; 3], f64)> = (0..rng.gen_range(3..6))
        .map(|_| {
            let a = [
                liver.c[0] + u(&mut rng, -40.0, 40.0),
                liver.c[1] + u(&mut rng, -30.0, 30.0),
                liver.c[2] + u(&mut rng, -50.0, 50.0),
            ];
            let b = [
                liver.c[0] + u(&mut rng, -40.0, 40.0),
                liver.c[1] + u(&mut rng, -30.0, 30.0),
                liver.c[2] + u(&mut rng, -50.0, 50.0),
            ];
            (a, b, u(&mut rng, 2.5, 6.0))
        })
        .collect();
    let inside_liver_deep = |p: [f64; 3], depth: f64| {
        // Approximate depth test: the point and six points `depth` mm away are all inside.
        liver.f(p) < 0.0
            && [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]
                .iter()
                .all(|d| liver.f([p[0] + d[0] * depth, p[1] + d[1] * depth, p[2] + d[2] * depth]) < 0.0)
    };
    let random_in_liver = |rng: &mut ChaCha8Rng, depth: f64| -> Option<[f64; 3]> {
        for _ in 0..200 {
            let p = [0, 1, 2].map(|a| liver.c[a] + rng.gen_range(-1.0..1.0) * liver.ax[a] * 1.2);
            if inside_liver_deep(p, depth) {
                return Some(p);
            }
        }
        None
    };

    // Tumours, drawn from the real statistics, lobulated, not overlapping.
    let n_tum = stats.tumours_per_case[rng.gen_range(0..stats.tumours_per_case.len())];
    let max_r = 0.45 * liver.ax.iter().cloned().fold(f64::MAX, f64::min);
    let mut tumours: Vec<Tumour> = Vec::new();
    for _ in 0..n_tum {
        let d_vox = stats.diameters_voxels[rng.gen_range(0..stats.diameters_voxels.len())];
        let mut r = (stats.diameter_mm(d_vox) / 2.0).min(max_r);
        for _attempt in 0..60 {
            let ax = [r * u(&mut rng, 0.75, 1.25), r * u(&mut rng, 0.75, 1.25), r * u(&mut rng, 0.75, 1.25)];
            let Some(c) = random_in_liver(&mut rng, (0.5 * r).min(15.0)) else { break };
            let t = Tumour {
                c,
                ax,
                phase: [u(&mut rng, 0.0, TAU), u(&mut rng, 0.0, TAU)],
                delta: u(&mut rng, opts.tumour_contrast_hu[0], opts.tumour_contrast_hu[1]),
                rim: rng.gen_bool(0.3),
            };
            let clear = tumours.iter().all(|o| {
                let d = ((0..3).map(|a| (o.c[a] - t.c[a]).powi(2)).sum::<f64>()).sqrt();
                d > o.max_radius() + t.max_radius() + 2.0 * sp.iter().cloned().fold(0.0, f64::max)
            });
            if clear {
                tumours.push(t);
                break;
            }
            r *= 0.9;
        }
    }
    let cysts: Vec<([f64; 3], f64)> = (0..rng.gen_range(0..3))
        .filter_map(|_| {
            let r = u(&mut rng, 4.0, 10.0);
            random_in_liver(&mut rng, r).map(|c| (c, r))
        })
        .collect();
    let cysts: Vec<([f64; 3], f64)> = cysts
        .into_iter()
        .filter(|(c, r)| {
            tumours
                .iter()
                .all(|t| ((0..3).map(|a| (t.c[a] - c[a]).powi(2)).sum::<f64>()).sqrt() > t.max_radius() + r + 5.0)
        })
        .collect();

    let mut hu = Array3::<f32>::zeros((nz, ny, nx));
    let mut seg = Array3::<u8>::zeros((nz, ny, nx));
    let seg_dist = |p: [f64; 3], a: [f64; 3], b: [f64; 3]| {
        let ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let ap = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
        let t = ((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2])
            / (ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2]).max(1e-9))
        .clamp(0.0, 1.0);
        ((ap[0] - t * ab[0]).powi(2) + (ap[1] - t * ab[1]).powi(2) + (ap[2] - t * ab[2]).powi(2)).sqrt()
    };
    for k in 0..nz {
        let z = pos(k, 2);
        for j in 0..ny {
            let y = pos(j, 1);
            for i in 0..nx {
                let x = pos(i, 0);
                let p = [x, y, z];
                let e = (x / body[0]).powi(2) + (y / body[1]).powi(2);
                let mut v = -1000.0;
                let mut label = 0u8;
                if e <= 1.0 {
                    let inner = (x / (body[0] - fat)).powi(2) + (y / (body[1] - fat)).powi(2);
                    v = if inner <= 1.0 { 45.0 } else { -100.0 };
                    if inner <= 1.0 {
                        // spine, aorta, kidneys
                        let spine = ((x).powi(2) + (y - 0.68 * body[1]).powi(2)).sqrt();
                        if spine < 17.0 {
                            v = if spine > 13.0 { 700.0 } else { 300.0 };
                        }
                        if ((x - 20.0).powi(2) + (y - 0.42 * body[1]).powi(2)).sqrt() < 12.0 {
                            v = 170.0;
                        }
                        for sx in [-1.0, 1.0] {
                            if ((x - sx * 75.0) / 28.0).powi(2)
                                + ((y - 0.5 * body[1]) / 24.0).powi(2)
                                + ((z + 20.0) / 50.0).powi(2)
                                <= 1.0
                            {
                                v = 160.0;
                            }
                        }
                        if liver.f(p) < 0.0 {
                            label = 1;
                            v = liver_hu + 6.0 * (x / 18.0).sin() * (y / 23.0).cos() * (z / 29.0).sin();
                            if vessels.iter().any(|(a, b, r)| seg_dist(p, *a, *b) < *r) {
                                v = liver_hu + 50.0;
                            }
                            if cysts
                                .iter()
                                .any(|(c, r)| ((0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>()).sqrt() < *r)
                            {
                                v = 5.0;
                            }
                            for t in &tumours {
                                let (rho, bound) = t.rho(p);
                                if rho <= bound {
                                    label = 2;
                                    v = liver_hu - t.delta;
                                    if rho < 0.5 * bound && t.ax[0] > 15.0 {
                                        v -= 20.0; // necrotic core
                                    }
                                    if t.rim && rho > 0.8 * bound {
                                        v += 25.0; // enhancing rim
                                    }
                                }
                            }
                        }
                    }
                }
                hu[[k, j, i]] = v as f32;
                seg[[k, j, i]] = label;
            }
        }
    }
    // Tumours smaller than a voxel keep their centre voxel.
    for t in &tumours {
        let idx = [0, 1, 2].map(|a| {
            (((t.c[a] / sp[a]) + opts.shape_xyz[a] as f64 / 2.0 - 0.5).round().max(0.0) as usize)
                .min(opts.shape_xyz[a] - 1)
        });
        let [i, j, k] = idx;
        if seg[[k, j, i]] == 1 {
            seg[[k, j, i]] = 2;
            hu[[k, j, i]] = (liver_hu - t.delta) as f32;
        }
    }
    let planted = iw_core::label(seg.mapv(|v| u8::from(v == 2)).view(), iw_core::Connectivity::C26).count();
    gaussian_blur(&mut hu, [0.4, 0.6, 0.6]);
    let normal = Normal::new(0.0, noise_sd).expect("finite sd");
    let img = hu.mapv(|v| (v as f64 + normal.sample(&mut rng)).round().clamp(-1024.0, 3071.0) as i16);
    let geometry =
        Geometry { spacing_xyz_mm: sp, origin_xyz_mm: [pos(0, 0), pos(0, 1), pos(0, 2)], ..Geometry::default() };
    LitsPhantom {
        image: Volume::new(img, geometry.clone()),
        segmentation: Volume::new(seg, geometry),
        tumours: planted,
    }
}
