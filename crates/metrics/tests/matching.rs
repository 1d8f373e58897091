//! The matching rules on hand-built cases whose answers can be counted by eye: one component
//! covering three lesions, a lesion split in two components, two lesions merged in one, a
//! component touching two lesions. Also: the records' extents (sizes and overlaps) round trip,
//! records without them give a clear message under the one-to-one rule, and the paper's rule
//! leaves the records untouched. panoptica's matcher on random masks is the independent
//! reference (crates/python/tests/test_matching.py).
use iw_metrics::operating::{points, points_of, Unit};
use iw_metrics::{evaluate_case, format_records, match_case, parse_records, CaseRecords, LesionRecord, MatchRule};
use ndarray::{s, Array3};
use std::path::Path;

/// Boxes `[z0, z1) x [y0, y1) x [x0, x1)` set to 1 in a 12 x 12 x 24 volume.
fn boxes(list: &[[usize; 6]]) -> Array3<f32> {
    let mut a = Array3::<f32>::zeros((12, 12, 24));
    for b in list {
        a.slice_mut(s![b[0]..b[1], b[2]..b[3], b[4]..b[5]]).fill(1.0);
    }
    a
}

/// (lesions found, false positives, object Dice of the found) of one case under `rule`.
fn counts(gt: &Array3<f32>, pred: &Array3<f32>, rule: MatchRule) -> (usize, usize, f64) {
    let prob = pred.mapv(|v| if v > 0.5 { 0.9 } else { 0.1 });
    let e = evaluate_case(gt.view(), prob.view(), None).unwrap();
    let recs = match_case("0", &e.records, rule).unwrap();
    let p = points(&[Unit::new("0".into(), &recs, e.dice, 1e9)]);
    (p.all.detected, p.all.fp_per_case as usize, p.all.object_dice)
}

const IOU: MatchRule = MatchRule::Iou(0.1);

#[test]
fn one_component_covering_three_lesions_finds_one_at_most() {
    // Three 3^3 lesions one voxel apart along x, one 3 x 3 x 11 component over all of them:
    // IoU 27 / 99 = 0.27 with each.
    let gt = boxes(&[[2, 5, 2, 5, 2, 5], [2, 5, 2, 5, 6, 9], [2, 5, 2, 5, 10, 13]]);
    let pred = boxes(&[[2, 5, 2, 5, 2, 13]]);
    assert_eq!(counts(&gt, &pred, MatchRule::Overlap).0, 3, "the paper's rule: all three found");
    let (found, fp, dice) = counts(&gt, &pred, IOU);
    assert_eq!((found, fp), (1, 0), "one to one: the component finds one lesion");
    assert!((dice - 2.0 * 27.0 / (27.0 + 99.0)).abs() < 1e-12);
    // A flood (IoU 27 / 1728 with each) finds none and is one false positive.
    let flood = boxes(&[[0, 12, 0, 12, 0, 12]]);
    assert_eq!(counts(&gt, &flood, MatchRule::Overlap).0, 3);
    let (found, fp, _) = counts(&gt, &flood, IOU);
    assert_eq!((found, fp), (0, 1));
}

#[test]
fn a_lesion_split_in_two_components_leaves_one_false_positive() {
    // A 3 x 3 x 7 lesion; two 3^3 components at its ends (IoU 27 / 63 each).
    let gt = boxes(&[[2, 5, 2, 5, 2, 9]]);
    let pred = boxes(&[[2, 5, 2, 5, 2, 5], [2, 5, 2, 5, 6, 9]]);
    let (found, fp, _) = counts(&gt, &pred, MatchRule::Overlap);
    assert_eq!((found, fp), (1, 0), "the paper's rule: both parts touch the lesion");
    let (found, fp, dice) = counts(&gt, &pred, IOU);
    assert_eq!((found, fp), (1, 1), "one to one: the second part is a false positive");
    assert!((dice - 2.0 * 27.0 / 90.0).abs() < 1e-12);
}

