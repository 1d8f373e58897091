//! Comparisons at fixed operating points, and iw against its base loss with a paired bootstrap.
//!
//! The paper's table averages recall over 0..5 false positives per case; a reviewer also wants
//! the numbers at the points a model is used at. For a set of cases (one run, or several seeds'
//! runs pooled: every `(seed, case)` is one unit) and a stratum (all, small, large lesions, as
//! [`crate::stratify`] keeps them):
//!
//! ```text
//! recall at p > 0.5     GT lesions overlapped by a predicted component (hit_dice > 0) / GT lesions
//! recall at 1 FP/case   the FROC (the paper's thresholds) interpolated at 1 false positive per unit
//! FP per case           predicted components kept in the stratum that touch no GT / units
//! object Dice           mean hit_dice over the detected lesions
//! volume ratio          sum of predicted component volumes / sum of GT lesion volumes
//!                       (V = pi d^3 / 6 from each record's diameter: the voxel count)
//! voxel Dice            mean over units of the case's voxel Dice (not stratified)
//! largest / true        mean over units with a lesion of (largest predicted component's voxels
//!                       / the case's GT voxels): a flood shows here (not stratified)
//! FP volume             mean over units of the mm^3 of the predicted components that are false
//!                       positives (needs the records' extents; not stratified)
//! ```
//!
//! Which component is a hit and which a false positive is the records' matching rule: build the
//! units from [`crate::match_case`]'s records for the one-to-one rule.
//!
//! Units count whether or not they hold records (unlike the paper's bootstrap quirk).
//!
//! **Paired bootstrap** of `iw<base> - <base>`: the units both methods were evaluated on are
//! resampled with replacement (B = 1000, numpy's `RandomState(2020)`, `randint` by
//! `random_interval`), each metric is computed for both methods on the same resample, and the
//! 2.5th and 97.5th percentiles of the differences are the 95 % interval. Each method keeps the
//! FROC thresholds of its full pooled records.
use crate::froc::{froc, max_finite_self_logit, paper_thresholds};
use crate::records::{CaseRecords, LesionRecord};
use crate::report::{stratify, Stratum};
use serde::Serialize;

/// Bootstrap resamples of the paired comparison.
pub const BOOTSTRAP_SAMPLES: usize = 1000;
/// Seed of the paired bootstrap.
pub const BOOTSTRAP_SEED: u32 = 2020;

/// One case of one run: its records and its voxel Dice.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `seed/case`, for people.
    pub id: String,
    /// The records of all, small and large lesions (`stratify`).
    strata: [Vec<LesionRecord>; 3],
    /// The case's voxel Dice.
    pub voxel_dice: f64,
    /// Largest predicted component / GT voxels (`None`: no lesion in the case).
    largest_over_true: Option<f64>,
    /// mm^3 of the false-positive components (`None`: a record lacks its voxel volume).
    fp_mm3: Option<f64>,
}

/// A record's voxels: its extent's, else from its diameter (`V = pi d^3 / 6`, exact up to
/// rounding).
fn voxels(r: &LesionRecord) -> f64 {
    match &r.extent {
        Some(e) => e.voxels as f64,
        None => (std::f64::consts::PI * r.diameter.powi(3) / 6.0).round(),
    }
}

impl Unit {
    /// A unit from a case's records; `small_below` splits the strata.
    pub fn new(id: String, records: &[LesionRecord], voxel_dice: f64, small_below: f64) -> Self {
        let one: CaseRecords = [(id.clone(), records.to_vec())].into_iter().collect();
        let take = |s: Stratum| stratify(&one, s).into_values().next().unwrap_or_default();
        let gt: f64 = records.iter().filter(|r| r.is_tum).map(voxels).sum();
        let largest = records.iter().filter(|r| !r.is_tum).map(voxels).fold(0.0, f64::max);
        let fp_mm3 = sum_some(
            records
                .iter()
                .filter(|r| !r.is_tum && r.hit_dice <= 0.0)
                .map(|r| r.extent.as_ref().and_then(|e| e.voxel_mm3.map(|v| e.voxels as f64 * v))),
        );
        Unit {
            id,
            strata: [take(Stratum::All), take(Stratum::Small(small_below)), take(Stratum::Large(small_below))],
            voxel_dice,
            largest_over_true: (gt > 0.0).then(|| largest / gt),
            fp_mm3,
        }
    }
}

