//! Shared helpers of iw-io's integration tests: the Python references in `golden/`.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

/// Runs `golden/reference.py ARGS` (nibabel, pydicom, SimpleITK) and returns its stdout.
pub fn reference(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reference.py");
    iw_test_support::run_python(&script, args)
}

/// `describe READER PATHS...` as JSON values, one per path.
pub fn describe(reader: &str, paths: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut args = vec!["describe".to_string(), reader.to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&reference(&args)).expect("reference JSON")
}

/// Paths of the real files that the installed packages ship.
pub fn real_paths() -> serde_json::Value {
    serde_json::from_str(&reference(&["paths"])).expect("paths JSON")
}

pub fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub fn shape(v: &serde_json::Value) -> [usize; 3] {
    let s: Vec<usize> = v.as_array().expect("shape").iter().map(|x| x.as_u64().expect("int") as usize).collect();
    [s[0], s[1], s[2]]
}

/// |a - b| <= tol * max(1, |b|)
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// Checks the value statistics of our volume against the reference's (sum in f64, NaN count,
/// min, max).
pub fn assert_stats(ours: &iw_core::DynVolume, reference: &serde_json::Value, what: &str) {
    let s = ours.value_stats();
    assert_eq!(s.nan_count as u64, reference["nan_count"].as_u64().unwrap(), "{what}: NaN count");
    let n = ours.shape_zyx().iter().product::<usize>() as f64;
    // A per-voxel float32 rounding of the reference's float64 values bounds the difference.
    let scale =
        reference["max"].as_f64().unwrap_or(0.0).abs().max(reference["min"].as_f64().unwrap_or(0.0).abs()).max(1.0);
    assert!(
        (s.sum - f(&reference["sum"])).abs() <= 1e-6 * scale * n,
        "{what}: sum {} vs reference {}",
        s.sum,
        reference["sum"]
    );
    if let (Some(mn), Some(mx)) = (reference["min"].as_f64(), reference["max"].as_f64()) {
        assert!(
            close(s.min, mn, 1e-6) && close(s.max, mx, 1e-6),
            "{what}: range [{}, {}] vs [{mn}, {mx}]",
            s.min,
            s.max
        );
    }
}
