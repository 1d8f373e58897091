//! Lesion records of one case from its volumes (METHOD.md, "Evaluation").
//!
//! GT = target > 0.5 and P = probability > 0.5 are labelled with 26-connectivity. One pass over
//! the voxels builds the overlap table of GT and predicted components and groups each predicted
//! component's probabilities; everything else works on components, so a case costs
//! O(voxels + overlaps), never components x voxels.
//!
//! For a component c of one side (GT or prediction) and the components h of the other side that
//! overlap it, `Dice(c, h) = 2 |c ∩ h| / (|c| + |h|)`; the hit is the h of highest Dice (the first
//! in label order on ties). The record of c holds:
//! * `diameter = (6 |c| / pi)^(1/3)` (voxels);
//! * `hit_dice`, and the max / median / 95th percentile (numpy's linear rule) of the other side's
//!   probability inside the hit and its max logit (`hit_max`, `hit_median`, `hit_q95`,
//!   `hit_logit`; `hit_stat = hit_max`). The ground truth's "probability" is its mask (1 inside)
//!   and its logit is `+inf`. No overlap: 0, 0, 0, `-inf`, `hit_obj = "<other>_None"`;
//! * `self_stat` / `self_logit`: max probability / logit inside c (1 / `+inf` for GT);
//! * `extent` (iw's addition): the size of c and the voxels it shares with each h, so that a
//!   report can match one to one ([`crate::MatchRule`]) without the volumes.
use crate::error::{Error, Result};
use crate::records::{Extent, LesionRecord};
use iw_core::alloc;
use iw_core::{try_label, Connectivity};
use ndarray::ArrayView3;
use std::collections::HashMap;

/// What one case gives: its records and its voxel Dice.
#[derive(Debug, Clone)]
pub struct CaseEvaluation {
    /// GT records first (`tum_1..`), then predicted (`pred_1..`).
    pub records: Vec<LesionRecord>,
    /// Voxel Dice of GT and P (1 when both are empty).
    pub dice: f64,
    /// Voxels in GT.
    pub gt_voxels: u64,
    /// Voxels in P.
    pub pred_voxels: u64,
}

impl CaseEvaluation {
    /// Records the case's voxel volume (mm^3) in every record's extent, so that a report can
    /// give volumes in mm^3.
    pub fn set_voxel_volume(&mut self, voxel_mm3: f64) {
        for r in &mut self.records {
            if let Some(e) = &mut r.extent {
                e.voxel_mm3 = Some(voxel_mm3);
            }
        }
    }
}

/// The logit of a probability, `ln(p / (1 - p))` (±inf at 1 and 0): used when a tool exports
/// probabilities only.
pub fn logit_of_probability(p: f32) -> f32 {
    let p = p as f64;
    (p / (1.0 - p)).ln() as f32
}

/// numpy's `percentile(v, q)` with the default linear rule; `v` must be sorted and non-empty.
pub fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let idx = q / 100.0 * (v.len() - 1) as f64;
    let lo = idx.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let t = idx - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

fn diameter(voxels: u64) -> f64 {
    (6.0 * voxels as f64 / std::f64::consts::PI).cbrt()
}

/// The record of a component before its hit is known: no hit, the given self statistics.
fn unmatched(prefix: &str, other: &str, label: u32, voxels: u64, self_stat: f64, self_logit: f64) -> LesionRecord {
    LesionRecord {
        obj: format!("{prefix}_{label}"),
        is_tum: prefix == "tum",
        diameter: diameter(voxels),
        hit_dice: 0.0,
        hit_max: 0.0,
        hit_median: 0.0,
        hit_q95: 0.0,
        hit_logit: f64::NEG_INFINITY,
        hit_stat: 0.0,
        hit_obj: format!("{other}_None"),
        self_stat,
        self_logit,
        extent: Some(Extent { voxels, voxel_mm3: None, overlaps: Vec::new() }),
    }
}

/// Per predicted component: max probability, max logit and the sorted probabilities.
struct PredStats {
    max_p: f64,
    max_logit: f64,
    median: f64,
    q95: f64,
}

