//! Shared helpers of iw-core's integration tests: the deterministic test volumes, the label
//! hash the fixtures store, and the committed fixtures (`tests/fixtures/references.json`,
//! written by `tests/golden/make_fixtures.py`, kept current by `python_references.rs`).
#![allow(dead_code)]
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// xorshift64*: a tiny deterministic generator for test volumes.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn random_mask(shape: (usize, usize, usize), density: f64, seed: u64) -> Array3<u8> {
    let mut r = Rng(seed);
    Array3::from_shape_simple_fn(shape, || u8::from(r.unit() < density))
}

/// Ellipsoids of random radii (1..6 voxels), some overlapping or touching.
pub fn lesion_mask(shape: (usize, usize, usize), n: usize, seed: u64) -> Array3<u8> {
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

pub fn cases() -> Vec<(String, Array3<u8>)> {
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

/// FNV-1a (64 bit) over 32-bit words, as tests/golden/make_fixtures.py computes it: the
/// fixtures store label volumes as this hash of their C-order labels.
pub fn fnv64(words: impl Iterator<Item = u32>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for w in words {
        h ^= w as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// The committed fixtures.
pub fn fixtures_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/references.json")
}

/// The committed fixtures, parsed.
pub fn fixtures() -> serde_json::Value {
    let p = fixtures_path();
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("fixtures JSON")
}

/// Writes every test volume of [`cases`] to `dir` as `<name>.u8` (C order) and `cases.json`
/// (names and shapes), for the fixture generator.
pub fn write_cases(dir: &Path) {
    let mut index = Vec::new();
    for (name, m) in cases() {
        std::fs::write(dir.join(format!("{name}.u8")), m.as_standard_layout().as_slice().unwrap()).unwrap();
        index.push(serde_json::json!({"name": name, "shape": m.shape()}));
    }
    std::fs::write(dir.join("cases.json"), serde_json::Value::Array(index).to_string()).unwrap();
}
