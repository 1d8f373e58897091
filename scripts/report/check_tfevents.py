"""Reads a run's TensorBoard event file with the tensorboard package and checks every scalar
against train_log.csv (train/loss, train/lr per step) and validation_log.csv (validation/loss,
validation/dice per epoch of the patch validation; validation/volume_dice, fp_per_case and
volume_ratio in the epochs of the whole-volume validation, where their cells are filled): same
steps, no duplicates, values equal to float32 precision.

usage: check_tfevents.py RUN_DIR   (prints one JSON line of counts; exit 1 on a mismatch)
"""
import csv
import glob
import json
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(run):
    files = glob.glob(f"{run}/events.out.tfevents.*")
    if len(files) != 1:
        print(f"{run}: {len(files)} event files, expected 1")
        return 1
    acc = EventAccumulator(files[0], size_guidance={"scalars": 0})
    acc.Reload()
    train = list(csv.DictReader(open(f"{run}/train_log.csv")))
    val = list(csv.DictReader(open(f"{run}/validation_log.csv")))
    def filled(rows, column):
        return [(int(r["step"]), float(r[column])) for r in rows if r.get(column, "") != ""]

    want = {
        "train/loss": filled(train, "loss"),
        "train/lr": filled(train, "lr"),
        "validation/loss": filled(val, "loss"),
        "validation/dice": filled(val, "dice"),
        "validation/volume_dice": filled(val, "volume_dice"),
        "validation/fp_per_case": filled(val, "fp_per_case"),
        "validation/volume_ratio": filled(val, "volume_ratio"),
    }
    tags = acc.Tags()["scalars"]
    problems, counts = [], {}
    for tag, rows in want.items():
        if tag not in tags:
            if not rows:
                counts[tag] = 0
                continue
            problems.append(f"{tag} missing (tags {tags})")
            continue
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        counts[tag] = len(got)
        if [s for s, _ in got] != [s for s, _ in rows]:
            problems.append(f"{tag}: steps {[s for s, _ in got][:8]}... vs the CSV's {[s for s, _ in rows][:8]}...")
            continue
        g, w = np.array([v for _, v in got]), np.array([v for _, v in rows], dtype=np.float32).astype(np.float64)
        if not np.array_equal(g, w, equal_nan=True):
            i = int(np.argmax((g != w) & ~(np.isnan(g) & np.isnan(w))))
            problems.append(f"{tag}: step {rows[i][0]}: {g[i]} vs the CSV's {rows[i][1]}")
    for p in problems:
        print(f"{files[0]}: {p}")
    if not problems:
        print(json.dumps(counts))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
