//! `iw records` and `iw report` end to end.
use iw_core::{Geometry, Volume};
use iw_io::write_volume;
use iw_test_support::cli::Iw;
use iw_test_support::shared;
use ndarray::Array3;
use std::process::Output;

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).run(args)
}

#[test]
fn report_on_the_paper_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = shared().join("paper-records");
    let o = iw(&["report", records.to_str().unwrap(), "--json", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 19);
    let iwdl = rows.iter().find(|r| r["dataset"] == "lits" && r["method"] == "iwdl").unwrap();
    for key in [
        "cases",
        "lesions",
        "object_dice_mean",
        "object_dice_std",
        "avg_recall_mean",
        "avg_recall_std",
        "cpm_mean",
        "cpm_std",
        "small_avg_recall_mean",
        "large_cpm_std",
    ] {
        assert!(!iwdl[key].is_null(), "{key}");
    }
    assert_eq!(format!("{:.4}", iwdl["avg_recall_mean"].as_f64().unwrap()), "0.7900");
    for f in ["table.md", "table.csv", "froc_lits.png", "froc_lits.svg", "froc_luna.png", "froc_luna.svg"] {
        let p = dir.path().join(f);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(bytes.len() > 1000, "{f} is {} bytes", bytes.len());
    }
    assert!(std::fs::read(dir.path().join("froc_lits.png")).unwrap().starts_with(b"\x89PNG"));
    let svg = std::fs::read_to_string(dir.path().join("froc_lits.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("small lesions") && svg.contains("iwdl"));
    let csv = std::fs::read_to_string(dir.path().join("table.csv")).unwrap();
    assert_eq!(csv.lines().count(), 20);

    // The corrected bootstrap is labelled and differs where cases had no records (luna).
    let o = iw(&["report", records.to_str().unwrap(), "--bootstrap-fix"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("CORRECTED bootstrap"), "{text}");
}

#[test]
fn report_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = iw(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(dir.path().to_str().unwrap()) && err.contains("no <dataset>"), "{err}");
    std::fs::create_dir_all(dir.path().join("mydata/dl/experiment_0/test_metrics")).unwrap();
    std::fs::copy(
        shared().join("paper-records/lits/dl/experiment_0/test_metrics/prc_records.json"),
        dir.path().join("mydata/dl/experiment_0/test_metrics/prc_records.json"),
    )
    .unwrap();
    let o = iw(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--small-below"));
    let o = iw(&["report", dir.path().to_str().unwrap(), "--small-below", "10"]);
    assert!(o.status.success());
}

#[test]
fn records_for_a_case_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut gt = Array3::<u8>::zeros((8, 9, 10));
    let mut prob = Array3::<f32>::from_elem((8, 9, 10), 0.1);
    for z in 2..5 {
        for y in 2..5 {
            for x in 2..5 {
                gt[[z, y, x]] = 1;
                prob[[z, y, x + 1]] = 0.9;
            }
        }
    }
    prob[[7, 8, 9]] = 0.8; // a false positive
    let g = Geometry::default();
    write_volume(d.join("segmentation-3.nii.gz"), &Volume::new(gt, g.clone())).unwrap();
    write_volume(d.join("prob.nii.gz"), &Volume::new(prob, g.clone())).unwrap();
    let out = d.join("prc_records.json");
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let o = iw(&["records", &p("segmentation-3.nii.gz"), &p("prob.nii.gz"), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("case 3: 1 lesions (1 hit at p > 0.5), 2 predicted components"), "{s}");
    let recs = iw_metrics::read_records(&out).unwrap();
    assert_eq!(recs["3"].len(), 3);
    assert!((recs["3"][0].hit_dice - 2.0 * 18.0 / 54.0).abs() < 1e-12);
    let o = iw(&[
        "records",
        &p("segmentation-3.nii.gz"),
        &p("prob.nii.gz"),
        "--out",
        out.to_str().unwrap(),
        "--case-id",
        "7",
        "--append",
    ]);
    assert!(o.status.success());
    let recs = iw_metrics::read_records(&out).unwrap();
    assert_eq!(recs.keys().cloned().collect::<Vec<_>>(), ["3", "7"]);

    // A prediction on another grid is an error, never a silent crop.
    write_volume(d.join("small.nii.gz"), &Volume::new(Array3::<f32>::zeros((8, 9, 9)), g)).unwrap();
    let o = iw(&["records", &p("segmentation-3.nii.gz"), &p("small.nii.gz"), "--out", &p("x.json")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("small.nii.gz") && err.contains("shapes must match"), "{err}");
    assert!(!d.join("x.json").exists());
}
