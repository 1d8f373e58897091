//! Per-case records against the two Python references in scripts/bench/lesion_records.py: the
//! paper's way (skimage labels, a loop over components) and a vectorised numpy/cc3d version, on a
//! synthetic case with hits, misses, false positives, a prediction merging two lesions and a
//! lesion split in two predictions. Also: the JSON schema round trip, Python's json reading our
//! files, the size strata, and bad input. (The slow tier: needs the venv.)
mod common;
use iw_core::{Geometry, Volume};
use iw_io::write_volume;
use iw_metrics::{
    evaluate_case, format_records, parse_records, read_records, stratify, CaseRecords, LesionRecord, Stratum,
};
use ndarray::Array3;
use std::path::Path;

/// Ground truth and logits of a synthetic case: (gt, logits).
fn synthetic_case() -> (Array3<f32>, Array3<f32>) {
    let shape = (30, 40, 44);
    let mut gt = Array3::<f32>::zeros(shape);
    let mut logit = Array3::<f32>::from_elem(shape, -5.0);
    let ball = |a: &mut Array3<f32>, c: [f64; 3], r: f64, v: f32, add: bool| {
        for ((z, y, x), e) in a.indexed_iter_mut() {
            let d = ((z as f64 - c[0]).powi(2) + (y as f64 - c[1]).powi(2) + (x as f64 - c[2]).powi(2)).sqrt();
            if d <= r {
                // A logit profile that peaks in the middle, so max, median and q95 differ.
                *e = if add { v * (1.5 - d / r) as f32 } else { v };
            }
        }
    };
    // GT lesions: big, small, tiny (missed), two close ones (merged by one prediction), one split.
    for (c, r) in [
        ([8.0, 10.0, 10.0], 5.0),
        ([20.0, 30.0, 12.0], 2.0),
        ([5.0, 35.0, 38.0], 1.0),
        ([22.0, 10.0, 30.0], 2.5),
        ([22.0, 10.0, 36.5], 2.5),
        ([12.0, 28.0, 34.0], 3.0),
    ] {
        ball(&mut gt, c, r, 1.0, false);
    }
    // Predictions.
    ball(&mut logit, [8.5, 10.5, 10.0], 4.5, 4.0, true); // hit, shifted
    ball(&mut logit, [20.0, 30.0, 13.0], 2.0, 2.5, true); // small hit
    ball(&mut logit, [22.0, 10.0, 33.0], 5.5, 3.0, true); // merges two lesions
    ball(&mut logit, [12.0, 28.0, 32.0], 1.5, 3.5, true); // split: part one
    ball(&mut logit, [12.0, 28.0, 36.5], 1.5, 1.2, true); // split: part two
    ball(&mut logit, [26.0, 36.0, 5.0], 2.0, 0.8, true); // false positive
    ball(&mut logit, [3.0, 3.0, 40.0], 1.0, 6.0, true); // false positive, confident
    (gt, logit)
}

fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + (-(x as f64)).exp())) as f32
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_same_records(ours: &[LesionRecord], theirs: &[LesionRecord], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: record count");
    for (a, b) in ours.iter().zip(theirs) {
        let w = format!("{what}, {}", a.obj);
        assert_eq!((&a.obj, a.is_tum, &a.hit_obj), (&b.obj, b.is_tum, &b.hit_obj), "{w}");
        for (k, x, y) in [
            ("diameter", a.diameter, b.diameter),
            ("hit_dice", a.hit_dice, b.hit_dice),
            ("hit_max", a.hit_max, b.hit_max),
            ("hit_median", a.hit_median, b.hit_median),
            ("hit_q95", a.hit_q95, b.hit_q95),
            ("hit_logit", a.hit_logit, b.hit_logit),
            ("hit_stat", a.hit_stat, b.hit_stat),
            ("self_stat", a.self_stat, b.self_stat),
            ("self_logit", a.self_logit, b.self_logit),
        ] {
            assert!(close(x, y), "{w}: {k} = {x} vs reference {y}");
        }
    }
}

