"""The scale study's whole-volume validation curves (experiments/SCALE-STUDY.md): one panel per
configuration, voxel Dice of the whole validation case (solid) and predicted / true volume (dashed,
right axis, log scale) against the fraction of training, for every scale and seed found.

Usage: python scripts/scale_study/curves.py STUDY_DIR OUT.png
  STUDY_DIR/<scale>/runs/lits/<method>/experiment_<seed>/validation_log.csv (results/scale-study).
"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convergence import planned_steps  # noqa: E402

METHODS = ["dl", "iwdl", "bce", "iwbce", "fl", "iwfl", "asl", "iwasl", "wce", "gdl"]
COLOURS = {"s900": "tab:blue", "s1800": "tab:orange", "s3600": "tab:green", "s7200": "tab:red"}


def curve(path):
    steps, dice, ratio = [], [], []
    with open(path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f), start=2):
            if r.get("volume_dice") in (None, ""):
                continue
            try:
                steps.append(int(r["step"]))
                dice.append(float(r["volume_dice"]))
                ratio.append(max(float(r["volume_ratio"]), 1e-3))
            except (KeyError, ValueError) as e:
                sys.exit(f"{path}:{i}: {e}")
    return steps, dice, ratio


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    study, out = sys.argv[1], sys.argv[2]
    scales = sorted((os.path.basename(p) for p in glob.glob(os.path.join(study, "s*")) if os.path.isdir(p)),
                    key=lambda s: int(s[1:]))
    fig, axes = plt.subplots(2, 5, figsize=(20, 7.5), sharey=True)
    for ax, m in zip(axes.flat, METHODS):
        ax2 = ax.twinx()
        ax2.set_yscale("log")
        ax2.set_ylim(0.1, 1000)
        for s in scales:
            for run in sorted(glob.glob(os.path.join(study, s, "runs", "lits", m, "experiment_*"))):
                seed = run.rsplit("_", 1)[-1]
                steps, dice, ratio = curve(os.path.join(run, "validation_log.csv"))
                if not steps:
                    continue
                total = planned_steps(run)
                x = [t / total for t in steps]
                style = "-" if seed == "0" else ":"
                ax.plot(x, dice, style, color=COLOURS.get(s, "black"), lw=1.4,
                        label=f"{s} seed {seed}")
                ax2.plot(x, ratio, style, color=COLOURS.get(s, "black"), lw=0.8, alpha=0.45)
        ax.axvspan(0.90, 1.0, color="grey", alpha=0.12)
        ax.set_title(m)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of training")
        if m in ("dl", "iwfl"):
            ax.set_ylabel("whole-volume Dice (thick)")
        if m in ("gdl", "fl"):
            ax2.set_ylabel("predicted / true volume (thin)")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Whole-volume validation (1 case) during training: Dice (thick, left) and predicted / true volume "
                 "(thin, right, log); seed 0 solid, seed 1 dotted; grey: the convergence rule's two 5 % windows")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
