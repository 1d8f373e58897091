"""Per-lesion records of one case in Python, two ways, as references for iw-metrics.

* `records_loops`: the way the paper's code does it: skimage labels, then a loop over the
  components, each one a full-volume comparison (O(components x voxels)).
* `records_vectorized`: the same records with cc3d and numpy: one bincount for the overlap
  table and per-component statistics by sorting (O(voxels log voxels)).

Both follow METHOD.md ("Evaluation") and return the records in iw's order (tum_1.., pred_1..).

Usage: python lesion_records.py GT PROB LOGIT OUT.json [--impl loops|vectorized]
(NIfTI inputs; OUT.json in the prc_records.json schema, one case with id "0").
"""
import json
import sys

import numpy as np


def _record(obj, is_tum, voxels):
    return {
        "obj": obj, "is_tum": is_tum, "diameter": float((6 * voxels / np.pi) ** (1 / 3)),
        "hit_dice": 0.0, "hit_max": 0.0, "hit_median": 0.0, "hit_q95": 0.0, "hit_logit": -np.inf,
        "hit_stat": 0.0, "hit_obj": ("pred_None" if is_tum else "tum_None"), "self_stat": 1.0, "self_logit": np.inf,
    }


def records_loops(gt, prob, logit):
    from skimage.measure import label

    gt_lab, n_gt = label(gt > 0.5, connectivity=3, return_num=True)
    pr_lab, n_pr = label(prob > 0.5, connectivity=3, return_num=True)
    prob = prob.astype(np.float64)
    logit = logit.astype(np.float64)
    out = []
    for i in range(1, n_gt + 1):
        obj = gt_lab == i
        r = _record(f"tum_{i}", True, obj.sum())
        best = None
        for j in np.unique(pr_lab[obj]):
            if j == 0:
                continue
            other = pr_lab == j
            d = 2 * (obj & other).sum() / (obj.sum() + other.sum())
            if best is None or d > best[1]:
                best = (j, d)
        if best is not None:
            other = pr_lab == best[0]
            p = prob[other]
            r.update(hit_dice=float(best[1]), hit_max=float(p.max()), hit_median=float(np.median(p)),
                     hit_q95=float(np.percentile(p, 95)), hit_logit=float(logit[other].max()),
                     hit_stat=float(p.max()), hit_obj=f"pred_{best[0]}")
        out.append(r)
    for j in range(1, n_pr + 1):
        obj = pr_lab == j
        r = _record(f"pred_{j}", False, obj.sum())
        r.update(self_stat=float(prob[obj].max()), self_logit=float(logit[obj].max()))
        best = None
        for i in np.unique(gt_lab[obj]):
            if i == 0:
                continue
            other = gt_lab == i
            d = 2 * (obj & other).sum() / (obj.sum() + other.sum())
            if best is None or d > best[1]:
                best = (i, d)
        if best is not None:
            r.update(hit_dice=float(best[1]), hit_max=1.0, hit_median=1.0, hit_q95=1.0, hit_logit=np.inf,
                     hit_stat=1.0, hit_obj=f"tum_{best[0]}")
        out.append(r)
    return out


def records_vectorized(gt, prob, logit):
    import cc3d

    gt_lab, n_gt = cc3d.connected_components(gt > 0.5, connectivity=26, return_N=True)
    pr_lab, n_pr = cc3d.connected_components(prob > 0.5, connectivity=26, return_N=True)
    gt_lab = gt_lab.ravel().astype(np.int64)
    pr_lab = pr_lab.ravel().astype(np.int64)
    prob = prob.ravel().astype(np.float64)
    logit = logit.ravel().astype(np.float64)
    gs = np.bincount(gt_lab, minlength=n_gt + 1)
    ps = np.bincount(pr_lab, minlength=n_pr + 1)
    both = (gt_lab > 0) & (pr_lab > 0)
    pairs = gt_lab[both] * (n_pr + 1) + pr_lab[both]
    keys, counts = np.unique(pairs, return_counts=True)
    gi, pj = keys // (n_pr + 1), keys % (n_pr + 1)
    dice = 2 * counts / (gs[gi] + ps[pj])
    # per predicted component: sorted probabilities and max logit
    fg = np.nonzero(pr_lab)[0]
    order = np.lexsort((prob[fg], pr_lab[fg]))
    lab_sorted = pr_lab[fg][order]
    p_sorted = prob[fg][order]
    starts = np.searchsorted(lab_sorted, np.arange(1, n_pr + 1))
    ends = np.searchsorted(lab_sorted, np.arange(1, n_pr + 1), side="right")
    max_logit = np.full(n_pr + 1, -np.inf)
    np.maximum.at(max_logit, pr_lab[fg], logit[fg])
    stats = {}
    for j in range(1, n_pr + 1):
        p = p_sorted[starts[j - 1]:ends[j - 1]]
        stats[j] = (p[-1], np.median(p), np.percentile(p, 95), max_logit[j])
    best_g, best_p = {}, {}
    for g, p, d in zip(gi, pj, dice):  # keys are sorted: ties keep the lower label
        if g not in best_g or d > best_g[g][1]:
            best_g[g] = (p, d)
        if p not in best_p or d > best_p[p][1]:
            best_p[p] = (g, d)
    out = []
    for i in range(1, n_gt + 1):
        r = _record(f"tum_{i}", True, gs[i])
        if i in best_g:
            j, d = best_g[i]
            mx, med, q95, lg = stats[j]
            r.update(hit_dice=float(d), hit_max=float(mx), hit_median=float(med), hit_q95=float(q95),
                     hit_logit=float(lg), hit_stat=float(mx), hit_obj=f"pred_{j}")
        out.append(r)
    for j in range(1, n_pr + 1):
        r = _record(f"pred_{j}", False, ps[j])
        mx, _, _, lg = stats[j]
        r.update(self_stat=float(mx), self_logit=float(lg))
        if j in best_p:
            i, d = best_p[j]
            r.update(hit_dice=float(d), hit_max=1.0, hit_median=1.0, hit_q95=1.0, hit_logit=np.inf,
                     hit_stat=1.0, hit_obj=f"tum_{i}")
        out.append(r)
    return out


def load_zyx(path):
    import nibabel as nib

    return np.ascontiguousarray(np.asarray(nib.load(path).dataobj).T)


def main():
    gt, prob, logit, out = sys.argv[1:5]
    impl = sys.argv[sys.argv.index("--impl") + 1] if "--impl" in sys.argv else "loops"
    fn = {"loops": records_loops, "vectorized": records_vectorized}[impl]
    recs = fn(load_zyx(gt), load_zyx(prob), load_zyx(logit))
    with open(out, "w") as f:
        json.dump({"0": recs}, f, indent=0)


if __name__ == "__main__":
    main()