/// The sum of `v`, `None` when one is `None`. It starts from +0.0, not from the -0.0 that
/// `Sum for f64` starts from (so that a sum of -0.0s stays -0.0): a case without a false
/// positive has 0 mm^3 of them, and tables and report.json should say `0.0`, not `-0.0`.
fn sum_some(mut v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    v.try_fold(0.0, |a, x| x.map(|x| a + x))
}

/// The strata, in [`Unit`] order.
pub const STRATA: [&str; 3] = ["all", "small", "large"];

/// The operating-point numbers of one stratum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StratumPoint {
    /// GT lesions.
    pub lesions: usize,
    /// Detected at p > 0.5.
    pub detected: usize,
    /// Recall at p > 0.5.
    pub recall_p05: f64,
    /// Recall at 1 false positive per case (FROC).
    pub recall_1fp: f64,
    /// False positives per case at p > 0.5.
    pub fp_per_case: f64,
    /// Mean hit Dice of the detected lesions.
    pub object_dice: f64,
    /// Predicted volume / true volume.
    pub volume_ratio: f64,
}

/// The numbers of a set of units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Points {
    /// Units (cases, or seed-case pairs).
    pub units: usize,
    /// Mean voxel Dice.
    pub voxel_dice: f64,
    /// Mean over units with a lesion of largest predicted component / true volume.
    pub largest_over_true: f64,
    /// Mean mm^3 of false-positive components per unit (NaN: records without voxel volumes).
    pub fp_mm3_per_case: f64,
    /// All, small, large lesions.
    pub all: StratumPoint,
    /// Small lesions.
    pub small: StratumPoint,
    /// Large lesions.
    pub large: StratumPoint,
}

impl Points {
    /// The stratum by index (0 all, 1 small, 2 large).
    pub fn stratum(&self, s: usize) -> &StratumPoint {
        [&self.all, &self.small, &self.large][s]
    }
}

fn volume(r: &LesionRecord) -> f64 {
    std::f64::consts::PI * r.diameter.powi(3) / 6.0
}

/// The FROC thresholds of a set of units (the paper's, from their largest finite logit).
pub fn thresholds(units: &[Unit]) -> Vec<f64> {
    paper_thresholds(max_finite_self_logit(units.iter().flat_map(|u| u.strata[0].iter())))
}

fn stratum_point<'a>(units: impl Iterator<Item = &'a [LesionRecord]> + Clone, n: usize, th: &[f64]) -> StratumPoint {
    let (mut lesions, mut detected, mut fp, mut dice, mut v_pred, mut v_true) = (0usize, 0usize, 0usize, 0.0, 0.0, 0.0);
    for recs in units.clone() {
        for r in recs {
            if r.is_tum {
                lesions += 1;
                v_true += volume(r);
                if r.hit_dice > 0.0 {
                    detected += 1;
                    dice += r.hit_dice;
                }
            } else {
                v_pred += volume(r);
                if r.hit_dice <= 0.0 {
                    fp += 1;
                }
            }
        }
    }
    let f = froc(units.flat_map(|r| r.iter()), n as f64, th);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    StratumPoint {
        lesions,
        detected,
        recall_p05: ratio(detected as f64, lesions as f64),
        recall_1fp: if lesions > 0 { f.mean_recall_at(&[1.0]) } else { f64::NAN },
        fp_per_case: ratio(fp as f64, n as f64),
        object_dice: ratio(dice, detected as f64),
        volume_ratio: ratio(v_pred, v_true),
    }
}

/// The numbers of the units `idx` of `units` (repeats allowed: a bootstrap resample).
pub fn points_of(units: &[Unit], idx: &[usize], th: &[f64]) -> Points {
    let n = idx.len();
    let s = |k: usize| stratum_point(idx.iter().map(move |&i| units[i].strata[k].as_slice()), n, th);
    let largest: Vec<f64> = idx.iter().filter_map(|&i| units[i].largest_over_true).collect();
    let fp_mm3 = sum_some(idx.iter().map(|&i| units[i].fp_mm3));
    Points {
        units: n,
        voxel_dice: idx.iter().fold(0.0, |a, &i| a + units[i].voxel_dice) / n.max(1) as f64,
        largest_over_true: if largest.is_empty() {
            f64::NAN
        } else {
            largest.iter().sum::<f64>() / largest.len() as f64
        },
        fp_mm3_per_case: fp_mm3.map_or(f64::NAN, |v| v / n.max(1) as f64),
        all: s(0),
        small: s(1),
        large: s(2),
    }
}

