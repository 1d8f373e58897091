"""Derives the tumour statistics of the LiTS test set from the authors' per-lesion records
(../shared/paper-records/lits/<method>/experiment_0/test_metrics/prc_records.json; the ground
truth records are the same for every method) and writes data-manifests/lits-tumour-stats.json,
which `iw synth lits` samples from. A test checks that the committed file is what this gives.

Usage: python scripts/derive_lits_tumour_stats.py [--check]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "paper-records", "lits", "dl", "experiment_0", "test_metrics", "prc_records.json")
OUT = os.path.join(ROOT, "data-manifests", "lits-tumour-stats.json")


def derive():
    with open(SRC) as f:
        recs = json.load(f)
    cases = sorted(recs, key=int)
    counts = [sum(1 for r in recs[c] if r["is_tum"]) for c in cases]
    diameters = sorted(r["diameter"] for c in cases for r in recs[c] if r["is_tum"])
    return {
        "source": "paper-records/lits/*/experiment_0/test_metrics/prc_records.json (is_tum records; identical for every method)",
        "cases": len(cases),
        "tumours_per_case": counts,
        "diameters_voxels": [round(d, 6) for d in diameters],
        "voxel_size_mm": [0.8, 0.8, 2.5],
        "note": "diameter = (6 V / pi)^(1/3) in voxels of the LiTS scans; voxel_size_mm is the typical LiTS voxel used to turn it into mm",
    }


def main():
    text = json.dumps(derive(), indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            sys.exit(0 if f.read() == text else "data-manifests/lits-tumour-stats.json is stale: rerun the script")
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
