"""label / inverse_weights / lesion_records / evaluate / report against independent references:
cc3d and scipy (components), numpy (weights), the paper-style loop of
scripts/bench/lesion_records.py (records), the paper's numbers in ../shared/paper-records
(EXPECTED.md) and the `iw` CLI (report, weights)."""
import importlib.util
import json
import os
import re
import subprocess
import threading
import time

import cc3d
import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

import iw_lesions as iw
from conftest import ROOT, SHARED


def random_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.standard_normal(shape), 1.0) > p


def numpy_weights(labels, w_min=1.0, w_max=2e5):
    """The paper's formula in numpy: w = N / ((K + 1) |c|), clipped (K = labels present)."""
    lab = labels.astype(np.int64).ravel()
    counts = np.bincount(lab)
    k = np.count_nonzero(counts[1:])
    return np.clip(lab.size / ((k + 1) * counts[lab].astype(np.float64)), w_min, w_max).astype(np.float32).reshape(
        labels.shape)


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_equals_cc3d_and_scipy(connectivity, seed):
    m = random_mask((23, 31, 40), 0.3, seed)
    lab, n = iw.label(m, connectivity)
    want, wn = cc3d.connected_components(m, connectivity=connectivity, return_N=True)
    assert lab.dtype == np.uint32 and n == wn > 5
    np.testing.assert_array_equal(lab, want)
    struct = ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])
    sl, sn = ndimage.label(m, struct)
    assert sn == n
    np.testing.assert_array_equal(lab, sl)


def test_label_dtypes_orders_and_edges():
    m = random_mask((12, 13, 14), 0.3, 5)
    want, _ = iw.label(m)
    for dt in (np.uint8, np.int16, np.int64, np.float32, np.float64):
        np.testing.assert_array_equal(iw.label(m.astype(dt))[0], want)
    # Fortran order and a strided view give the same labels as the C-order copy.
    np.testing.assert_array_equal(iw.label(np.asfortranarray(m))[0], want)
    big = random_mask((24, 13, 28), 0.3, 6)
    np.testing.assert_array_equal(iw.label(big[::2, :, ::2])[0], cc3d.connected_components(big[::2, :, ::2]))
    assert iw.label(np.zeros((4, 5, 6), bool))[1] == 0
    lab, n = iw.label(np.ones((4, 5, 6), bool))
    assert n == 1 and (lab == 1).all()
    # A MONAI-style channel-first [1, D, H, W] array is squeezed.
    assert iw.label(m[None])[1] == iw.label(m)[1]


def test_inverse_weights_equal_numpy_and_iw_weights(tmp_path, iw_bin):
    m = random_mask((20, 30, 40), 0.4, 7)
    w = iw.inverse_weights(m)
    assert w.dtype == np.float32 and w.shape == m.shape
    want = numpy_weights(cc3d.connected_components(m, connectivity=26))
    np.testing.assert_array_equal(w, want)
    assert w.max() > 1
    # The CLI on the same mask (NIfTI is x-fastest: write the transposed array, read it back).
    nib.save(nib.Nifti1Image(m.T.astype(np.uint8), np.eye(4)), tmp_path / "m.nii.gz")
    subprocess.run([iw_bin, "weights", str(tmp_path / "m.nii.gz"), str(tmp_path / "w.nii.gz")], check=True,
                   capture_output=True)
    cli = np.asarray(nib.load(tmp_path / "w.nii.gz").dataobj).T
    np.testing.assert_array_equal(w, cli)
    # Clipping and connectivity.
    np.testing.assert_array_equal(iw.inverse_weights(m, 1.0, 50.0), numpy_weights(
        cc3d.connected_components(m, connectivity=26), 1.0, 50.0))
    np.testing.assert_array_equal(iw.inverse_weights(m, connectivity=6),
                                  numpy_weights(cc3d.connected_components(m, connectivity=6)))
    assert (iw.inverse_weights(np.zeros((3, 4, 5), bool)) == 1).all()


def test_inverse_weights_of_a_cropped_labelling():
    """The paper's per-patch weights: labels of the whole volume, cropped, not renumbered."""
    m = random_mask((40, 40, 40), 0.35, 8)
    lab, n = iw.label(m)
    crop = lab[5:30, 10:35, 0:20]
    np.testing.assert_array_equal(iw.inverse_weights(crop), numpy_weights(crop))
    np.testing.assert_array_equal(iw.inverse_weights(crop.astype(np.int64), labels=True), numpy_weights(crop))
    # A crop holding only label 1 split in two pieces: as labels K = 1, relabelled K = 2.
    two = np.zeros((5, 5, 5), np.int32)
    two[0, 0, 0] = two[4, 4, 4] = 1
    np.testing.assert_array_equal(iw.inverse_weights(two, labels=True), numpy_weights(two))
    np.testing.assert_array_equal(iw.inverse_weights(two), numpy_weights(iw.label(two)[0]))
    # Huge label values are renumbered internally (no table of 2^40 entries).
    huge = crop.astype(np.int64) * (2 ** 40)
    np.testing.assert_array_equal(iw.inverse_weights(huge), numpy_weights(crop))


