"""results/ablations/README.md: one table of the ablations (experiments/ablations) under both
matching rules, each configuration beside the base configuration it changes, on the 12 synthetic
LiTS test cases.

Usage: python scripts/ablations/summary.py RUNS [--base BASE_RUNS] | --grid-files
  RUNS/lits/<name>/experiment_<seed>/ as `iw grid experiments/ablations/*.yaml` writes it;
  BASE_RUNS (default work/runs-cpu, what `make reproduce-lits` writes): the ten configurations at
  the same scale, whose seed-0 runs are the rows the ablations are read against.
Numbers: iw_lesions.evaluate on each run's prc_records.json (the small-lesion threshold: the
prepared data's synthetic.json `small_below_equivalent`), recall and FP per case at p > 0.5.
"""
import argparse
import glob
import importlib.util
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "scale_study"))
# The scale study's per-run numbers (both rules, the convergence verdict), loaded by path: this
# file has the same module name.
_spec = importlib.util.spec_from_file_location("scale_summary", os.path.join(ROOT, "scripts", "scale_study", "summary.py"))
_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scale)
run_numbers = _scale.run_numbers

def describe(exp_file):
    """(run name, the configuration it is read against, what it changes)."""
    cfg = yaml.safe_load(open(exp_file))
    # The run's folder: the experiment's name, else its loss name (iw-run's rule).
    name = cfg.get("name") or cfg["loss"]["name"]
    base = os.path.splitext(os.path.basename(cfg.get("extends", "")))[0]
    if base == "base":
        # A loss beyond the paper on experiments/lits/base.yaml: read against its base loss
        # (blob-dl -> dl, blob-iwdl -> iwdl, cc-dlbce -> dl, the paper's closest).
        rest = name.split("-", 1)[-1]
        base = "dl" if rest == "dlbce" else rest
    with open(exp_file) as f:
        first = f.readline().lstrip("# ").strip()
    return name, base, first


# Files whose setting is the paper's, so their run is the base configuration's run itself (the
# same configuration, data and seed): not run again, their row is the base row.
PAPER_VALUES = {"focal-alpha-0.75.yaml", "iwdl-connectivity-26.yaml", "iwdl-wmax-200000.yaml"}


def grid_files():
    """The ablation files to run: all but those of the paper's value."""
    return [e for e in sorted(glob.glob(os.path.join(ROOT, "experiments", "ablations", "*.yaml")))
            if os.path.basename(e) not in PAPER_VALUES]


def row(label, n, what):
    o, i = n["overlap"], n["iou:0.1"]
    f = lambda v, s=".2f": "-" if v is None else f"{v:{s}}"
    return (f"| {label} | {what} | {n['verdict']} | {f(n['volume_ratio'], '.1f')} | {f(n['largest_over_true'], '.1f')} "
            f"| {f(n['fp_mm3_per_case'], '.0f')} "
            f"| {f(o['object_dice'])} / {f(i['object_dice'])} | {f(o['avg_recall'])} / {f(i['avg_recall'])} "
            f"| {f(o['small_avg_recall'])} / {f(i['small_avg_recall'])} "
            f"| {f(o['recall_p05'])} / {f(i['recall_p05'])} | {f(o['small_recall_p05'])} / {f(i['small_recall_p05'])} "
            f"| {f(o['large_recall_p05'])} / {f(i['large_recall_p05'])} | {f(o['fp_per_case'], '.1f')} / {f(i['fp_per_case'], '.1f')} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="?")
    ap.add_argument("--base", default=os.path.join(ROOT, "work", "runs-cpu"))
    ap.add_argument("--grid-files", action="store_true", help="print the files to run and exit")
    a = ap.parse_args()
    if a.grid_files:
        print("\n".join(os.path.relpath(e, ROOT) for e in grid_files()))
        return
    if not a.runs:
        ap.error("RUNS is required")
    exps = sorted(glob.glob(os.path.join(ROOT, "experiments", "ablations", "*.yaml")))
    print("# The ablations at the CPU scale (issue 27)\n")
    print("Made by `make ablations` (scripts/ablations/run.sh): every file of experiments/ablations over")
    print("experiments/scales/cpu.yaml (3600 steps), **one seed (0)**, on the synthetic LiTS data's 12 test")
    print("cases; each row beside the seed-0 run of the configuration it changes, from `make reproduce-lits`")
    print("(the same scale, data and seed). One seed of 12 cases: a difference of a few hundredths is noise")
    print("(results/lits/README.md gives the spread between seeds).\n")
    times = [json.load(open(p))["stages"] for p in glob.glob(os.path.join(a.runs, "lits", "*", "experiment_*", "run.json"))]
    times = [t for t in times if all(k in t for k in ("train", "predict", "evaluate"))]
    if times:
        compute = sum(st["wall_s"] for t in times for st in t.values())
        start = min(t["train"]["finished_unix"] - t["train"]["wall_s"] for t in times)
        end = max(t["evaluate"]["finished_unix"] for t in times)
        print(f"Time: {len(times)} runs, {compute / 60:.1f} min of compute (the sum of their run.json stages), "
              f"{(end - start) / 60:.1f} min from the first run's start to the last one's end.\n")
    print("Each pair of numbers: the paper's rule (`overlap`) / one to one at IoU >= 0.1 (`iou:0.1`). Recall")
    print("and false positives per case at p > 0.5; object Dice of the matched lesions; average recall over")
    print("0-5 false positives per case. `pred/true`: predicted over true tumour volume; `largest/true`: the")
    print("largest predicted component over the true tumour volume of its case; `FP mm3`: false-positive")
    print("volume per case (both from the paper's rule's components). `converged`: the rule of")
    print("experiments/SCALE-STUDY.md on the run's whole-volume validation curve.\n")
    print("| run | changes | converged | pred/true | largest/true | FP mm3 / case | object Dice | avg recall | small avg recall "
          "| recall | small recall | large recall | FP / case |")
    print("|" + "---|" * 13)
    shown_base = set()
    missing = []
    for name, base, what, paper in sorted(((*describe(e), os.path.basename(e) in PAPER_VALUES) for e in exps),
                                          key=lambda d: (d[1], d[0])):
        run = os.path.join(a.runs, "lits", name, "experiment_0")
        base_run = os.path.join(a.base, "lits", base, "experiment_0")
        if base not in shown_base and os.path.exists(os.path.join(base_run, "test_metrics", "prc_records.json")):
            print(row(f"**{base}** (base)", run_numbers(base_run), "the configuration of experiments/lits"))
            shown_base.add(base)
        if paper:
            print(f"| {name} | {what} The paper's value: the base row. | | | | | | | | | | | |")
            continue
        if not os.path.exists(os.path.join(run, "test_metrics", "prc_records.json")):
            missing.append(name)
            continue
        print(row(name, run_numbers(run), what))
    if missing:
        print(f"\nNot finished: {', '.join(missing)}.")
    # What the table shows, written by hand after reading it (as experiments/<dataset>/FINDINGS-cpu.md
    # for `iw reproduce`).
    findings = os.path.join(ROOT, "experiments", "ablations", "FINDINGS-cpu.md")
    if os.path.exists(findings):
        print("\n" + open(findings).read().rstrip())


if __name__ == "__main__":
    main()
