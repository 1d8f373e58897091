//! Shared helpers: the project's Python (numpy, nibabel, skimage, cc3d) for golden values.
#![allow(dead_code, unused_imports)]
use std::path::{Path, PathBuf};

pub use iw_test_support::{python, run_python, shared};

pub fn numpy(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/numpy_reference.py");
    iw_test_support::python_json(&script, args)
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the numpy reference for its side effect (a file), returning its stdout.
pub fn numpy_raw(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/numpy_reference.py");
    run_python(&script, args)
}
