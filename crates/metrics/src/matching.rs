//! Matching rules: which predicted component finds which ground-truth lesion.
//!
//! * [`MatchRule::Overlap`], the paper's (METHOD.md, "Evaluation"): a lesion is found by any
//!   predicted component that touches it, and its hit is the one of highest Dice; a component
//!   may find many lesions, and a component that touches a lesion is never a false positive.
//!   One component flooding the organ then finds every lesion under it.
//! * [`MatchRule::Iou`], one to one (picai_eval's and panoptica's rule): a lesion is found only
//!   by a component whose IoU with it is at least the threshold (default 0.1), each component
//!   finds at most one lesion, and every component left unmatched is a false positive, whether
//!   it touches a lesion or not.
//!
//! **How the one-to-one matching is made: greedy by IoU.** Every (lesion, component) pair with
//! IoU >= t is a candidate; candidates are taken in decreasing IoU (ties: the lower lesion label,
//! then the lower component label) and a pair is kept when neither side is matched yet. This is
//! panoptica's `NaiveThresholdMatching` (which the tests compare against). For t > 0.5 at most
//! one candidate exists per lesion and per component, so greedy, Hungarian and every other
//! one-to-one rule agree; below 0.5 greedy may keep fewer pairs than a maximum matching when a
//! component straddles lesions (the pair of highest IoU wins, as a reader would pair them).
//!
//! A rule maps a case's records to records of the same schema, so the FROC, the average recall,
//! the operating points and the strata work unchanged on either rule: a GT record's `hit_*` then
//! describe its matched component (`hit_dice` = their Dice; `hit_max`, `hit_stat`, `hit_logit`
//! = the component's own max probability and logit, so a lesion is found at a threshold when its
//! match survives it, as in the paper), a predicted record's `hit_dice` is its Dice with its
//! matched lesion (0: a false positive). `hit_median` and `hit_q95` are kept when the match is
//! the paper's hit and are NaN otherwise (the records do not hold a component's median).
use crate::error::{Error, Result};
use crate::records::{CaseRecords, LesionRecord};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// The rule that decides which component finds which lesion.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MatchRule {
    /// The paper's: any overlap finds a lesion; no one-to-one constraint.
    #[default]
    Overlap,
    /// One to one at IoU >= the threshold (in (0, 1]), greedy by IoU.
    Iou(f64),
}

impl MatchRule {
    /// The one-to-one rule's default IoU threshold (picai_eval's).
    pub const DEFAULT_IOU: f64 = 0.1;

    /// The one-to-one rule at the default threshold.
    pub fn iou_default() -> Self {
        MatchRule::Iou(Self::DEFAULT_IOU)
    }

    /// Whether the rule needs the records' extents (sizes and overlaps).
    pub fn needs_extent(&self) -> bool {
        matches!(self, MatchRule::Iou(_))
    }

    /// A sentence for tables and reports.
    pub fn describe(&self) -> String {
        match self {
            MatchRule::Overlap => "the paper's rule: a lesion is found by any predicted component that touches it".into(),
            MatchRule::Iou(t) => format!(
                "one to one at IoU >= {t}: each predicted component finds at most one lesion (greedy by IoU), every unmatched component is a false positive"
            ),
        }
    }
}

impl fmt::Display for MatchRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchRule::Overlap => write!(f, "overlap"),
            MatchRule::Iou(t) => write!(f, "iou:{t}"),
        }
    }
}

impl FromStr for MatchRule {
    type Err = Error;

