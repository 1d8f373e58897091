//! Connected components against scipy.ndimage.label (identical labels: both number components
//! by their first voxel in C order) and cc3d (the same partition), for 6, 18 and 26
//! connectivity, on random, lesion-like and edge-case volumes; plus a naive flood fill in
//! property tests.
mod common;
use common::*;
use iw_data::{label, read_volume, write_volume, Connectivity, Geometry, Volume};
use ndarray::Array3;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};

/// xorshift64*: a tiny deterministic generator for test volumes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_mask(shape: (usize, usize, usize), density: f64, seed: u64) -> Array3<u8> {
    let mut r = Rng(seed);
    Array3::from_shape_simple_fn(shape, || u8::from(r.unit() < density))
}

/// Ellipsoids of random radii (1..6 voxels), some overlapping or touching.
fn lesion_mask(shape: (usize, usize, usize), n: usize, seed: u64) -> Array3<u8> {
    let mut r = Rng(seed);
    let mut m = Array3::<u8>::zeros(shape);
    for _ in 0..n {
        let c = [r.unit() * shape.0 as f64, r.unit() * shape.1 as f64, r.unit() * shape.2 as f64];
        let rad = [1.0 + r.unit() * 5.0, 1.0 + r.unit() * 5.0, 1.0 + r.unit() * 5.0];
        for ((z, y, x), v) in m.indexed_iter_mut() {
            let d = ((z as f64 - c[0]) / rad[0]).powi(2)
                + ((y as f64 - c[1]) / rad[1]).powi(2)
                + ((x as f64 - c[2]) / rad[2]).powi(2);
            if d <= 1.0 {
                *v = 1;
            }
        }
    }
    m
}

fn cases() -> Vec<(String, Array3<u8>)> {
    let mut v = vec![
        ("empty".into(), Array3::zeros((5, 6, 7))),
        ("full".into(), Array3::from_elem((5, 6, 7), 1)),
        ("checkerboard".into(), Array3::from_shape_fn((9, 8, 7), |(z, y, x)| ((z + y + x) % 2) as u8)),
        (
            "corners".into(),
            Array3::from_shape_fn((6, 6, 6), |(z, y, x)| u8::from([z, y, x].iter().all(|&a| a == 0 || a == 5))),
        ),
        // (cc3d 4.1.1 throws "maximum length exception" on a 1 x 1 x N volume at 26-connectivity.)
        ("two_rows".into(), Array3::from_shape_fn((1, 2, 40), |(_, y, x)| u8::from((x + y) % 3 != 0))),
    ];
    for (i, d) in [0.05, 0.2, 0.35, 0.5, 0.7].iter().enumerate() {
        v.push((format!("random_{d}"), random_mask((23, 19, 31), *d, 1000 + i as u64)));
    }
    for i in 0..4 {
        v.push((format!("lesions_{i}"), lesion_mask((40, 48, 44), 25, 77 + i)));
    }
    v
}

fn same_partition(a: &Array3<u32>, b: &Array3<i32>) -> bool {
    let mut ab: HashMap<u32, i32> = HashMap::new();
    let mut ba: HashMap<i32, u32> = HashMap::new();
    a.iter().zip(b.iter()).all(|(&x, &y)| *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
}

#[test]
fn agrees_with_scipy_and_cc3d() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    for (name, m) in &cases {
        write_volume(dir.path().join(format!("mask_{name}.nii")), &Volume::new(m.clone(), Geometry::default()))
            .unwrap();
    }
    reference(&["ccl", dir.path().to_str().unwrap()]);
    for (name, m) in &cases {
        for conn in [6u32, 18, 26] {
            let ours = label(m.view(), Connectivity::from_number(conn).unwrap());
            let read = |kind: &str| -> Array3<i32> {
                match read_volume(dir.path().join(format!("{kind}_{conn}_mask_{name}.nii"))).unwrap() {
                    iw_data::DynVolume::I32(v) => v.data,
                    other => panic!("int32 expected, got {}", other.dtype()),
                }
            };
            let scipy = read("scipy");
            let ours_i32 = ours.labels.mapv(|l| l as i32);
            assert_eq!(ours_i32, scipy, "{name}, {conn}-connectivity: labels differ from scipy.ndimage.label");
            let cc3d = read("cc3d");
            assert!(same_partition(&ours.labels, &cc3d), "{name}, {conn}: partition differs from cc3d");
            assert_eq!(ours.count() as i32, *cc3d.iter().max().unwrap_or(&0), "{name}, {conn}: count");
        }
    }
}

/// Reference: breadth-first flood fill over the explicit neighbour offsets.
fn flood_fill(m: &Array3<u8>, conn: u32) -> Array3<u32> {
    let (nz, ny, nx) = m.dim();
    let mut offs = Vec::new();
    for dz in -1i64..=1 {
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                let nonzero = [dz, dy, dx].iter().filter(|&&d| d != 0).count();
                if nonzero > 0 && (conn == 26 || (conn == 18 && nonzero <= 2) || (conn == 6 && nonzero == 1)) {
                    offs.push((dz, dy, dx));
                }
            }
        }
    }
    let mut lab = Array3::<u32>::zeros(m.dim());
    let mut next = 0;
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                if m[[z, y, x]] == 0 || lab[[z, y, x]] != 0 {
                    continue;
                }
                next += 1;
                lab[[z, y, x]] = next;
                let mut q = VecDeque::from([(z, y, x)]);
                while let Some((cz, cy, cx)) = q.pop_front() {
                    for &(dz, dy, dx) in &offs {
                        let (a, b, c) = (cz as i64 + dz, cy as i64 + dy, cx as i64 + dx);
                        if a < 0 || b < 0 || c < 0 || a >= nz as i64 || b >= ny as i64 || c >= nx as i64 {
                            continue;
                        }
                        let p = [a as usize, b as usize, c as usize];
                        if m[p] != 0 && lab[p] == 0 {
                            lab[p] = next;
                            q.push_back((p[0], p[1], p[2]));
                        }
                    }
                }
            }
        }
    }
    lab
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_flood_fill(nz in 1usize..7, ny in 1usize..7, nx in 1usize..9, density in 0.0f64..1.0, seed in any::<u64>(), conn in prop::sample::select(vec![6u32, 18, 26])) {
        let m = random_mask((nz, ny, nx), density, seed | 1);
        let ours = label(m.view(), Connectivity::from_number(conn).unwrap());
        let want = flood_fill(&m, conn);
        prop_assert_eq!(&ours.labels, &want);
        // Sizes and bounding boxes agree with the label image.
        let mut bg = 0u64;
        for c in &ours.components {
            let mut n = 0u64;
            let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
            for ((z, y, x), &l) in ours.labels.indexed_iter() {
                if l == c.label {
                    n += 1;
                    for (a, v) in [z, y, x].into_iter().enumerate() {
                        lo[a] = lo[a].min(v);
                        hi[a] = hi[a].max(v);
                    }
                }
            }
            prop_assert_eq!(n, c.voxels);
            prop_assert_eq!(lo, c.bbox.min_zyx);
            prop_assert_eq!(hi, c.bbox.max_zyx);
        }
        for &l in ours.labels.iter() { if l == 0 { bg += 1; } }
        prop_assert_eq!(bg, ours.background_voxels);
    }
}
