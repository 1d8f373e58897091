//! Shared helpers of iw-data's integration tests: the Python references in `golden/`.
#![allow(dead_code)]
use std::path::Path;

/// Runs `golden/reference.py ARGS` (skimage, scipy, ports of the authors' code) and returns its
/// stdout.
pub fn reference(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reference.py");
    iw_test_support::run_python(&script, args)
}

/// Paths of the real files that the installed packages ship.
pub fn real_paths() -> serde_json::Value {
    serde_json::from_str(&reference(&["paths"])).expect("paths JSON")
}
