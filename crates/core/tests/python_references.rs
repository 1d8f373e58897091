//! The committed fixtures are what the Python references give today (the slow tier: needs the
//! venv; `make test` runs it, `make test-fast` does not). `IW_UPDATE_FIXTURES=1` rewrites them.
mod common;
use common::*;

#[test]
fn fixtures_are_current() {
    let dir = tempfile::tempdir().unwrap();
    write_cases(dir.path());
    let out = dir.path().join("references.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/make_fixtures.py");
    iw_test_support::run_python(&script, &[dir.path().to_str().unwrap(), out.to_str().unwrap()]);
    let fresh = std::fs::read_to_string(&out).unwrap();
    if std::env::var("IW_UPDATE_FIXTURES").is_ok_and(|v| v == "1") {
        std::fs::write(fixtures_path(), &fresh).unwrap();
    }
    let fresh: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    let committed = fixtures();
    for key in ["ccl", "random_state_shuffles", "random_state_permutation_195939070_20"] {
        assert_eq!(
            fresh[key],
            committed[key],
            "{key}: {} differs from what the references give (IW_UPDATE_FIXTURES=1 rewrites it)",
            fixtures_path().display()
        );
    }
}
