"""`make bench` rows of the iw-lesions Python package (crates/python): each Python call beside its
Python peers and beside the same work in Rust without Python (the `ours` timings of run.py).
Where the Python call costs more than the Rust call, the row says why (copies, conversions)."""
import json
import os

import numpy as np


def panoptica_time(gt, prob, timeit, reps):
    """panoptica's evaluator on the case (semantic input: gt > 0.5 and prob > 0.5, labelled with
    cc3d at 26-connectivity by its ConnectedComponentsInstanceApproximator, then its naive
    threshold matching), with only the instance metrics the paper's records hold (DSC, IoU), so
    that its surface distances are not counted against it. None when panoptica is missing."""
    try:
        from panoptica import (ConnectedComponentsInstanceApproximator, InputType, Metric,
                               NaiveThresholdMatching, Panoptica_Evaluator)
    except ImportError:
        print("panoptica not installed: its row is left out (make setup installs it)")
        return None
    ev = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=NaiveThresholdMatching(matching_threshold=0.5),
        instance_metrics=[Metric.DSC, Metric.IOU],
        global_metrics=[Metric.DSC],
        verbose=False,
    )
    ref = (gt > 0.5).astype(np.uint8)
    pred = (prob > 0.5).astype(np.uint8)
    t, _ = timeit(lambda: ev.evaluate(pred, ref, verbose=False), max(1, reps // 2))
    return t


def rows(files, vols, labels, mask128, timeit, reps, rust):
    """files / vols / labels: run.py's inputs; mask128: the 128^3 patch as a 0/1 mask;
    rust: {"weights": s, "records": s, "report": s} of the Rust examples."""
    import cc3d

    import iw_lesions as iw

    out = []

    def numpy_cc3d():
        lab = cc3d.connected_components(mask128, connectivity=26).ravel().astype(np.int64)
        counts = np.bincount(lab)
        k = np.count_nonzero(counts[1:])
        return np.clip(lab.size / ((k + 1) * counts[lab].astype(np.float64)), 1, 2e5).astype(np.float32)

    t_py, _ = timeit(lambda: iw.inverse_weights(mask128), reps * 4)
    t_peer, _ = timeit(numpy_cc3d, reps * 4)
    out.append(("Python: iw_lesions.inverse_weights(mask), 128^3 patch (labelling included)", t_py,
                [("numpy + cc3d", t_peer)]))
    t_lab, _ = timeit(lambda: iw.inverse_weights(labels), reps * 4)
    out.append(("Python: iw_lesions.inverse_weights(labels), 128^3 uint32 labels: one checked copy of the labels "
                "(dtype conversion) before the Rust pass", t_lab, [("iw weights in Rust, no Python", rust["weights"])]))
    gt, prob, logit = vols
    t_rec, _ = timeit(lambda: iw.lesion_records(gt, prob, logit), reps)
    desc = (f"Python: iw_lesions.lesion_records, {'x'.join(map(str, gt.shape[::-1]))} (gt {gt.dtype}: converted to "
            "float32 once, a copy; prob/logit float32 borrowed)")
    peers = [("the same in Rust, no Python", rust["records"]), ("paper-style loops (skimage)", rust["records_loops"])]
    t_pan = panoptica_time(gt, prob, timeit, reps)
    if t_pan is not None:
        peers.append(("panoptica 2.1.7: the same 26-connected components, its own matching (IoU > 0.5), "
                      "instance DSC + IoU only", t_pan))
    out.append((desc, t_rec, peers))
    shared = os.environ.get("IW_SHARED_RECORDS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "paper-records"))
    path = os.path.join(shared, "lits", "iwdl", "experiment_0", "test_metrics", "prc_records.json")
    with open(path) as f:
        recs = json.load(f)
    t_ev, _ = timeit(lambda: iw.evaluate(recs, dataset="lits"), reps)
    out.append((f"Python: iw_lesions.evaluate, a whole test set ({len(recs)} LiTS cases' records, 3 strata, 50 "
                "bootstraps; records go through json.dumps and back)", t_ev, []))
    t_rep, _ = timeit(lambda: iw.report(shared), reps)
    out.append(("Python: iw_lesions.report(../shared/paper-records), 19 methods", t_rep,
                [("iw report in Rust, no Python", rust["report"])]))
    return out
