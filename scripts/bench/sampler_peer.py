"""The paper's patch sampling written in numpy, the way the authors' Python pipeline does it
(one process, np.memmap'd arrays), over a dataset prepared by `iw prepare`: seconds per batch of
2 x 128^3 (image scaled to [0, 1], mask, inverse weights).

Usage: python sampler_peer.py PREPARED [--batches N] [--patch P]  -> JSON on stdout
"""
import json
import os
import sys
import time

import numpy as np


def load(root):
    info = json.load(open(os.path.join(root, "dataset.json")))
    cases = []
    for cid in info["cases"]:
        d = os.path.join(root, "cases", cid)
        meta = json.load(open(os.path.join(d, "case.json")))
        shape = tuple(meta["shape_zyx"])
        cases.append({
            "meta": meta,
            "image": np.memmap(os.path.join(d, "image.f32"), np.float32, "r", shape=shape),
            "mask": np.memmap(os.path.join(d, "mask.u8"), np.uint8, "r", shape=shape),
            "labels": np.memmap(os.path.join(d, "labels.u16"), np.uint16, "r", shape=shape),
            "lesions": np.fromfile(os.path.join(d, "lesions.u32"), np.uint32),
        })
    return cases


def crop(a, center, patch, pad):
    out = np.full(patch, pad, a.dtype)
    start = [c - p // 2 for c, p in zip(center, patch)]
    src = tuple(slice(max(s, 0), min(s + p, n)) for s, p, n in zip(start, patch, a.shape))
    dst = tuple(slice(sl.start - s, sl.stop - s) for sl, s in zip(src, start))
    out[dst] = a[src]
    return out


def weights(labels, w_min=1.0, w_max=2e5):
    counts = np.bincount(labels.ravel())
    k = np.count_nonzero(counts[1:])
    with np.errstate(divide="ignore"):
        table = np.clip(labels.size / ((k + 1) * counts.astype(np.float64)), w_min, w_max).astype(np.float32)
    return table[labels]


def sample(cases, rng, patch, window=(-300.0, 300.0)):
    lesions = np.array([len(c["meta"]["components"]) for c in cases], np.float64)
    c = cases[rng.choice(len(cases), p=lesions / lesions.sum())]
    meta = c["meta"]
    if rng.random() < 0.5:
        comps = meta["components"]
        k = rng.integers(len(comps))
        start = sum(x["voxels"] for x in comps[:k])
        flat = c["lesions"][start + rng.integers(comps[k]["voxels"])]
        center = np.unravel_index(flat, meta["shape_zyx"])
    else:
        # the authors' sample_center_uniformly: where the whole patch fits, else the centre
        shape = np.array(meta["shape_zyx"])
        if np.all(np.array(patch) <= shape):
            center = np.array([rng.integers(m) for m in shape - patch + 1]) + np.array(patch) // 2
        else:
            center = shape // 2
    lo, hi = max(meta["intensity_min"], window[0]), min(meta["intensity_max"], window[1])
    img = (np.clip(crop(c["image"], center, patch, window[0]), *window) - lo) / (hi - lo)
    outside = crop(c["mask"], center, patch, 2) == 2
    if outside.any():  # padding -> the minimum of the cropped patch (deep_pipe's np.min)
        img[outside] = img[~outside].min()
    mask = crop(c["mask"], center, patch, 0).astype(np.float32)
    lab = crop(c["labels"], center, patch, 0)
    return img.astype(np.float32), mask, weights(lab)


def main():
    root = sys.argv[1]
    batches = int(sys.argv[sys.argv.index("--batches") + 1]) if "--batches" in sys.argv else 30
    p = int(sys.argv[sys.argv.index("--patch") + 1]) if "--patch" in sys.argv else 128
    cases = load(root)
    rng = np.random.default_rng(0)
    for _ in range(2):
        [sample(cases, rng, (p, p, p)) for _ in range(2)]
    t = time.perf_counter()
    for _ in range(batches):
        [sample(cases, rng, (p, p, p)) for _ in range(2)]
    print(json.dumps({"s_per_batch": (time.perf_counter() - t) / batches}))


if __name__ == "__main__":
    main()
