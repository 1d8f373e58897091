"""The one-to-one matching rule against an independent implementation: panoptica 2.1.7's
NaiveThresholdMatching (IoU >= t, greedy by IoU, cc3d 26-connected instances), which `make setup`
installs. On random blob masks, per case: lesions found, false positives, missed lesions and the
summed Dice of the matched pairs must agree. Also: both rules side by side from `evaluate`, and
the paper's records (which lack component sizes) say how to get them."""
import json
import os

import numpy as np
import pytest
from scipy import ndimage

import iw_lesions as iw
from panoptica import (ConnectedComponentsInstanceApproximator, InputType, Metric, NaiveThresholdMatching,
                       Panoptica_Evaluator)

from conftest import SHARED


def blobs(rng, shape, density):
    """Random blobs of many sizes: smoothed noise above a threshold."""
    noise = ndimage.gaussian_filter(rng.random(shape), sigma=rng.uniform(0.8, 2.0))
    return noise > np.quantile(noise, 1.0 - density)


def panoptica_counts(gt, pred, t):
    ev = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=NaiveThresholdMatching(matching_metric=Metric.IOU, matching_threshold=t),
        instance_metrics=[Metric.DSC, Metric.IOU],
        global_metrics=[Metric.DSC],
        verbose=False,
    )
    res = ev.evaluate(pred.astype(np.uint8), gt.astype(np.uint8), verbose=False)
    r = res["ungrouped"] if isinstance(res, dict) else res
    tp = int(r.tp)
    dice_sum = float(r.sq_dsc) * tp if tp else 0.0
    return tp, int(r.fp), int(r.fn), dice_sum


def iw_counts(gt, pred, t):
    prob = np.where(pred, 0.9, 0.1).astype(np.float32)
    recs = iw.lesion_records(gt.astype(np.float32), prob)
    out = iw.evaluate({"0": recs}, dataset="lits", samples=1, match=f"iou:{t}")
    a = out["operating"]["all"]
    tp = a["detected"]
    dice_sum = a["object_dice"] * tp if tp else 0.0
    return tp, int(round(a["fp_per_case"])), a["lesions"] - tp, dice_sum


@pytest.mark.parametrize("t", [0.1, 0.3, 0.5])
@pytest.mark.parametrize("seed", range(6))
def test_one_to_one_matching_equals_panoptica(seed, t):
    rng = np.random.default_rng(seed)
    shape = (20, 24, 28)
    gt = blobs(rng, shape, 0.08)
    # The prediction: the truth moved, eroded or dilated in places, plus blobs of its own.
    pred = np.roll(gt, rng.integers(-2, 3, size=3), axis=(0, 1, 2))
    pred = ndimage.binary_dilation(pred) if seed % 2 else ndimage.binary_erosion(pred)
    pred |= blobs(rng, shape, 0.03)
    ours = iw_counts(gt, pred, t)
    theirs = panoptica_counts(gt, pred, t)
    assert ours[:3] == theirs[:3], f"(tp, fp, fn): iw {ours[:3]}, panoptica {theirs[:3]}"
    assert ours[3] == pytest.approx(theirs[3], rel=1e-9, abs=1e-12)
    assert theirs[0] + theirs[2] > 1 and theirs[1] > 0, "a case with several lesions and false positives"


def test_both_rules_side_by_side_and_the_flood():
    # One component covering three lesions: found three times by overlap, once one to one.
    gt = np.zeros((12, 12, 24), np.float32)
    for x in (2, 6, 10):
        gt[2:5, 2:5, x:x + 3] = 1
    prob = np.full(gt.shape, 0.1, np.float32)
    prob[2:5, 2:5, 2:13] = 0.9
    recs = iw.lesion_records(gt, prob, spacing=(2.0, 1.0, 1.0))
    assert {"voxels", "overlaps", "voxel_mm3"} <= set(recs[0]) and recs[0]["voxel_mm3"] == 2.0
    both = iw.evaluate({"0": recs}, dataset="lits", samples=1, match=["overlap", "iou:0.1"])
    assert set(both) == {"overlap", "iou:0.1"}
    assert both["overlap"]["match"] == "overlap" and both["iou:0.1"]["match"] == "iou:0.1"
    assert both["overlap"]["operating"]["all"]["detected"] == 3
    assert both["iou:0.1"]["operating"]["all"]["detected"] == 1
    assert both["iou:0.1"]["operating"]["largest_over_true"] == pytest.approx(99 / 81)
    # A flood: no lesion found one to one, one false positive of 12^3 + 9 voxels (the first
    # component reached x = 12) x 2 mm^3.
    prob[:, :, :12] = 0.9
    recs = iw.lesion_records(gt, prob, spacing=(2.0, 1.0, 1.0))
    one = iw.evaluate({"0": recs}, dataset="lits", samples=1, match="iou:0.1")
    assert one["operating"]["all"]["detected"] == 0 and one["operating"]["fp_mm3_per_case"] == 2.0 * (12 ** 3 + 9)


def test_the_papers_records_need_extents_for_the_one_to_one_rule():
    path = os.path.join(SHARED, "paper-records", "lits", "dl", "experiment_0", "test_metrics", "prc_records.json")
    with open(path) as f:
        recs = json.load(f)
    assert iw.evaluate(recs, dataset="lits")["match"] == "overlap"
    with pytest.raises(ValueError, match=r"rerun `iw evaluate`"):
        iw.evaluate(recs, dataset="lits", match="iou:0.1")
    with pytest.raises(ValueError, match=r"match: .*iou:<t>"):
        iw.evaluate(recs, dataset="lits", match="dice")
