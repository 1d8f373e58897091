//! Shared helpers: the project's Python (numpy, nibabel, skimage, cc3d) for golden values.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("IW_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make setup`", p.display());
    p
}

pub fn run_python(script: &Path, args: &[&str]) -> String {
    let out = Command::new(python()).arg(script).args(args).output().expect("running python");
    assert!(out.status.success(), "{} {args:?} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

pub fn numpy(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/numpy_reference.py");
    serde_json::from_str(&run_python(&script, args)).expect("JSON")
}

pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}