#[test]
fn records_match_the_python_references() {
    let (gt, logit) = synthetic_case();
    let prob = logit.mapv(sigmoid);
    let ours = evaluate_case(gt.view(), prob.view(), Some(logit.view())).unwrap();
    let n_gt = ours.records.iter().filter(|r| r.is_tum).count();
    let n_pr = ours.records.len() - n_gt;
    assert_eq!((n_gt, n_pr), (6, 7), "the synthetic case's components");
    assert!(ours.records.iter().any(|r| r.is_tum && r.hit_dice == 0.0), "a missed lesion");
    assert!(ours.records.iter().any(|r| !r.is_tum && r.hit_dice == 0.0), "a false positive");

    let dir = tempfile::tempdir().unwrap();
    let g = Geometry::default();
    write_volume(dir.path().join("gt.nii"), &Volume::new(gt.mapv(|v| v as u8), g.clone())).unwrap();
    write_volume(dir.path().join("prob.nii"), &Volume::new(prob.clone(), g.clone())).unwrap();
    write_volume(dir.path().join("logit.nii"), &Volume::new(logit.clone(), g)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/lesion_records.py");
    for imp in ["loops", "vectorized"] {
        let out = dir.path().join(format!("{imp}.json"));
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        common::run_python(
            &script,
            &[&p("gt.nii"), &p("prob.nii"), &p("logit.nii"), out.to_str().unwrap(), "--impl", imp],
        );
        let theirs = read_records(&out).unwrap();
        assert_same_records(&ours.records, &theirs["0"], imp);
    }

    // Without logits they are derived from the probabilities: the same hits, and logits equal up
    // to float32 probability resolution (p = sigmoid(9) keeps 4 significant digits of 1 - p).
    let derived = evaluate_case(gt.view(), prob.view(), None).unwrap();
    for (a, b) in derived.records.iter().zip(&ours.records) {
        assert_eq!((a.hit_dice, &a.hit_obj), (b.hit_dice, &b.hit_obj));
        if b.self_logit.is_finite() {
            assert!((a.self_logit - b.self_logit).abs() < 1e-2, "{}: {} vs {}", a.obj, a.self_logit, b.self_logit);
        }
    }
}

#[test]
fn voxel_dice_and_shape_mismatch() {
    let mut gt = Array3::<f32>::zeros((4, 4, 4));
    let mut prob = Array3::<f32>::zeros((4, 4, 4));
    gt[[1, 1, 1]] = 1.0;
    gt[[1, 1, 2]] = 1.0;
    prob[[1, 1, 2]] = 0.9;
    prob[[3, 3, 3]] = 0.7;
    let e = evaluate_case(gt.view(), prob.view(), None).unwrap();
    assert_eq!(e.dice, 0.5);
    let empty = Array3::<f32>::zeros((4, 4, 4));
    assert_eq!(evaluate_case(empty.view(), empty.view(), None).unwrap().dice, 1.0);
    let other = Array3::<f32>::zeros((4, 4, 5));
    let err = evaluate_case(gt.view(), other.view(), None).unwrap_err().to_string();
    assert!(err.contains("shape") && err.contains("[4, 4, 5]"), "{err}");
}

#[test]
fn paper_records_round_trip_and_python_reads_ours() {
    let src = common::shared().join("paper-records/lits/dl/experiment_0/test_metrics/prc_records.json");
    let recs = read_records(&src).unwrap();
    let text = format_records(&recs);
    assert_eq!(parse_records(&src, &text).unwrap(), recs);
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.json");
    std::fs::write(&ours, &text).unwrap();
    let check = format!(
        "import json,sys; a=json.load(open({:?})); b=json.load(open({:?})); sys.exit(0 if a==b else 1)",
        src.to_str().unwrap(),
        ours.to_str().unwrap()
    );
    let st = std::process::Command::new(common::python()).args(["-c", &check]).status().unwrap();
    assert!(st.success(), "Python's json reads our file as the same records");
}

fn rec(obj: &str, is_tum: bool, diameter: f64, hit_dice: f64, hit_obj: &str) -> LesionRecord {
    LesionRecord {
        obj: obj.into(),
        is_tum,
        diameter,
        hit_dice,
        hit_max: 0.0,
        hit_median: 0.0,
        hit_q95: 0.0,
        hit_logit: if is_tum && hit_dice > 0.0 { 1.0 } else { f64::NEG_INFINITY },
        hit_stat: 0.0,
        hit_obj: hit_obj.into(),
        self_stat: 1.0,
        self_logit: if is_tum { f64::INFINITY } else { 1.0 },
        extent: None,
    }
}

#[test]
fn strata_keep_the_hits_of_their_lesions() {
    let mut cases = CaseRecords::new();
    cases.insert(
        "0".into(),
        vec![
            rec("tum_1", true, 5.0, 0.5, "pred_1"),   // small, hit by a large prediction
            rec("tum_2", true, 20.0, 0.7, "pred_2"),  // large
            rec("pred_1", false, 15.0, 0.5, "tum_1"), // large, but the hit of a small lesion
            rec("pred_2", false, 18.0, 0.7, "tum_2"),
            rec("pred_3", false, 3.0, 0.0, "tum_None"), // small false positive
        ],
    );
    cases.insert("1".into(), vec![rec("tum_1", true, 30.0, 0.0, "pred_None")]);
    let small = stratify(&cases, Stratum::Small(12.0));
    let names = |c: &CaseRecords, id: &str| c[id].iter().map(|r| r.obj.clone()).collect::<Vec<_>>();
    assert_eq!(names(&small, "0"), ["tum_1", "pred_1", "pred_3"]);
    assert!(small["1"].is_empty());
    let large = stratify(&cases, Stratum::Large(12.0));
    assert_eq!(names(&large, "0"), ["tum_2", "pred_1", "pred_2"]);
    assert_eq!(names(&large, "1"), ["tum_1"]);
}

#[test]
fn bad_records_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prc_records.json");
    let good = "{\"0\": [{\"obj\": \"tum_1\", \"is_tum\": true, \"diameter\": 3.0, \"hit_dice\": 0.0, \"hit_max\": 0.0, \"hit_median\": 0.0, \"hit_q95\": 0.0, \"hit_logit\": -Infinity, \"hit_stat\": 0.0, \"hit_obj\": \"pred_None\", \"self_stat\": 1.0, \"self_logit\": Infinity}]}";
    std::fs::write(&p, good).unwrap();
    assert_eq!(read_records(&p).unwrap()["0"].len(), 1);
    for (bad, msg) in [
        (good.replace("\"hit_dice\": 0.0, ", ""), "missing field `hit_dice`"),
        (good.replace("\"diameter\": 3.0", "\"diameter\": Infinity"), "diameter = inf must be finite"),
        (good.replace("\"hit_max\": 0.0", "\"hit_max\": NaN"), "hit_max is NaN"),
        (good.replace("\"diameter\": 3.0", "\"diameter\": 3.0, \"extra\": 1"), "unknown field `extra`"),
        ("{\"0\": [".to_string(), "not a records file"),
    ] {
        std::fs::write(&p, &bad).unwrap();
        let e = read_records(&p).unwrap_err().to_string();
        assert!(e.contains("prc_records.json") && e.contains(msg), "{e}");
    }
}