def test_bad_input_is_one_line_value_error():
    cases = [
        (lambda: iw.label(np.zeros((3, 3))), "mask: expected a 3D array [z, y, x], got shape [3, 3]"),
        (lambda: iw.label(np.zeros((2, 3, 3, 3))), "mask: expected a 3D array [z, y, x], got shape [2, 3, 3, 3]"),
        (lambda: iw.label(np.zeros((3, 3, 3), np.complex64)), "mask: dtype complex64 is not supported"),
        (lambda: iw.label(np.zeros((3, 3, 3)), connectivity=8), "invalid argument: connectivity must be 6, 18 or 26, not 8"),
        (lambda: iw.inverse_weights(np.zeros((3, 3, 3)), 5.0, 1.0), "invalid argument: weight bounds need 0 <= w_min <= w_max"),
        (lambda: iw.inverse_weights(np.full((3, 3, 3), -2), labels=True), "mask_or_labels: labels must be non-negative integers, found -2"),
        (lambda: iw.inverse_weights(np.full((3, 3, 3), 0.5)), "mask_or_labels: labels must be non-negative integers, found 0.5"),
        (lambda: iw.lesion_records(np.zeros((3, 3, 3)), np.zeros((3, 3, 4), np.float32)),
         "ground truth shape [3, 3, 3] and probability shape [3, 3, 4] differ (z, y, x)"),
        (lambda: iw.lesion_records(np.zeros((3, 3, 3)), np.zeros((3, 3, 3)), spacing=(1, 0, 1)), "spacing: need three positive numbers"),
        (lambda: iw.evaluate({"a": [{"obj": "tum_1"}]}, small_below=12), "records: not a records file: missing field"),
        (lambda: iw.evaluate({}, small_below=-1), "small_below must be a positive number of voxels, not -1"),
        (lambda: iw.evaluate({"a": []}, dataset="brains"), "dataset 'brains' has no default small-lesion threshold"),
        (lambda: iw.label("not an array"), "mask: expected a 3D array [z, y, x], got shape []"),
        (lambda: iw.report("/nonexistent/records"), "/nonexistent/records: not a folder"),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError) as e:
            fn()
        assert msg in str(e.value) and "\n" not in str(e.value), (msg, str(e.value))


