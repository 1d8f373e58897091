//! `iw synth lits` and `iw prepare lits` end to end: the raw layout, determinism, the
//! synthetic marker, the split, resume, and the report of missing cases.
use iw_test_support::cli::{ok, p, Iw};
use std::path::Path;
use std::process::Output;

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).run(args)
}

#[test]
fn synth_prepare_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, raw2, prep) = (dir.path().join("raw"), dir.path().join("raw2"), dir.path().join("prep"));
    let s = ok(&iw(&["synth", "lits", "--out", p(&raw), "--cases", "5", "--seed", "3", "--shape", "48,48,24"]));
    assert!(s.contains("wrote 5 synthetic LiTS cases"), "{s}");
    for i in 0..5 {
        assert!(raw.join(format!("volume-{i}.nii")).is_file() && raw.join(format!("segmentation-{i}.nii")).is_file());
    }
    ok(&iw(&[
        "synth",
        "lits",
        "--out",
        p(&raw2),
        "--cases",
        "5",
        "--seed",
        "3",
        "--shape",
        "48,48,24",
        "--threads",
        "1",
    ]));
    assert_eq!(
        std::fs::read(raw.join("volume-3.nii")).unwrap(),
        std::fs::read(raw2.join("volume-3.nii")).unwrap(),
        "deterministic for a seed"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(raw.join("synthetic.json")).unwrap()).unwrap();
    assert_eq!(meta["synthetic"], true);
    assert!(std::fs::read_to_string(raw.join("manifest.yaml")).unwrap().contains("split:"));

    let s = ok(&iw(&["prepare", "lits", "--raw", p(&raw), "--out", p(&prep)]));
    assert!(s.contains("prepared 5 case(s)") && s.contains("(synthetic data)"), "{s}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prep.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(info["synthetic"], true);
    assert_eq!(info["cases"].as_array().unwrap().len(), 5);
    assert_eq!(std::fs::read_to_string(prep.join("cases.csv")).unwrap().lines().count(), 6);

    // Resume: a finished case is kept as it is, a missing one is redone.
    let kept = prep.join("cases/1/image.f32");
    let before = std::fs::metadata(&kept).unwrap().modified().unwrap();
    std::fs::remove_dir_all(prep.join("cases/3")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    ok(&iw(&["prepare", "lits", "--raw", p(&raw), "--out", p(&prep)]));
    assert_eq!(std::fs::metadata(&kept).unwrap().modified().unwrap(), before);
    assert!(prep.join("cases/3/case.json").is_file());

    // With the real LiTS manifest the missing cases are reported by id.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/lits.yaml");
    let o =
        iw(&["prepare", "lits", "--raw", p(&raw), "--out", p(&dir.path().join("prep2")), "--manifest", p(&manifest)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("126 case(s) of the manifest are missing") && err.contains("5, 6, 7"), "{err}");
}

#[test]
fn prepare_reports_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let o = iw(&["prepare", "lits", "--raw", p(&dir.path().join("nope")), "--out", p(&dir.path().join("out"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    let o = iw(&["synth", "lits", "--out", p(dir.path()), "--shape", "8,8"]);
    assert_eq!(o.status.code(), Some(2));
}