/// Evaluates one case. `target` is the ground truth (> 0.5 is lesion), `probs` the predicted
/// probabilities, `logits` the logits (derived from `probs` when `None`). Every buffer is
/// allocated fallibly: a case too large for the machine's memory is
/// `Error::Core(iw_core::Error::OutOfMemory)`, not an abort.
pub fn evaluate_case(
    target: ArrayView3<'_, f32>,
    probs: ArrayView3<'_, f32>,
    logits: Option<ArrayView3<'_, f32>>,
) -> Result<CaseEvaluation> {
    if target.shape() != probs.shape() {
        return Err(Error::Mismatch(format!(
            "ground truth shape {:?} and probability shape {:?} differ (z, y, x)",
            target.shape(),
            probs.shape()
        )));
    }
    if let Some(l) = &logits {
        if l.shape() != probs.shape() {
            return Err(Error::Mismatch(format!(
                "logit shape {:?} and probability shape {:?} differ (z, y, x)",
                l.shape(),
                probs.shape()
            )));
        }
    }
    let (nz, ny, nx) = target.dim();
    let gt_what = format!("the ground-truth mask of a {nz} x {ny} x {nx} case");
    let gt_mask = alloc::try_map3(target, |v| u8::from(v > 0.5), &gt_what)?;
    let pr_mask = alloc::try_map3(probs, |v| u8::from(v > 0.5), "the predicted mask")?;
    let gt = try_label(gt_mask.view(), Connectivity::C26)?;
    let pr = try_label(pr_mask.view(), Connectivity::C26)?;
    let (ng, np) = (gt.count(), pr.count());

    // One pass: overlaps, and each predicted component's probabilities and max logit.
    let mut overlap: HashMap<(u32, u32), u64> = HashMap::new();
    let mut offsets: Vec<usize> = alloc::try_with_capacity(np + 1, "the component offsets")?;
    offsets.push(0);
    for c in &pr.components {
        offsets.push(offsets.last().copied().unwrap_or(0) + c.voxels as usize);
    }
    let mut fill = alloc::try_collect(offsets.iter().copied(), "the component offsets")?;
    let mut values: Vec<f64> =
        alloc::try_zeroed(*offsets.last().unwrap_or(&0), "the probabilities of the predicted components")?;
    let mut max_logit = alloc::try_filled(np + 1, f64::NEG_INFINITY, "the component logits")?;
    let (gl, pl) = (gt.labels.as_slice().expect("contiguous"), pr.labels.as_slice().expect("contiguous"));
    let probs_std = alloc::try_standard_layout(probs, "a C-order copy of the probabilities")?;
    let p_flat = probs_std.as_slice().expect("standard layout");
    // Borrowed when already C-contiguous (the usual case): no copy of the logit volume.
    let logits_std = logits.map(|l| alloc::try_standard_layout(l, "a C-order copy of the logits")).transpose()?;
    let l_flat = logits_std.as_ref().map(|l| l.as_slice().expect("standard layout"));
    let mut inter: u64 = 0;
    for i in 0..pl.len() {
        let (g, p) = (gl[i], pl[i]);
        if p == 0 {
            continue;
        }
        let pi = p as usize;
        values[fill[pi - 1]] = p_flat[i] as f64;
        fill[pi - 1] += 1;
        let lg = match l_flat {
            Some(l) => l[i] as f64,
            None => logit_of_probability(p_flat[i]) as f64,
        };
        if lg > max_logit[pi] || max_logit[pi].is_nan() {
            max_logit[pi] = lg;
        }
        if g != 0 {
            match overlap.get_mut(&(g, p)) {
                Some(n) => *n += 1,
                None => alloc::try_insert(&mut overlap, (g, p), 1, "the overlap table")?,
            }
            inter += 1;
        }
    }
    let pred_stats: Vec<PredStats> = alloc::try_collect(
        (0..np).map(|k| {
            let v = &mut values[offsets[k]..offsets[k + 1]];
            v.sort_unstable_by(f64::total_cmp);
            PredStats {
                max_p: v[v.len() - 1],
                max_logit: max_logit[k + 1],
                median: percentile_sorted(v, 50.0),
                q95: percentile_sorted(v, 95.0),
            }
        }),
        "the component statistics",
    )?;

    // Best partner of each component, ties to the lowest label.
    let mut best_for_gt: Vec<Option<(u32, f64)>> = alloc::try_filled(ng + 1, None, "the matches")?;
    let mut best_for_pr: Vec<Option<(u32, f64)>> = alloc::try_filled(np + 1, None, "the matches")?;
    let mut pairs: Vec<((u32, u32), u64)> = alloc::try_collect(overlap.into_iter(), "the overlap table")?;
    pairs.sort_unstable();
    // The overlaps of each component, in the other side's label order.
    let mut gt_overlaps: Vec<Vec<(String, u64)>> = alloc::try_filled(ng + 1, Vec::new(), "the overlaps")?;
    let mut pr_overlaps: Vec<Vec<(String, u64)>> = alloc::try_filled(np + 1, Vec::new(), "the overlaps")?;
    for &((g, p), n) in &pairs {
        gt_overlaps[g as usize].push((format!("pred_{p}"), n));
    }
    let mut by_pred = alloc::try_collect(pairs.iter().copied(), "the overlap table")?;
    by_pred.sort_unstable_by_key(|&((g, p), _)| (p, g));
    for ((g, p), n) in by_pred {
        pr_overlaps[p as usize].push((format!("tum_{g}"), n));
    }
    for ((g, p), n) in pairs {
        let dice =
            2.0 * n as f64 / (gt.components[g as usize - 1].voxels + pr.components[p as usize - 1].voxels) as f64;
        let better = |cur: &Option<(u32, f64)>, other: u32| match cur {
            None => true,
            Some((o, d)) => dice > *d || (dice == *d && other < *o),
        };
        if better(&best_for_gt[g as usize], p) {
            best_for_gt[g as usize] = Some((p, dice));
        }
        if better(&best_for_pr[p as usize], g) {
            best_for_pr[p as usize] = Some((g, dice));
        }
    }

    let mut records = alloc::try_with_capacity(ng + np, "the lesion records")?;
    for c in &gt.components {
        let mut r = unmatched("tum", "pred", c.label, c.voxels, 1.0, f64::INFINITY);
        if let Some(e) = &mut r.extent {
            e.overlaps = std::mem::take(&mut gt_overlaps[c.label as usize]);
        }
        if let Some((p, d)) = best_for_gt[c.label as usize] {
            let s = &pred_stats[p as usize - 1];
            r.hit_dice = d;
            r.hit_max = s.max_p;
            r.hit_median = s.median;
            r.hit_q95 = s.q95;
            r.hit_logit = s.max_logit;
            r.hit_stat = s.max_p;
            r.hit_obj = format!("pred_{p}");
        }
        records.push(r);
    }
    for c in &pr.components {
        let s = &pred_stats[c.label as usize - 1];
        let mut r = unmatched("pred", "tum", c.label, c.voxels, s.max_p, s.max_logit);
        if let Some(e) = &mut r.extent {
            e.overlaps = std::mem::take(&mut pr_overlaps[c.label as usize]);
        }
        if let Some((g, d)) = best_for_pr[c.label as usize] {
            r.hit_dice = d;
            r.hit_max = 1.0;
            r.hit_median = 1.0;
            r.hit_q95 = 1.0;
            r.hit_logit = f64::INFINITY;
            r.hit_stat = 1.0;
            r.hit_obj = format!("tum_{g}");
        }
        records.push(r);
    }
    let gt_voxels = gt.labels.len() as u64 - gt.background_voxels;
    let pred_voxels = pr.labels.len() as u64 - pr.background_voxels;
    let dice = if gt_voxels + pred_voxels == 0 { 1.0 } else { 2.0 * inter as f64 / (gt_voxels + pred_voxels) as f64 };
    Ok(CaseEvaluation { records, dice, gt_voxels, pred_voxels })
}
