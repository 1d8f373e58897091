//! The GPU labelling algorithm (kernels/ccl.cu), run serially by `label_emulated` in shuffled
//! voxel orders, against iw-core's run-based labeller: equal labels voxel for voxel and the
//! same K, for 6, 18 and 26 connectivity, on random and adversarial masks and odd shapes that
//! do not fill the 8 x 8 x 4 tiles. No GPU needed; tests/cuda.rs runs the kernels themselves.
mod common;
use common::*;
use iw_core::{label, Connectivity};
use iw_cuda::label_emulated;
use ndarray::Array3;

fn check(name: &str, m: &Array3<u8>, seeds: &[u64]) {
    let (nz, ny, nx) = m.dim();
    let flat: Vec<bool> = m.iter().map(|&v| v != 0).collect();
    for conn in [6u32, 18, 26] {
        let want = label(m.view(), Connectivity::from_number(conn).unwrap());
        for &seed in seeds {
            let (got, k) = label_emulated(&flat, [nz, ny, nx], conn, seed).unwrap();
            assert_eq!(k as usize, want.count(), "{name} {:?} conn {conn} seed {seed}: K", m.dim());
            let first_bad = got.iter().zip(want.labels.iter()).position(|(a, b)| a != b);
            assert_eq!(first_bad, None, "{name} {:?} conn {conn} seed {seed}: labels differ", m.dim());
        }
    }
}

#[test]
fn random_masks_match_the_cpu_labeller() {
    let mut n = 0;
    for (i, dims) in [[1, 1, 1], [1, 1, 37], [3, 17, 9], [9, 16, 16], [13, 11, 29], [20, 24, 19]].iter().enumerate() {
        for (j, density) in [0.05, 0.2, 0.35, 0.5, 0.8].iter().enumerate() {
            let m = random(*dims, *density, (i * 10 + j) as u64 + 1);
            check("random", &m, &[0, 7, 99]);
            n += 1;
        }
    }
    assert_eq!(n, 30);
}

#[test]
fn adversarial_masks_match_the_cpu_labeller() {
    for dims in [[8, 8, 8], [7, 19, 23], [12, 33, 31]] {
        for (name, m) in adversarial(dims) {
            check(name, &m, &[0, 5]);
        }
    }
}

#[test]
fn known_counts() {
    // Independent of any labeller: specks are all singletons, the checkerboard is one
    // component for 18/26 and all singletons for 6, the spiral is one snake.
    let dims = [6, 10, 12];
    let flat = |m: &Array3<u8>| m.iter().map(|&v| v != 0).collect::<Vec<bool>>();
    let s = specks(dims);
    for conn in [6, 18, 26] {
        assert_eq!(label_emulated(&flat(&s), dims, conn, 3).unwrap().1, 3 * 5 * 6);
    }
    let c = checkerboard(dims);
    assert_eq!(label_emulated(&flat(&c), dims, 6, 3).unwrap().1, (6 * 10 * 12) / 2);
    assert_eq!(label_emulated(&flat(&c), dims, 18, 3).unwrap().1, 1);
    assert_eq!(label_emulated(&flat(&c), dims, 26, 3).unwrap().1, 1);
    let sp = spiral([5, 21, 21]);
    for conn in [6, 18, 26] {
        assert_eq!(label_emulated(&flat(&sp), [5, 21, 21], conn, 3).unwrap().1, 1, "spiral, conn {conn}");
    }
}

#[test]
fn bad_input_is_an_error() {
    let e = label_emulated(&[true; 5], [1, 2, 3], 26, 0).unwrap_err().to_string();
    assert!(e.contains("5 voxels") && e.contains("6"), "{e}");
    let e = label_emulated(&[true; 6], [1, 2, 3], 8, 0).unwrap_err().to_string();
    assert!(e.contains("connectivity must be 6, 18 or 26"), "{e}");
}
