"""GPU connected-component labelling peers of crates/cuda/examples/bench_ccl.rs, on masks of
the same kinds and shape (random at density 0.05 and 0.3 from numpy's generator, and a
checkerboard; 26-connectivity): cupyx's
`cupyx.scipy.ndimage.label` and cuCIM's `cucim.skimage.measure.label`, whichever is
installed (wheels carried to the device machine). Prints one JSON line per peer and mask, or
'skipped: ...' when neither is there or there is no GPU.

Usage: python ccl_peer.py [--shape 400,512,512] [--reps 5]
"""
import json
import sys
import time

import numpy as np


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def masks(shape):
    rng = np.random.default_rng(0)
    z, y, x = np.indices(shape, sparse=True)
    return [
        ("random-0.05", (rng.random(shape, dtype=np.float32) < 0.05).astype(np.uint8)),
        ("random-0.3", (rng.random(shape, dtype=np.float32) < 0.3).astype(np.uint8)),
        ("checkerboard", ((z + y + x) % 2).astype(np.uint8)),
    ]


def main():
    shape = tuple(int(v) for v in arg("--shape", "400,512,512").split(","))
    reps = int(arg("--reps", 5))
    peers = []
    try:
        import cupy as cp
        import cupyx.scipy.ndimage as cndi

        if cp.cuda.runtime.getDeviceCount() < 1:
            raise ImportError("no GPU")
        s26 = cp.ones((3, 3, 3), dtype=bool)
        peers.append(("cupyx", lambda m: cndi.label(m, structure=s26)[1], cp))
    except Exception as e:  # noqa: BLE001 - any failure means the peer is absent
        print(f"skipped: cupyx ({e})")
        cp = None
    try:
        import cucim.skimage.measure as cm

        peers.append(("cucim", lambda m: int(cm.label(m, connectivity=3).max()), cp))
    except Exception as e:  # noqa: BLE001
        print(f"skipped: cuCIM ({e})")
    if not peers:
        return
    for name, m in masks(shape):
        dm = cp.asarray(m)
        for peer, fn, cpm in peers:
            fn(dm)
            cpm.cuda.Device().synchronize()
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                k = fn(dm)
                cpm.cuda.Device().synchronize()
                times.append(time.perf_counter() - t)
            times.sort()
            print(json.dumps({"peer": peer, "mask": name, "shape": shape, "components": int(k), "gpu_s": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
