//! Inverse weights: the invariants of the spec (METHOD.md, "Inverse weighting") as property
//! tests, plus small cases checked by hand.
use iw_core::{inverse_weights, label_counts, WeightBounds};
use ndarray::Array3;
use proptest::prelude::*;
use std::collections::HashMap;

fn unclipped() -> WeightBounds {
    WeightBounds::new(0.0, 1e300).unwrap()
}

/// Labels drawn from a few arbitrary (non-contiguous) ids, as in a crop of a labelled volume.
fn labels_strategy() -> impl Strategy<Value = Array3<u32>> {
    (1usize..6, 1usize..6, 1usize..8, prop::collection::vec(0u32..1000, 1..5), any::<u64>()).prop_map(
        |(z, y, x, ids, seed)| {
            let mut s = seed | 1;
            Array3::from_shape_simple_fn((z, y, x), || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // About half background.
                if s % 2 == 0 {
                    0
                } else {
                    ids[(s / 2 % ids.len() as u64) as usize]
                }
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn every_component_carries_n_over_k_plus_1(labels in labels_strategy()) {
        let w = inverse_weights(labels.view(), unclipped());
        let n = labels.len() as f64;
        let mut per: HashMap<u32, f64> = HashMap::new();
        for (&l, &x) in labels.iter().zip(w.iter()) {
            *per.entry(l).or_default() += x as f64;
        }
        let k = per.keys().filter(|&&l| l != 0).count() as f64;
        for (l, total) in per {
            prop_assert!((total - n / (k + 1.0)).abs() <= 1e-5 * n, "label {} carries {} not {}", l, total, n / (k + 1.0));
        }
    }

    #[test]
    fn clipping_bounds_hold(labels in labels_strategy(), lo in 0.0f64..3.0, span in 0.0f64..10.0) {
        let b = WeightBounds::new(lo, lo + span).unwrap();
        let w = inverse_weights(labels.view(), b);
        let unc = inverse_weights(labels.view(), unclipped());
        for (&x, &u) in w.iter().zip(unc.iter()) {
            prop_assert!(x as f64 >= lo as f32 as f64 && x as f64 <= (lo + span) as f32 as f64);
            prop_assert_eq!(x, (u as f64).clamp(lo, lo + span) as f32);
        }
    }
}

#[test]
fn empty_mask_gives_all_ones() {
    let w = inverse_weights(Array3::<u32>::zeros((3, 4, 5)).view(), WeightBounds::default());
    assert!(w.iter().all(|&x| x == 1.0));
}

#[test]
fn hand_computed_patch() {
    // 4 x 4 x 4 = 64 voxels, a 1-voxel lesion (label 7) and an 8-voxel lesion (label 2): K = 2.
    let mut l = Array3::<u32>::zeros((4, 4, 4));
    l[[0, 0, 0]] = 7;
    for z in 2..4 {
        for y in 2..4 {
            for x in 2..4 {
                l[[z, y, x]] = 2;
            }
        }
    }
    let w = inverse_weights(l.view(), WeightBounds::default());
    assert_eq!(w[[0, 0, 0]], 64.0 / (3.0 * 1.0));
    assert_eq!(w[[3, 3, 3]], 64.0 / (3.0 * 8.0));
    assert_eq!(w[[1, 1, 1]], 1.0); // 64 / (3 * 55) = 0.39 clipped up to w_min = 1
    let w = inverse_weights(l.view(), WeightBounds::new(0.0, 10.0).unwrap());
    assert_eq!(w[[0, 0, 0]], 10.0);
    assert!((w[[1, 1, 1]] - 64.0 / (3.0 * 55.0)).abs() < 1e-7);
    assert_eq!(label_counts(l.view())[7], 1);
    // A non-contiguous view (every other x) gives the weights of its own copy.
    let view = l.slice(ndarray::s![.., .., ..;2]);
    assert_eq!(
        inverse_weights(view, WeightBounds::default()),
        inverse_weights(view.to_owned().view(), WeightBounds::default())
    );
}

#[test]
fn invalid_bounds_are_rejected() {
    assert!(WeightBounds::new(2.0, 1.0).is_err());
    assert!(WeightBounds::new(f64::NAN, 1.0).is_err());
    assert!(WeightBounds::new(-1.0, 1.0).is_err());
}

/// Voronoi regions: every voxel's region is a nearest component, by brute force over all
/// component voxels, with anisotropic spacing.
#[test]
fn voronoi_regions_are_nearest_components() {
    let mut s = 12345u64;
    for spacing in [[1.0, 1.0, 1.0], [2.5, 0.8, 0.7]] {
        for _ in 0..4 {
            let mut l = Array3::<u32>::zeros((9, 10, 11));
            for k in 1..=4u32 {
                for _ in 0..3 {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let (z, y, x) = ((s % 9) as usize, (s / 9 % 10) as usize, (s / 90 % 11) as usize);
                    l[[z, y, x]] = k;
                }
            }
            let r = iw_core::voronoi_regions(l.view(), spacing);
            let sites: Vec<([usize; 3], u32)> =
                l.indexed_iter().filter(|(_, &v)| v != 0).map(|((z, y, x), &v)| ([z, y, x], v)).collect();
            let d2 = |a: [usize; 3], b: [usize; 3]| {
                (0..3).map(|i| ((a[i] as f64 - b[i] as f64) * spacing[i]).powi(2)).sum::<f64>()
            };
            for ((z, y, x), &reg) in r.indexed_iter() {
                let p = [z, y, x];
                let best = sites.iter().map(|(q, _)| d2(p, *q)).fold(f64::INFINITY, f64::min);
                let mine =
                    sites.iter().filter(|(_, v)| *v == reg).map(|(q, _)| d2(p, *q)).fold(f64::INFINITY, f64::min);
                assert!((mine - best).abs() < 1e-9, "voxel {p:?}: region {reg} at {mine}, nearest at {best}");
            }
        }
    }
    assert!(iw_core::voronoi_regions(Array3::<u32>::zeros((3, 3, 3)).view(), [1.0; 3]).iter().all(|&v| v == 0));
}