/// The numbers of every unit.
pub fn points(units: &[Unit]) -> Points {
    points_of(units, &(0..units.len()).collect::<Vec<_>>(), &thresholds(units))
}

/// One metric of one stratum: base, iw, their difference and its paired 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `recall_p05`, `recall_1fp`, `fp_per_case`, `object_dice`, `volume_ratio`, `voxel_dice`.
    pub metric: String,
    /// `all`, `small`, `large` (voxel Dice: `all`).
    pub stratum: String,
    /// The base loss's value on every paired unit.
    pub base: f64,
    /// The iw loss's value.
    pub iw: f64,
    /// `iw - base`.
    pub diff: f64,
    /// 2.5th and 97.5th percentiles of the bootstrap differences (NaN where undefined).
    pub ci95: [f64; 2],
    /// Bootstrap resamples where both values were defined.
    pub resamples: usize,
}

/// A metric of a stratum point.
pub type Metric = fn(&StratumPoint) -> f64;

/// The metrics compared, as (name, value of a stratum point).
pub const METRICS: [(&str, Metric); 5] = [
    ("recall_p05", |p| p.recall_p05),
    ("recall_1fp", |p| p.recall_1fp),
    ("fp_per_case", |p| p.fp_per_case),
    ("object_dice", |p| p.object_dice),
    ("volume_ratio", |p| p.volume_ratio),
];

