//! FROC, average recall, CPM and object Dice from lesion records (METHOD.md, "Evaluation").
//!
//! Over logit thresholds `th` in `concat(linspace(-0.1, 10, 101), linspace(10, m + 1, 100))`,
//! `m` = the largest finite `self_logit` of the records evaluated:
//! * TP = GT records with `hit_dice > 0` and `hit_logit >= th`; FN = the other GT records;
//! * FP = predicted records with `self_logit > th` (strictly) and `hit_dice <= 0`;
//! * recall = TP / (TP + FN); avgFP = FP / n_cases.
//!
//! Average recall is the mean of recall interpolated (numpy's `interp`, after appending the
//! point (0, 0) and reversing to increasing avgFP) at `linspace(0, 5, 501)`; CPM the same at
//! 1/8, 1/4, 1/2, 1, 2, 4, 8 FP. Object Dice: mean and population std of `hit_dice` over the TP
//! lesions at the lowest threshold.
use crate::records::LesionRecord;

/// numpy's `linspace(start, stop, num)` (endpoint included), value for value.
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => vec![],
        1 => vec![start],
        _ => {
            let div = (num - 1) as f64;
            let delta = stop - start;
            let step = delta / div;
            let mut y: Vec<f64> = (0..num)
                .map(|i| if step == 0.0 { i as f64 / div * delta + start } else { i as f64 * step + start })
                .collect();
            y[num - 1] = stop;
            y
        }
    }
}

/// numpy's `interp(x, xp, fp)` for non-decreasing `xp`, value for value (including its rule
/// for repeated `xp`: the last of equal abscissae wins).
pub fn interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let n = xp.len();
    if x.is_nan() {
        return x;
    }
    if x < xp[0] {
        return fp[0];
    }
    if x > xp[n - 1] {
        return fp[n - 1];
    }
    // j = last index with xp[j] <= x.
    let j = xp.partition_point(|&v| v <= x) - 1;
    if j == n - 1 || xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    let mut y = slope * (x - xp[j]) + fp[j];
    if y.is_nan() {
        y = slope * (x - xp[j + 1]) + fp[j + 1];
        if y.is_nan() && fp[j] == fp[j + 1] {
            y = fp[j];
        }
    }
    y
}

/// The paper's thresholds for records whose largest finite `self_logit` is `max_finite_logit`
/// (10 when there is none, which gives a second segment of 100 copies of 10 and 11).
pub fn paper_thresholds(max_finite_logit: Option<f64>) -> Vec<f64> {
    let m = max_finite_logit.unwrap_or(10.0);
    let mut t = linspace(-0.1, 10.0, 101);
    t.extend(linspace(10.0, m + 1.0, 100));
    t
}

/// Largest finite `self_logit` among records.
pub fn max_finite_self_logit<'a>(records: impl IntoIterator<Item = &'a LesionRecord>) -> Option<f64> {
    records.into_iter().map(|r| r.self_logit).filter(|x| x.is_finite()).reduce(f64::max)
}

/// Recall and average false positives per case at each threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Froc {
    /// Thresholds, increasing.
    pub thresholds: Vec<f64>,
    /// Recall at each threshold (NaN when there is no GT record).
    pub recall: Vec<f64>,
    /// False positives per case at each threshold.
    pub avg_fp: Vec<f64>,
}

/// The FROC of `records` (of all the cases counted in `n_cases`) over `thresholds`.
pub fn froc<'a>(records: impl IntoIterator<Item = &'a LesionRecord>, n_cases: f64, thresholds: &[f64]) -> Froc {
    let (mut gt, mut fp_logits) = (Vec::new(), Vec::new());
    for r in records {
        if r.is_tum {
            gt.push(if r.hit_dice > 0.0 { r.hit_logit } else { f64::NAN });
        } else if r.hit_dice <= 0.0 {
            fp_logits.push(r.self_logit);
        }
    }
    let n_gt = gt.len() as f64;
    let mut recall = Vec::with_capacity(thresholds.len());
    let mut avg_fp = Vec::with_capacity(thresholds.len());
    for &th in thresholds {
        // NaN (no hit) compares false: never a TP.
        let tp = gt.iter().filter(|&&l| l >= th).count() as f64;
        let fp = fp_logits.iter().filter(|&&l| l > th).count() as f64;
        recall.push(tp / n_gt);
        avg_fp.push(fp / n_cases);
    }
    Froc { thresholds: thresholds.to_vec(), recall, avg_fp }
}

impl Froc {
    /// The curve as numpy sees it after appending (0, 0) and reversing: increasing avgFP.
    pub fn curve(&self) -> (Vec<f64>, Vec<f64>) {
        let mut x: Vec<f64> = self.avg_fp.iter().copied().chain([0.0]).collect();
        let mut y: Vec<f64> = self.recall.iter().copied().chain([0.0]).collect();
        x.reverse();
        y.reverse();
        (x, y)
    }

    /// Mean of the interpolated recall at `points` (avgFP values).
    pub fn mean_recall_at(&self, points: &[f64]) -> f64 {
        let (x, y) = self.curve();
        points.iter().map(|&p| interp(p, &x, &y)).sum::<f64>() / points.len() as f64
    }

    /// Average recall over FP 0..5 (501 points).
    pub fn avg_recall(&self) -> f64 {
        self.mean_recall_at(&linspace(0.0, 5.0, 501))
    }

    /// CPM: mean recall at 1/8, 1/4, 1/2, 1, 2, 4, 8 FP per case.
    pub fn cpm(&self) -> f64 {
        self.mean_recall_at(&[0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
    }
}

/// Mean and population standard deviation (numpy's `std`), NaN for an empty slice.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Object Dice: `hit_dice` of the TP lesions at the lowest threshold, as (mean, std).
pub fn object_dice<'a>(records: impl IntoIterator<Item = &'a LesionRecord>, lowest_threshold: f64) -> (f64, f64) {
    let d: Vec<f64> = records
        .into_iter()
        .filter(|r| r.is_tum && r.hit_dice > 0.0 && r.hit_logit >= lowest_threshold)
        .map(|r| r.hit_dice)
        .collect();
    mean_std(&d)
}