/// Where iw keeps a run's records (`iw_run::RunDir::records_in_run`; iw-metrics takes it as an argument).
const RECORDS_IN_RUN: &str = "test_metrics/prc_records.json";

#[test]
fn bad_folders_name_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let e = iw_metrics::load_records_dir(dir.path(), RECORDS_IN_RUN.as_ref()).unwrap_err().to_string();
    assert!(e.contains("no <dataset>/<method>/experiment_*"), "{e}");
    std::fs::create_dir_all(dir.path().join("lits/dl")).unwrap();
    let e = iw_metrics::load_records_dir(dir.path(), RECORDS_IN_RUN.as_ref()).unwrap_err().to_string();
    assert!(e.contains("lits/dl") && e.contains("without an experiment_* folder"), "{e}");
    std::fs::create_dir_all(dir.path().join("lits/dl/experiment_0")).unwrap();
    let e = iw_metrics::load_records_dir(dir.path(), RECORDS_IN_RUN.as_ref()).unwrap_err().to_string();
    assert!(e.contains("experiment_0") && e.contains("no test_metrics/prc_records.json"), "{e}");
    let e = iw_metrics::load_records_dir(&dir.path().join("nope"), RECORDS_IN_RUN.as_ref()).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("not a folder"), "{e}");
}
