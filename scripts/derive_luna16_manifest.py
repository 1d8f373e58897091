"""Derives the LUNA16 files of data-manifests/ from the shared material:

* data-manifests/luna16.yaml: the split rule (subsets 0-7 train, 5 of them to validation as
  the authors' `train_test_split(ids, test_size=5, random_state=0xBadCafe)`, 8-9 test), the outlier and reverse (x, y mirrored) scan lists
  (../shared/data/luna16/{outlier_ids,reverse_ids}.json) and the paper's 159 test scans (the
  cases of ../shared/paper-records/luna/*/experiment_0/test_metrics/prc_records.json), which
  `iw prepare luna16` checks the subset 8-9 scans against;
* data-manifests/luna16-nodule-stats.json: nodules per test scan and their diameters (voxels),
  which `iw synth luna16` samples from.

A test checks that the committed files are what this gives.
Usage: python scripts/derive_luna16_manifest.py [--check]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
RECORDS = os.path.join(SHARED, "paper-records", "luna", "dl", "experiment_0", "test_metrics", "prc_records.json")
OUT_YAML = os.path.join(ROOT, "data-manifests", "luna16.yaml")
OUT_STATS = os.path.join(ROOT, "data-manifests", "luna16-nodule-stats.json")


def ids_block(ids, indent):
    return "".join(f"{indent}- \"{i}\"\n" for i in ids)


def derive():
    with open(RECORDS) as f:
        recs = json.load(f)
    with open(os.path.join(SHARED, "data", "luna16", "outlier_ids.json")) as f:
        outliers = sorted(json.load(f))
    with open(os.path.join(SHARED, "data", "luna16", "reverse_ids.json")) as f:
        reverse = sorted(json.load(f))
    test = sorted(recs)
    yaml = (
        "# LUNA16 (Setio et al. 2017): 888 CTs in subset0..subset9, and the split of Shirokikh et al.\n"
        "# 2020 (METHOD.md, \"Data\"). Written by scripts/derive_luna16_manifest.py; read by\n"
        "# `iw prepare luna16`, which resolves it into the prepared folder's manifest.yaml.\n"
        "dataset: luna16\n"
        "split:\n"
        "  train_subsets: [0, 1, 2, 3, 4, 5, 6, 7]\n"
        "  # sklearn's train_test_split(scans of train_subsets, test_size=validation_cases,\n"
        "  # random_state=validation_seed) picks the validation scans, as the authors'\n"
        "  # luna_holdout.config (scans ordered by subset, then uid; the authors' order was os.listdir's)\n"
        "  validation_cases: 5\n"
        "  validation_seed: 195939070     # 0xBadCafe\n"
        "  test_subsets: [8, 9]\n"
        "# Excluded everywhere (outlier_ids.json).\n"
        "outliers:\n" + ids_block(outliers, "  ") +
        "# The authors mirror these scans' annotation x, y about the origin, 2 origin - world\n"
        "# (reverse_ids.json): their TransformMatrix flips x and y.\n"
        "reverse:\n" + ids_block(reverse, "  ") +
        "# The paper's test scans (its records): subsets 8-9 without the outliers.\n"
        "paper_test:\n" + ids_block(test, "  ")
    )
    counts = [sum(1 for r in recs[c] if r["is_tum"]) for c in test]
    diameters = sorted(r["diameter"] for c in test for r in recs[c] if r["is_tum"])
    stats = {
        "source": "paper-records/luna/*/experiment_0/test_metrics/prc_records.json (is_tum records; identical for every method)",
        "cases": len(test),
        "tumours_per_case": counts,
        "diameters_voxels": [round(d, 6) for d in diameters],
        "voxel_size_mm": [0.7, 0.7, 1.25],
        "note": "diameter = (6 V / pi)^(1/3) in voxels of the LUNA16 scans (nodules: the readers' consensus)",
    }
    return yaml, json.dumps(stats, indent=1) + "\n"


def main():
    yaml, stats = derive()
    if "--check" in sys.argv:
        for path, text in ((OUT_YAML, yaml), (OUT_STATS, stats)):
            with open(path) as f:
                if f.read() != text:
                    sys.exit(f"{path} is stale: rerun scripts/derive_luna16_manifest.py")
        return
    for path, text in ((OUT_YAML, yaml), (OUT_STATS, stats)):
        with open(path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