#[test]
fn two_lesions_merged_in_one_component_count_once() {
    let gt = boxes(&[[2, 5, 2, 5, 2, 5], [2, 5, 2, 5, 6, 9]]);
    let pred = boxes(&[[2, 5, 2, 5, 2, 9]]);
    assert_eq!(counts(&gt, &pred, MatchRule::Overlap), (2, 0, 2.0 * 27.0 / 90.0));
    assert_eq!(counts(&gt, &pred, IOU).0, 1);
    // Ties go to the lower lesion label.
    let prob = pred.mapv(|v| if v > 0.5 { 0.9 } else { 0.1 });
    let e = evaluate_case(gt.view(), prob.view(), None).unwrap();
    let recs = match_case("0", &e.records, IOU).unwrap();
    let by = |o: &str| recs.iter().find(|r| r.obj == o).unwrap().clone();
    assert_eq!((by("tum_1").hit_obj.as_str(), by("tum_2").hit_obj.as_str()), ("pred_1", "pred_None"));
    assert_eq!(by("pred_1").hit_obj, "tum_1");
    // A missed lesion is missed at every threshold.
    assert_eq!(by("tum_2").hit_logit, f64::NEG_INFINITY);
    // Above IoU 0.5 no pair qualifies.
    assert_eq!(counts(&gt, &pred, MatchRule::Iou(0.5)).0, 0);
}

#[test]
fn a_component_touching_two_lesions_finds_neither() {
    // A 1 x 1 x 6 bar that enters each lesion by one voxel.
    let gt = boxes(&[[2, 5, 2, 5, 2, 5], [2, 5, 2, 5, 9, 12]]);
    let pred = boxes(&[[3, 4, 3, 4, 4, 10]]);
    assert_eq!(counts(&gt, &pred, MatchRule::Overlap).0, 2);
    assert_eq!(counts(&gt, &pred, MatchRule::Overlap).1, 0);
    let (found, fp, _) = counts(&gt, &pred, IOU);
    assert_eq!((found, fp), (0, 1));
}

#[test]
fn greedy_takes_the_highest_iou_first() {
    // Lesion B (2 x 3 x 3, label 1: first in scan order) and lesion A (3^3, label 2) are both
    // touched by component P (5 x 3 x 5): IoU(A, P) = 27 / 75, IoU(B, P) = 6 / 87. At t = 0.05
    // both qualify; P goes to A, the higher IoU, although B comes first in label order.
    let gt = boxes(&[[3, 6, 2, 5, 2, 5], [0, 2, 2, 5, 5, 8]]);
    let pred = boxes(&[[1, 6, 2, 5, 2, 7]]);
    let prob = pred.mapv(|v| if v > 0.5 { 0.9 } else { 0.1 });
    let e = evaluate_case(gt.view(), prob.view(), None).unwrap();
    let recs = match_case("0", &e.records, MatchRule::Iou(0.05)).unwrap();
    let tum: Vec<(&str, f64, &str)> =
        recs.iter().filter(|r| r.is_tum).map(|r| (r.obj.as_str(), r.diameter, r.hit_obj.as_str())).collect();
    let d = |v: f64| (6.0 * v / std::f64::consts::PI).cbrt();
    assert_eq!(tum, [("tum_1", d(18.0), "pred_None"), ("tum_2", d(27.0), "pred_1")]);
}