    /// `overlap`, `iou` (threshold 0.1) or `iou:<t>` with 0 < t <= 1.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "matching rule {s:?}: expected `overlap` (the paper's) or `iou:<t>` with 0 < t <= 1 (e.g. iou:0.1)"
            ))
        };
        match s.trim() {
            "overlap" => Ok(MatchRule::Overlap),
            "iou" => Ok(MatchRule::iou_default()),
            other => {
                let t: f64 = other.strip_prefix("iou:").ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
                if t > 0.0 && t <= 1.0 {
                    Ok(MatchRule::Iou(t))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

fn label_order(obj: &str) -> u64 {
    obj.rsplit_once('_').and_then(|(_, k)| k.parse().ok()).unwrap_or(u64::MAX)
}

fn no_extent(case: &str, obj: &str) -> Error {
    Error::InvalidArgument(format!(
        "case {case}, {obj}: the record has no component size and overlaps (the paper's records, or iw's before they were recorded); the one-to-one rule needs them: rerun `iw evaluate` on the predictions, or use --match overlap"
    ))
}

/// The records of one case under `rule` (see the module's documentation).
pub fn match_case(case: &str, records: &[LesionRecord], rule: MatchRule) -> Result<Vec<LesionRecord>> {
    let MatchRule::Iou(t) = rule else { return Ok(records.to_vec()) };
    let mut voxels: HashMap<&str, (u64, usize)> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let e = r.extent.as_ref().ok_or_else(|| no_extent(case, &r.obj))?;
        voxels.insert(r.obj.as_str(), (e.voxels, i));
    }
    // Candidates: (IoU, intersection, GT index, predicted index).
    let mut candidates: Vec<(f64, u64, usize, usize)> = Vec::new();
    for (gi, g) in records.iter().enumerate().filter(|(_, r)| r.is_tum) {
        let e = g.extent.as_ref().expect("checked above");
        for (p, n) in &e.overlaps {
            let &(vp, pi) = voxels.get(p.as_str()).ok_or_else(|| {
                Error::InvalidArgument(format!("case {case}, {}: overlaps name {p}, which has no record", g.obj))
            })?;
            let union = e.voxels + vp - n;
            let iou = *n as f64 / union as f64;
            if iou >= t {
                candidates.push((iou, *n, gi, pi));
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(label_order(&records[a.2].obj).cmp(&label_order(&records[b.2].obj)))
            .then(label_order(&records[a.3].obj).cmp(&label_order(&records[b.3].obj)))
    });
    let mut partner: Vec<Option<(usize, f64)>> = vec![None; records.len()];
    for (_, n, gi, pi) in candidates {
        if partner[gi].is_none() && partner[pi].is_none() {
            let (vg, vp) = (voxels[records[gi].obj.as_str()].0, voxels[records[pi].obj.as_str()].0);
            let dice = 2.0 * n as f64 / (vg + vp) as f64;
            partner[gi] = Some((pi, dice));
            partner[pi] = Some((gi, dice));
        }
    }
    let out = records
        .iter()
        .zip(&partner)
        .map(|(r, m)| {
            let mut r = r.clone();
            match (m, r.is_tum) {
                (Some((pi, dice)), true) => {
                    let p = &records[*pi];
                    if r.hit_obj != p.obj {
                        r.hit_median = f64::NAN;
                        r.hit_q95 = f64::NAN;
                    }
                    r.hit_dice = *dice;
                    r.hit_max = p.self_stat;
                    r.hit_stat = p.self_stat;
                    r.hit_logit = p.self_logit;
                    r.hit_obj = p.obj.clone();
                }
                (Some((gi, dice)), false) => {
                    r.hit_dice = *dice;
                    (r.hit_max, r.hit_median, r.hit_q95, r.hit_stat) = (1.0, 1.0, 1.0, 1.0);
                    r.hit_logit = f64::INFINITY;
                    r.hit_obj = records[*gi].obj.clone();
                }
                (None, is_tum) => {
                    r.hit_dice = 0.0;
                    (r.hit_max, r.hit_median, r.hit_q95, r.hit_stat) = (0.0, 0.0, 0.0, 0.0);
                    r.hit_logit = f64::NEG_INFINITY;
                    r.hit_obj = if is_tum { "pred_None" } else { "tum_None" }.into();
                }
            }
            r
        })
        .collect();
    Ok(out)
}

/// The records of every case under `rule`.
pub fn match_cases(cases: &CaseRecords, rule: MatchRule) -> Result<CaseRecords> {
    cases.iter().map(|(id, recs)| Ok((id.clone(), match_case(id, recs, rule)?))).collect()
}