def _paper_loop():
    spec = importlib.util.spec_from_file_location("lesion_records_ref", os.path.join(ROOT, "scripts", "bench",
                                                                                    "lesion_records.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.records_loops


def _prediction(seed, shape=(30, 40, 50)):
    rng = np.random.default_rng(seed)
    gt = random_mask(shape, 0.45, seed).astype(np.uint8)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5) * 8
    logit = (np.where(gt > 0, 2.0, -2.0) + noise).astype(np.float32)
    prob = (1 / (1 + np.exp(-logit.astype(np.float64)))).astype(np.float32)
    return gt, prob, logit


@pytest.mark.parametrize("seed", [0, 1])
def test_lesion_records_equal_the_paper_loop(seed):
    gt, prob, logit = _prediction(seed)
    ours, dice = iw.lesion_records(gt, prob, logit, return_dice=True)
    want = _paper_loop()(gt, prob, logit)
    assert len(ours) == len(want) > 10
    assert sum(r["is_tum"] for r in ours) > 3 and sum(r["hit_dice"] > 0 for r in ours) > 3
    # The extents (iw's addition): sizes and overlaps of scipy's 26-connected components.
    s26 = np.ones((3, 3, 3))
    gl, _ = ndimage.label(gt > 0.5, structure=s26)
    pl, _ = ndimage.label(prob > 0.5, structure=s26)
    both = (gl > 0) & (pl > 0)
    pairs = {}
    for g_, p_ in zip(gl[both], pl[both]):
        pairs[(int(g_), int(p_))] = pairs.get((int(g_), int(p_)), 0) + 1
    for a in ours:
        side, k = a["obj"].split("_")
        lab = gl if side == "tum" else pl
        assert a["voxels"] == int((lab == int(k)).sum()), a["obj"]
        want_o = {(f"pred_{q}" if side == "tum" else f"tum_{g_}"): n for (g_, q), n in pairs.items()
                  if (g_ if side == "tum" else q) == int(k)}
        assert a["overlaps"] == want_o, a["obj"]
    for a, b in zip(ours, want):
        assert a.keys() - {"voxels", "overlaps"} == b.keys()
        for k in iw.RECORD_KEYS:
            if isinstance(b[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7), (a["obj"], k)
            else:
                assert a[k] == b[k], (a["obj"], k)
    g, p = gt > 0.5, prob > 0.5
    assert dice == pytest.approx(2 * (g & p).sum() / (g.sum() + p.sum()))
    # Without logits: derived from the probabilities; float64 inputs are converted.
    no_logit = iw.lesion_records(gt, prob.astype(np.float64))
    assert [r["obj"] for r in no_logit] == [r["obj"] for r in ours]
    # Spacing adds the diameter in mm.
    spaced = iw.lesion_records(gt, prob, logit, spacing=(2.0, 1.0, 0.5))
    for a, b in zip(spaced, ours):
        assert a["diameter_mm"] == pytest.approx(b["diameter"])


def _expected_table():
    rows = {}
    with open(os.path.join(SHARED, "paper-records", "EXPECTED.md")) as f:
        for line in f:
            m = re.match(r"\| (\w+) \| (\w+)\*? \| (\d+) \| (\d+) \| ([\d.]+) ± ([\d.]+) \| [\d.]+ ± ([\d.]+) \| "
                         r"([\d.]+) \| ([\d.]+) ± ([\d.]+) \|", line)
            if m:
                g = m.groups()
                rows[(g[0], g[1])] = dict(cases=int(g[2]), lesions=int(g[3]), od=float(g[4]), ods=float(g[5]),
                                          ar_std=float(g[6]), ar=float(g[7]), cpm=float(g[8]), cpm_std=float(g[9]))
    return rows


def test_report_equals_the_papers_numbers_and_the_cli(iw_bin):
    records = os.path.join(SHARED, "paper-records")
    rows = iw.report(records)
    expected = _expected_table()
    assert len(rows) == len(expected) == 19
    for r in rows:
        e = expected[(r["dataset"], r["method"])]
        assert (r["cases"], r["lesions"]) == (e["cases"], e["lesions"])
        assert round(r["avg_recall_mean"], 4) == e["ar"], r["method"]
        assert round(r["object_dice_mean"], 2) == e["od"] and round(r["object_dice_std"], 2) == e["ods"]
        assert round(r["cpm_mean"], 2) == e["cpm"] and round(r["cpm_std"], 2) == e["cpm_std"]
    cli = json.loads(subprocess.run([iw_bin, "report", records, "--json"], check=True, capture_output=True,
                                    text=True).stdout)
    assert rows == cli


def test_evaluate_from_records_dict_equals_report():
    path = os.path.join(SHARED, "paper-records", "lits", "iwdl", "experiment_0", "test_metrics",
                        "prc_records.json")
    with open(path) as f:
        recs = json.load(f)
    row = next(r for r in iw.report(os.path.join(SHARED, "paper-records")) if (r["dataset"], r["method"]) ==
               ("lits", "iwdl"))
    ev = iw.evaluate(recs, dataset="lits")
    for k, v in row.items():
        if k != "method":
            assert ev[k] == v, k
    assert iw.evaluate(recs, small_below=12) == {**ev, "dataset": ""}
    f = ev["froc"]
    assert len(f["thresholds"]) == len(f["recall"]) == len(f["avg_fp"]) == 201
    assert all(a >= b for a, b in zip(f["recall"], f["recall"][1:]))  # recall falls with the threshold
    assert len(ev["curve"]["avg_fp"]) == 121
    # Records from lesion_records (numpy scalars, extra keys) go straight in.
    case = {str(i): iw.lesion_records(*_prediction(i, (20, 24, 28)), spacing=(1, 1, 1)) for i in range(4)}
    out = iw.evaluate(case, small_below=5, samples=10, bootstrap="corrected")
    assert out["cases"] == 4 and out["lesions"] == sum(r["is_tum"] for c in case.values() for r in c)


def test_the_gil_is_released():
    """A pure-Python thread keeps running while one long native call works: it could not if the
    call held the GIL (the ticks are counted strictly inside the call, away from its edges)."""
    m = random_mask((128, 160, 160), 0.3, 9)
    iw.inverse_weights(m)
    ticks = []
    stop = threading.Event()

    def python_work():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=python_work)
    t.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    iw.inverse_weights(m)
    t1 = time.perf_counter()
    stop.set()
    t.join()
    margin = 0.1 * (t1 - t0)
    inside = [x for x in ticks if t0 + margin < x < t1 - margin]
    assert t1 - t0 > 0.01 and len(inside) > 100, (t1 - t0, len(inside))