#[test]
fn extents_round_trip_and_the_paper_rule_leaves_records_alone() {
    let gt = boxes(&[[2, 5, 2, 5, 2, 5], [2, 5, 2, 5, 6, 9]]);
    let pred = boxes(&[[2, 5, 2, 5, 2, 9], [8, 10, 8, 10, 8, 10]]);
    let prob = pred.mapv(|v| if v > 0.5 { 0.9 } else { 0.1 });
    let mut e = evaluate_case(gt.view(), prob.view(), None).unwrap();
    e.set_voxel_volume(0.5);
    let ext = e.records[0].extent.clone().unwrap();
    assert_eq!((ext.voxels, ext.voxel_mm3, ext.overlaps.clone()), (27, Some(0.5), vec![("pred_1".to_string(), 27)]));
    let p1 = e.records.iter().find(|r| r.obj == "pred_1").unwrap().extent.clone().unwrap();
    assert_eq!(p1.overlaps, [("tum_1".to_string(), 27), ("tum_2".to_string(), 27)]);
    let cases: CaseRecords = [("7".to_string(), e.records.clone())].into_iter().collect();
    let text = format_records(&cases);
    assert_eq!(parse_records(Path::new("x.json"), &text).unwrap(), cases);
    assert_eq!(match_case("7", &e.records, MatchRule::Overlap).unwrap(), e.records);
    // The FP volume: the 2^3 component at 0.5 mm^3 a voxel; the largest component is 63 voxels
    // over 54 true voxels.
    let recs = match_case("7", &e.records, IOU).unwrap();
    let p = points(&[Unit::new("7".into(), &recs, e.dice, 1e9)]);
    assert_eq!(p.fp_mm3_per_case, 4.0);
    assert!((p.largest_over_true - 63.0 / 54.0).abs() < 1e-12);
    // A case without false positives has +0 mm^3 of them (an empty f64 sum is -0.0 in Rust,
    // which the tables and report.json would print as "-0.0").
    let gt_only = boxes(&[[2, 5, 2, 5, 2, 5]]);
    let mut e = evaluate_case(gt_only.view(), gt_only.mapv(|v| if v > 0.5 { 0.9 } else { 0.1 }).view(), None).unwrap();
    e.set_voxel_volume(0.5);
    let p = points(&[Unit::new("8".into(), &match_case("8", &e.records, IOU).unwrap(), e.dice, 1e9)]);
    assert!(p.fp_mm3_per_case == 0.0 && p.fp_mm3_per_case.is_sign_positive(), "{}", p.fp_mm3_per_case);
    assert_eq!(serde_json::to_string(&p.fp_mm3_per_case).unwrap(), "0.0");
    let none = points_of(&[Unit::new("9".into(), &[], 0.0, 1e9)], &[], &[]);
    assert!(none.voxel_dice.is_sign_positive(), "{}", none.voxel_dice);
}

#[test]
fn records_without_extents_say_how_to_get_them() {
    let r = LesionRecord {
        obj: "tum_1".into(),
        is_tum: true,
        diameter: 3.0,
        hit_dice: 0.0,
        hit_max: 0.0,
        hit_median: 0.0,
        hit_q95: 0.0,
        hit_logit: f64::NEG_INFINITY,
        hit_stat: 0.0,
        hit_obj: "pred_None".into(),
        self_stat: 1.0,
        self_logit: f64::INFINITY,
        extent: None,
    };
    assert_eq!(match_case("3", std::slice::from_ref(&r), MatchRule::Overlap).unwrap(), vec![r.clone()]);
    let e = match_case("3", &[r], IOU).unwrap_err().to_string();
    assert!(e.contains("case 3, tum_1") && e.contains("rerun `iw evaluate`") && e.contains("--match overlap"), "{e}");
    // A half-written extent in a file is an error naming the file and the record.
    let text = r#"{"0": [{"obj": "tum_1", "is_tum": true, "diameter": 3.0, "hit_dice": 0.0, "hit_max": 0.0, "hit_median": 0.0, "hit_q95": 0.0, "hit_logit": -Infinity, "hit_stat": 0.0, "hit_obj": "pred_None", "self_stat": 1.0, "self_logit": Infinity, "voxels": 14}]}"#;
    let e = parse_records(Path::new("r.json"), text).unwrap_err().to_string();
    assert!(e.contains("r.json") && e.contains("tum_1") && e.contains("some are missing"), "{e}");
    let bad = text.replace("\"voxels\": 14", "\"voxels\": 14, \"overlaps\": {\"pred_1\": 15}");
    let e = parse_records(Path::new("r.json"), &bad).unwrap_err().to_string();
    assert!(e.contains("overlaps[\"pred_1\"] = 15"), "{e}");
}

#[test]
fn rules_parse_and_print() {
    for (s, r) in [("overlap", MatchRule::Overlap), ("iou", MatchRule::Iou(0.1)), ("iou:0.3", MatchRule::Iou(0.3))] {
        assert_eq!(s.parse::<MatchRule>().unwrap(), r);
    }
    assert_eq!(MatchRule::Iou(0.1).to_string(), "iou:0.1");
    for bad in ["iou:0", "iou:1.5", "iou:x", "dice:0.1", ""] {
        let e = bad.parse::<MatchRule>().unwrap_err().to_string();
        assert!(e.contains("overlap") && e.contains("iou:<t>"), "{bad}: {e}");
    }
}