/// `iw - base` over the units both have (`base[i]` and `iw[i]` are the same case of the same
/// seed), with the paired bootstrap.
pub fn paired_difference(base: &[Unit], iw: &[Unit]) -> Vec<Difference> {
    assert_eq!(base.len(), iw.len(), "paired units");
    let n = base.len();
    let (tb, ti) = (thresholds(base), thresholds(iw));
    let all: Vec<usize> = (0..n).collect();
    let (pb, pi) = (points_of(base, &all, &tb), points_of(iw, &all, &ti));
    let mut rng = iw_core::RandomState::new(BOOTSTRAP_SEED);
    // One row per (stratum, metric), then voxel Dice.
    let rows = STRATA.len() * METRICS.len() + 1;
    let mut diffs: Vec<Vec<f64>> = vec![Vec::with_capacity(BOOTSTRAP_SAMPLES); rows];
    if n > 0 {
        for _ in 0..BOOTSTRAP_SAMPLES {
            let idx: Vec<usize> = (0..n).map(|_| rng.interval(n as u32 - 1) as usize).collect();
            let (b, i) = (points_of(base, &idx, &tb), points_of(iw, &idx, &ti));
            for s in 0..STRATA.len() {
                for (m, (_, f)) in METRICS.iter().enumerate() {
                    let d = f(i.stratum(s)) - f(b.stratum(s));
                    if d.is_finite() {
                        diffs[s * METRICS.len() + m].push(d);
                    }
                }
            }
            diffs[rows - 1].push(i.voxel_dice - b.voxel_dice);
        }
    }
    let ci = |v: &mut Vec<f64>| -> [f64; 2] {
        if v.is_empty() {
            return [f64::NAN; 2];
        }
        v.sort_by(f64::total_cmp);
        [crate::case::percentile_sorted(v, 2.5), crate::case::percentile_sorted(v, 97.5)]
    };
    let mut out = Vec::with_capacity(rows);
    for (s, stratum) in STRATA.iter().enumerate() {
        for (m, (name, f)) in METRICS.iter().enumerate() {
            let (b, i) = (f(pb.stratum(s)), f(pi.stratum(s)));
            let d = &mut diffs[s * METRICS.len() + m];
            out.push(Difference {
                metric: name.to_string(),
                stratum: stratum.to_string(),
                base: b,
                iw: i,
                diff: i - b,
                resamples: d.len(),
                ci95: ci(d),
            });
        }
    }
    let d = &mut diffs[rows - 1];
    out.push(Difference {
        metric: "voxel_dice".into(),
        stratum: "all".into(),
        base: pb.voxel_dice,
        iw: pi.voxel_dice,
        diff: pi.voxel_dice - pb.voxel_dice,
        resamples: d.len(),
        ci95: ci(d),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(obj: &str, is_tum: bool, d: f64, hit: f64, logit: f64) -> LesionRecord {
        LesionRecord {
            obj: obj.into(),
            is_tum,
            diameter: d,
            hit_dice: hit,
            hit_max: 0.0,
            hit_median: 0.0,
            hit_q95: 0.0,
            hit_logit: if is_tum { logit } else { f64::NEG_INFINITY },
            hit_stat: 0.0,
            hit_obj: if is_tum && hit > 0.0 { "pred_1".into() } else { "pred_None".into() },
            self_stat: 1.0,
            self_logit: if is_tum { f64::INFINITY } else { logit },
            extent: None,
        }
    }

    /// Two cases by hand: a detected large lesion (Dice 0.8), a missed small one, a detected
    /// small one (Dice 0.5, logit 2), one false positive (logit 3).
    #[test]
    fn operating_points_by_hand() {
        let a = vec![
            rec("tum_1", true, 10.0, 0.8, 5.0),
            rec("tum_2", true, 2.0, 0.0, f64::NEG_INFINITY),
            rec("pred_1", false, 9.0, 0.8, 5.0),
        ];
        let b = vec![
            rec("tum_1", true, 3.0, 0.5, 2.0),
            rec("pred_1", false, 3.0, 0.5, 2.0),
            rec("pred_2", false, 2.0, 0.0, 3.0),
        ];
        let units = vec![Unit::new("0/a".into(), &a, 0.7, 5.0), Unit::new("0/b".into(), &b, 0.3, 5.0)];
        let p = points(&units);
        assert_eq!((p.units, p.voxel_dice), (2, 0.5));
        assert_eq!((p.all.lesions, p.all.detected), (3, 2));
        assert!((p.all.recall_p05 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(p.all.fp_per_case, 0.5);
        assert!((p.all.object_dice - 0.65).abs() < 1e-12);
        let v = |d: f64| std::f64::consts::PI * d * d * d / 6.0;
        assert!((p.all.volume_ratio - (v(9.0) + v(3.0) + v(2.0)) / (v(10.0) + v(2.0) + v(3.0))).abs() < 1e-12);
        // Small: the missed and the detected small lesion and the false positive of size 2.
        assert_eq!((p.small.lesions, p.small.detected), (2, 1));
        assert_eq!(p.small.fp_per_case, 0.5);
        assert_eq!((p.large.lesions, p.large.detected, p.large.fp_per_case), (1, 1, 0.0));
        // At 1 FP per case every FP logit is counted: recall is the p > 0.5 recall here.
        assert!((p.all.recall_1fp - 2.0 / 3.0).abs() < 1e-12);
    }

    /// A method against itself differs by exactly 0, interval included; a method that finds
    /// one more lesion in every unit is better with an interval above 0.
    #[test]
    fn paired_bootstrap_of_a_method_against_itself_and_a_better_one() {
        let worse: Vec<Unit> = (0..6)
            .map(|i| {
                Unit::new(
                    format!("{i}"),
                    &[rec("tum_1", true, 10.0, 0.8, 5.0), rec("tum_2", true, 2.0, 0.0, f64::NEG_INFINITY)],
                    0.5,
                    5.0,
                )
            })
            .collect();
        let better: Vec<Unit> = (0..6)
            .map(|i| {
                Unit::new(
                    format!("{i}"),
                    &[rec("tum_1", true, 10.0, 0.8, 5.0), rec("tum_2", true, 2.0, 0.6, 4.0)],
                    0.6,
                    5.0,
                )
            })
            .collect();
        for d in paired_difference(&worse, &worse) {
            if d.diff.is_finite() {
                assert_eq!((d.diff, d.ci95), (0.0, [0.0, 0.0]), "{d:?}");
            }
        }
        let d = paired_difference(&worse, &better);
        let get = |m: &str, s: &str| d.iter().find(|x| x.metric == m && x.stratum == s).unwrap().clone();
        let r = get("recall_p05", "small");
        assert_eq!((r.base, r.iw, r.diff, r.ci95), (0.0, 1.0, 1.0, [1.0, 1.0]));
        assert!((get("voxel_dice", "all").diff - 0.1).abs() < 1e-12);
        assert!(get("recall_p05", "all").ci95[0] > 0.0);
        assert_eq!(get("recall_p05", "large").diff, 0.0);
    }
}
