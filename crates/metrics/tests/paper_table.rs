//! Acceptance (issue 6): the evaluation of the authors' per-lesion records reproduces every row
//! of ../shared/paper-records/EXPECTED.md: object Dice, average recall and CPM, mean and std, to
//! the printed 2 decimals, and average recall's mean to 4 decimals; cases and lesions exactly.
mod common;
use iw_metrics::{evaluate_method, load_records_dir, EvalOptions};

struct Expected {
    dataset: String,
    method: String,
    cases: usize,
    lesions: usize,
    dice: String,
    recall: String,
    recall4: String,
    cpm: String,
}

fn expected_rows() -> Vec<Expected> {
    let path = common::shared().join("paper-records/EXPECTED.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| l.starts_with("| lits") || l.starts_with("| luna"))
        .map(|l| {
            let c: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Expected {
                dataset: c[0].into(),
                method: c[1].trim_end_matches('*').into(),
                cases: c[2].parse().unwrap(),
                lesions: c[3].parse().unwrap(),
                dice: c[4].into(),
                recall: c[5].into(),
                recall4: c[6].into(),
                cpm: c[7].into(),
            }
        })
        .collect()
}

fn pm(v: (f64, f64)) -> String {
    format!("{:.2} ± {:.2}", v.0, v.1)
}

#[test]
fn reproduces_expected_md() {
    let expected = expected_rows();
    assert_eq!(expected.len(), 19, "EXPECTED.md rows");
    let methods =
        load_records_dir(&common::shared().join("paper-records"), "test_metrics/prc_records.json".as_ref()).unwrap();
    assert_eq!(methods.len(), 19);
    let opts = EvalOptions::default();
    for e in &expected {
        let m = methods
            .iter()
            .find(|m| m.dataset == e.dataset && m.method == e.method)
            .unwrap_or_else(|| panic!("{}/{} missing", e.dataset, e.method));
        let row = evaluate_method(m, &opts).unwrap();
        let what = format!("{}/{}", e.dataset, e.method);
        assert_eq!(row.all.cases, e.cases, "{what}: cases");
        assert_eq!(row.all.lesions, e.lesions, "{what}: lesions");
        assert_eq!(pm(row.object_dice), e.dice, "{what}: object Dice");
        assert_eq!(pm(row.all.avg_recall), e.recall, "{what}: avg recall");
        assert_eq!(format!("{:.4}", row.all.avg_recall.0), e.recall4, "{what}: avg recall, 4 decimals");
        assert_eq!(pm(row.all.cpm), e.cpm, "{what}: CPM");
    }
}
