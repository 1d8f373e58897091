"""The committed fixtures of iw-core's fast tests (tests/fixtures/references.json), from the
independent references: scipy.ndimage.label and cc3d on the test volumes, numpy's legacy
RandomState.

Usage: python make_fixtures.py CASES_DIR OUT.json
CASES_DIR holds <name>.u8 (C-order uint8 masks) and cases.json ([{"name", "shape"}]), as the
tests write them (tests/common/mod.rs `write_cases`). Label volumes are stored as the FNV-1a
64-bit hash of their C-order labels taken as 32-bit words (`fnv64` in tests/common/mod.rs).
"""
import importlib.metadata
import json
import os
import sys

import cc3d
import numpy as np
from scipy import ndimage

MASK = (1 << 64) - 1


def fnv64(labels):
    h = 0xcbf29ce484222325
    for w in labels.astype(np.uint32).ravel().tolist():
        h = ((h ^ w) * 0x100000001b3) & MASK
    return f"{h:016x}"


def by_first_voxel(lab):
    """Labels renumbered 1..K in the order of each component's first voxel (C order)."""
    flat = lab.ravel()
    ids, first = np.unique(flat, return_index=True)
    keep = ids != 0
    order = np.argsort(first[keep], kind="stable")
    table = np.zeros(int(ids.max()) + 1 if len(ids) else 1, np.int64)
    table[ids[keep][order]] = np.arange(1, keep.sum() + 1)
    return table[flat].reshape(lab.shape)


def main():
    d, out = sys.argv[1], sys.argv[2]
    structures = {c: ndimage.generate_binary_structure(3, r) for c, r in ((6, 1), (18, 2), (26, 3))}
    ccl = {}
    for case in json.load(open(os.path.join(d, "cases.json"))):
        m = np.fromfile(os.path.join(d, case["name"] + ".u8"), np.uint8).reshape(case["shape"]) != 0
        ccl[case["name"]] = {}
        for conn, st in structures.items():
            lab, n = ndimage.label(m, structure=st)
            # (cc3d 4.1.1 throws "maximum length exception" on a 1 x 1 x N volume at 26-connectivity.)
            theirs = cc3d.connected_components(m, connectivity=conn)
            ccl[case["name"]][str(conn)] = {
                "scipy_count": int(n),
                "scipy_hash": fnv64(lab),
                "cc3d_count": int(theirs.max()),
                "cc3d_hash": fnv64(by_first_voxel(theirs)),
            }
    shuffles = []
    for seed, n, reps in [(42, 1, 50), (42, 2, 50), (42, 3, 50), (42, 5, 50), (42, 28, 50), (42, 159, 50),
                          (42, 1000, 50), (7, 10, 3), (195939070, 20, 1)]:
        rng = np.random.RandomState(seed)
        x = np.arange(n)
        hashes = []
        for _ in range(reps):
            rng.shuffle(x)
            hashes.append(fnv64(x))
        shuffles.append({"seed": seed, "n": n, "hashes": hashes, "last": x.tolist()})
    perm = np.random.RandomState(195939070).permutation(20).tolist()
    doc = {
        "generator": "crates/core/tests/golden/make_fixtures.py",
        "versions": {p: importlib.metadata.version(p) for p in ("numpy", "scipy", "connected-components-3d")},
        "ccl": ccl,
        "random_state_shuffles": shuffles,
        "random_state_permutation_195939070_20": perm,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
