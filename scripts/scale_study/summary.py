"""The scale study's table (experiments/SCALE-STUDY.md): per scale and configuration, each seed's
numbers on the 12 synthetic test cases under both matching rules, the convergence rule's verdict
on the whole-volume validation curve, and the run's wall time.

Usage: python scripts/scale_study/summary.py STUDY_DIR [SCALE ...]
  STUDY_DIR/<scale>/runs/lits/<method>/experiment_<seed>/ as scripts/scale_study/run.sh writes it.
Prints Markdown; the numbers come from iw_lesions.evaluate on each run's prc_records.json (the
small-lesion threshold is the prepared data's synthetic.json `small_below_equivalent`).
"""
import glob
import json
import os
import sys

import iw_lesions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from convergence import verdict  # noqa: E402

RULES = ["overlap", "iou:0.1"]
METHODS = ["dl", "iwdl", "bce", "iwbce", "fl", "iwfl", "asl", "iwasl", "wce", "gdl"]
BASE = {"dl", "bce", "fl", "asl", "wce", "gdl"}


def small_below(run):
    """The dataset's threshold: config.yaml's dataset.prepared -> synthetic.json."""
    import yaml

    cfg = yaml.safe_load(open(os.path.join(run, "config.yaml")))
    prepared = cfg["dataset"]["prepared"]
    if not os.path.isabs(prepared):
        prepared = os.path.join(os.path.dirname(os.path.dirname(HERE)), prepared)
    path = os.path.join(prepared, "synthetic.json")
    if not os.path.exists(path):
        sys.exit(f"{path}: missing; write the synthetic data first (./target/release/iw reproduce lits --data-only)")
    return json.load(open(path))["small_below_equivalent"]


def run_numbers(run):
    records = json.load(open(os.path.join(run, "test_metrics", "prc_records.json")))
    res = iw_lesions.evaluate(records, small_below=small_below(run), dataset="lits", match=RULES)
    meta = json.load(open(os.path.join(run, "run.json")))
    wall = sum(s.get("wall_s", 0.0) for s in meta["stages"].values())
    total, d_last, dd, rr, word = verdict(run)
    out = {"wall_s": wall, "steps": total, "val_dice_last": d_last, "val_dice_change": dd, "val_ratio_change": rr,
           "converged": word == "converged", "verdict": word}
    for rule in RULES:
        r = res[rule]
        op = r["operating"]
        out[rule] = {
            "object_dice": op["all"]["object_dice"],
            "large_object_dice": op["large"]["object_dice"],
            "recall_p05": op["all"]["recall_p05"],
            "small_recall_p05": op["small"]["recall_p05"],
            "large_recall_p05": op["large"]["recall_p05"],
            "fp_per_case": op["all"]["fp_per_case"],
            "avg_recall": r["avg_recall_mean"],
            "small_avg_recall": r["small_avg_recall_mean"],
        }
    out["volume_ratio"] = res["overlap"]["operating"]["all"]["volume_ratio"]
    out["largest_over_true"] = res["overlap"]["operating"]["largest_over_true"]
    out["fp_mm3_per_case"] = res["overlap"]["operating"]["fp_mm3_per_case"]
    return out


def fmt(values, spec=".2f"):
    """Each seed's value, seed 0 first ('-' where undefined)."""
    return " / ".join("-" if v is None else f"{v:{spec}}" for v in values)


def main():
    study = sys.argv[1]
    scales = sys.argv[2:] or sorted(os.path.basename(p) for p in glob.glob(os.path.join(study, "s*")))
    print("Each cell: seed 0 / seed 1. Test set: 12 synthetic cases; validation: 1 case. Recall at p > 0.5,")
    print("object Dice of the matched lesions, FP per case at p > 0.5; large = diameter >= the threshold.\n")
    for scale in scales:
        runs = os.path.join(study, scale, "runs", "lits")
        if not os.path.isdir(runs):
            continue
        print(f"### {scale}\n")
        print("| config | converged | val. Dice (last 5 %) | Dice change | ratio change | wall (min) | pred/true vol. | largest/true "
              "| object Dice overlap | object Dice IoU | large obj. Dice IoU | recall overlap | recall IoU | large recall IoU | small recall overlap "
              "| small recall IoU | FP/case overlap | FP/case IoU | avg recall overlap | avg recall IoU |")
        print("|" + "---|" * 20)
        learned_fail, found_few = [], []
        for m in METHODS:
            seeds = sorted(glob.glob(os.path.join(runs, m, "experiment_*")))
            done = [s for s in seeds if os.path.exists(os.path.join(s, "test_metrics", "prc_records.json"))]
            if not done:
                continue
            n = [run_numbers(s) for s in done]
            g = lambda rule, k: [x[rule][k] for x in n]
            if m in BASE and any(v is None or v < 0.6 for v in g("iou:0.1", "large_object_dice")):
                learned_fail.append(m)
            if m in BASE and any(v is None or v < 0.5 for v in g("iou:0.1", "large_recall_p05")):
                found_few.append(m)
            print(f"| {m} | {'/'.join('yes' if x['converged'] else 'no' for x in n)} | {fmt([x['val_dice_last'] for x in n])} "
                  f"| {fmt([x['val_dice_change'] for x in n], '+.3f')} | {fmt([x['val_ratio_change'] for x in n])} "
                  f"| {fmt([x['wall_s'] / 60 for x in n], '.1f')} | {fmt([x['volume_ratio'] for x in n], '.1f')} "
                  f"| {fmt([x['largest_over_true'] for x in n], '.1f')} "
                  f"| {fmt(g('overlap', 'object_dice'))} | {fmt(g('iou:0.1', 'object_dice'))} | {fmt(g('iou:0.1', 'large_object_dice'))} "
                  f"| {fmt(g('overlap', 'recall_p05'))} | {fmt(g('iou:0.1', 'recall_p05'))} | {fmt(g('iou:0.1', 'large_recall_p05'))} "
                  f"| {fmt(g('overlap', 'small_recall_p05'))} | {fmt(g('iou:0.1', 'small_recall_p05'))} "
                  f"| {fmt(g('overlap', 'fp_per_case'), '.1f')} | {fmt(g('iou:0.1', 'fp_per_case'), '.1f')} "
                  f"| {fmt(g('overlap', 'avg_recall'))} | {fmt(g('iou:0.1', 'avg_recall'))} |")
        print(f"\nBase losses that did not learn (large-tumour object Dice under IoU >= 0.1 below 0.6 on a seed): "
              f"{', '.join(learned_fail) or 'none'}")
        print(f"Post hoc (not in the pre-registered rule): base losses that found under half of the large tumours "
              f"under IoU >= 0.1 at p > 0.5 on a seed: {', '.join(found_few) or 'none'}\n")


if __name__ == "__main__":
    main()
