//! Connected components against scipy.ndimage.label (identical labels: both number components
//! by their first voxel in C order) and cc3d (the same partition), for 6, 18 and 26
//! connectivity, on random, lesion-like and edge-case volumes (committed fixtures, see
//! `common`); plus a naive flood fill in property tests.
mod common;
use common::*;
use iw_core::{label, Connectivity};
use ndarray::Array3;
use proptest::prelude::*;
use std::collections::VecDeque;

/// Against scipy.ndimage.label and cc3d through the committed fixtures: for every case and
/// connectivity the fixture holds scipy's label count and label hash, and cc3d's count and the
/// hash of its labels renumbered by first voxel (the same partition gives the same hash).
#[test]
fn agrees_with_scipy_and_cc3d() {
    let fx = fixtures();
    let ccl = fx["ccl"].as_object().expect("ccl fixtures");
    let cases = cases();
    assert_eq!(ccl.len(), cases.len(), "one fixture per test volume");
    for (name, m) in &cases {
        for conn in [6u32, 18, 26] {
            let ours = label(m.view(), Connectivity::from_number(conn).unwrap());
            let want = &ccl[name.as_str()][conn.to_string()];
            let hash = fnv64(ours.labels.iter().copied());
            assert_eq!(
                hash,
                want["scipy_hash"].as_str().unwrap(),
                "{name}, {conn}: labels differ from scipy.ndimage.label"
            );
            assert_eq!(ours.count() as u64, want["scipy_count"].as_u64().unwrap(), "{name}, {conn}: count vs scipy");
            assert_eq!(hash, want["cc3d_hash"].as_str().unwrap(), "{name}, {conn}: partition differs from cc3d");
            assert_eq!(ours.count() as u64, want["cc3d_count"].as_u64().unwrap(), "{name}, {conn}: count vs cc3d");
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Any memory layout is read in place (one row copied at a time where rows are not
    /// contiguous): transposed, strided and zero-stride (broadcast) views label as their C-order
    /// copies do.
    #[test]
    fn any_layout_labels_as_its_c_order_copy(nz in 1usize..7, ny in 1usize..7, nx in 1usize..9, density in 0.0f64..1.0, seed in any::<u64>(), conn in prop::sample::select(vec![6u32, 18, 26])) {
        let conn = Connectivity::from_number(conn).unwrap();
        let m = random_mask((nz, ny, nx), density, seed | 1);
        let t = m.view().permuted_axes([2, 0, 1]);
        let s = m.slice(ndarray::s![..;2, .., ..;-2]);
        let plane = m.slice(ndarray::s![0, .., ..]);
        let b = plane.broadcast((3, ny, nx)).unwrap();
        let row = m.slice(ndarray::s![0, 0, ..]);
        let r = row.broadcast((nz, ny, nx)).unwrap();
        for v in [t, s, b, r] {
            let ours = label(v, conn);
            let want = label(v.as_standard_layout().view(), conn);
            prop_assert_eq!(&ours.labels, &want.labels);
            prop_assert_eq!(&ours.components, &want.components);
            prop_assert_eq!(ours.background_voxels, want.background_voxels);
        }
    }
}
