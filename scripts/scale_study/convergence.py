"""The convergence rule of experiments/SCALE-STUDY.md on every run under a runs folder
(<dataset>/<method>/experiment_*/validation_log.csv with the whole-volume columns): prints one
Markdown row per run and exits 1 when a run lacks whole-volume validations in its last 10 %."""
import csv
import glob
import os
import sys


def rows(path):
    with open(path, newline="") as f:
        out = []
        for i, r in enumerate(csv.DictReader(f), start=2):
            if r.get("volume_dice") in (None, ""):
                continue
            try:
                out.append((int(r["step"]), float(r["volume_dice"]), float(r["volume_ratio"])))
            except (KeyError, ValueError) as e:
                sys.exit(f"{path}:{i}: {e}")
        return out


def planned_steps(run):
    """The run's planned steps: config.yaml's epochs x iterations."""
    import yaml

    t = yaml.safe_load(open(os.path.join(run, "config.yaml")))["training"]
    return int(t["epochs"]) * int(t["iterations"])


def verdict(run):
    v = rows(os.path.join(run, "validation_log.csv"))
    # T: the run's planned steps, so that an unfinished run has no validation in its last 10 %
    # instead of being judged on its first steps.
    total = planned_steps(run)
    last = [x for x in v if 0.95 * total < x[0] <= total]
    prev = [x for x in v if 0.90 * total < x[0] <= 0.95 * total]
    if not last or not prev:
        return total, None, None, None, "no whole-volume validation in the last 10 %"
    mean = lambda xs, k: sum(x[k] for x in xs) / len(xs)
    dd = mean(last, 1) - mean(prev, 1)
    rr = mean(last, 2) / mean(prev, 2) if mean(prev, 2) > 0 else float("inf")
    ok = abs(dd) < 0.02 and rr >= 0.95
    return total, mean(last, 1), dd, rr, "converged" if ok else "not converged"


def main():
    runs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(sys.argv[1], "*", "*", "experiment_*", "validation_log.csv")))
    print("| run | steps | whole-volume Dice (last 5 %) | change vs the 5 % before | volume ratio last / before | verdict |")
    print("|---|---|---|---|---|---|")
    bad = 0
    for r in runs:
        total, d, dd, rr, word = verdict(r)
        bad += word.startswith("no ")
        f = lambda x, p: "n/a" if x is None else f"{x:{p}}"
        print(f"| {os.path.relpath(r, sys.argv[1])} | {total} | {f(d, '.3f')} | {f(dd, '+.3f')} | {f(rr, '.3f')} | {word} |")
    return 1 if bad or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
