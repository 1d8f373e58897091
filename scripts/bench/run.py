"""`make bench`: iw's Rust code and its Python peers, side by side, in one run.

Generates its inputs under bench-data/ (once), runs the Rust timings (crates/data/examples/
bench_data.rs, release build) and the same work in Python (cc3d, scipy, numpy, nibabel), and
prints medians and ratios (peer time / our time: > 1 means we are faster). Single-threaded on
both sides: OMP/MKL/OpenBLAS threads are pinned to 1 for the peers, and our CCL is sequential.

Usage: python scripts/bench/run.py [--reps N] [--quick]
"""
import argparse
from importlib.metadata import version
import json
import os
import platform
import subprocess
import sys
import time

# The numpy/scipy/cc3d peers single-threaded (our CCL, weights and records are sequential); the
# torch rows (losses, model) run in subprocesses with libtorch's default threads on both sides.
TORCH_ENV = dict(os.environ)
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "bench-data")
BIN = os.path.join(ROOT, "target", "release", "examples", "bench_data")
BIN_METRICS = os.path.join(ROOT, "target", "release", "examples", "bench_metrics")
BIN_LOSSES = os.path.join(ROOT, "target", "release", "examples", "bench_losses")
BIN_MODELS = os.path.join(ROOT, "target", "release", "examples", "bench_models")


def timeit(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), ts


def process(cmd, reps):
    """Median wall seconds of `cmd` as a whole new process (after a warm-up) and its peak resident
    memory in MiB, from `/usr/bin/time -f %M` (a child of this Python process would inherit
    Python's peak: Linux keeps ru_maxrss across exec)."""
    walls = []
    for i in range(reps + 1):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            walls.append(time.perf_counter() - t)
    rss = float("nan")
    if os.path.exists("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        rss = int(out.stderr.strip().splitlines()[-1]) / 1024
    return float(np.median(walls)), rss


def ours(task, path, reps, *extra, binary=BIN):
    paths = path if isinstance(path, list) else [path]
    out = subprocess.run([binary, task, *paths, "--reps", str(reps), *extra], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["median_s"]


def prediction_case(shape_zyx, seed):
    """A test case for lesion records: 20 lesions, and logits with 50 predicted components
    (most lesions found with varying overlap and confidence, some missed, false positives)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    gt = lesion_mask(shape_zyx, 20, seed)
    lab, n = ndimage.label(gt, structure=np.ones((3, 3, 3)))
    logit = np.full(shape_zyx, -6.0, np.float32)
    objs = ndimage.find_objects(lab)
    found = 0
    for k, sl in enumerate(objs):
        if k % 6 == 5:
            continue  # missed lesion
        lo = [max(s.start - 2, 0) for s in sl]
        hi = [min(s.stop + 2, n_) for s, n_ in zip(sl, shape_zyx)]
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        region = ndimage.binary_dilation(lab[box] == k + 1) if k % 2 else ndimage.binary_erosion(lab[box] == k + 1) | (lab[box] == k + 1)
        conf = rng.uniform(0.5, 6.0)
        logit[box][region] = conf * (0.6 + 0.4 * rng.random(region.sum()))
        found += 1
    zz = 0
    while found + zz < 50:  # false positives away from the lesions
        c = (rng.uniform(0.1, 0.9, 3) * np.array(shape_zyx)).astype(int)
        r = int(rng.integers(1, 4))
        box = tuple(slice(max(ci - r, 0), ci + r + 1) for ci in c)
        if gt[box].any() or (logit[box] > 0).any():
            continue
        logit[box] = rng.uniform(0.1, 3.0)
        zz += 1
    prob = (1 / (1 + np.exp(-logit.astype(np.float64)))).astype(np.float32)
    return gt, prob, logit


def lesion_mask(shape_zyx, n_lesions, seed, liver=False, r_max=30.0, whole=False):
    """A CT-like tumour mask: n_lesions separate ellipsoids of 1.5..r_max voxel radii with
    irregular borders, inside a liver region (or over the whole volume when whole=True); or the
    liver itself, one large component, when liver=True."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    z, y, x = shape_zyx
    m = np.zeros(shape_zyx, np.uint8)
    cz, cy, cx = z * 0.5, y * 0.45, x * 0.35
    rz, ry, rx = z * 0.3, y * 0.25, x * 0.22
    if liver:
        zz, yy, xx = np.ogrid[:z, :y, :x]
        m[((zz - cz) / rz) ** 2 + ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
        return m
    placed = 0
    while placed < n_lesions:
        r = float(np.exp(rng.uniform(np.log(1.5), np.log(r_max))))
        rad = r * rng.uniform(0.7, 1.3, 3) * np.array([0.4, 1, 1])  # anisotropic voxels (z coarser)
        if whole:
            c = rng.uniform(0, 1, 3) * np.array(shape_zyx)
        else:
            c = np.array([cz, cy, cx]) + rng.uniform(-0.7, 0.7, 3) * np.array([rz, ry, rx])
        lo = np.maximum(np.floor(c - 1.5 * rad - 2).astype(int), 0)
        hi = np.minimum(np.ceil(c + 1.5 * rad + 2).astype(int) + 1, shape_zyx)
        if m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].any():
            continue  # keep lesions separate
        placed += 1
        zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        d = ((zz - c[0]) / rad[0]) ** 2 + ((yy - c[1]) / rad[1]) ** 2 + ((xx - c[2]) / rad[2]) ** 2
        # Irregular but connected borders: a smooth random field perturbs the ellipsoid.
        bump = 1 + 0.6 * ndimage.gaussian_filter(rng.standard_normal(d.shape), 3) * 3
        blob = d <= bump
        if blob.any():  # the largest piece only: one lesion, one component
            lab, n = ndimage.label(blob, structure=np.ones((3, 3, 3)))
            blob = lab == 1 + np.argmax(np.bincount(lab.ravel())[1:])
        m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= blob.astype(np.uint8)
    return m


def save_nifti(arr_zyx, path, spacing=(0.8, 0.8, 2.5)):
    import nibabel as nib

    aff = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(np.ascontiguousarray(arr_zyx).T, aff), path)


def prepare(quick):
    os.makedirs(DATA, exist_ok=True)
    shape = (100, 256, 256) if quick else (300, 512, 512)
    tag = "quick" if quick else "full"
    files = {
        "tumours": os.path.join(DATA, f"tumours_{tag}.nii"),
        "liver": os.path.join(DATA, f"liver_{tag}.nii"),
        "patch_labels": os.path.join(DATA, "patch_labels_128.nii"),
        "ct_gz": os.path.join(DATA, f"ct_{tag}.nii.gz"),
        "case_gt": os.path.join(DATA, f"case_gt_{tag}.nii"),
        "case_prob": os.path.join(DATA, f"case_prob_{tag}.nii"),
        "case_logit": os.path.join(DATA, f"case_logit_{tag}.nii"),
        "lung_labels": os.path.join(DATA, f"lung_labels_{tag}.nii"),
    }
    if not os.path.exists(files["lung_labels"]):
        save_nifti(lung_labels(shape), files["lung_labels"], spacing=(0.7, 0.7, 1.25))
    if not os.path.exists(files["case_logit"]):
        gt, prob, logit = prediction_case((100, 256, 256) if quick else (400, 512, 512), 5)
        save_nifti(gt, files["case_gt"])
        save_nifti(prob, files["case_prob"])
        save_nifti(logit, files["case_logit"])
    if not os.path.exists(files["tumours"]):
        save_nifti(lesion_mask(shape, 20, 1), files["tumours"])
        save_nifti(lesion_mask(shape, 0, 2, liver=True), files["liver"])
        rng = np.random.default_rng(3)
        ct = (rng.normal(40, 30, shape) + 200 * lesion_mask(shape, 0, 2, liver=True)).astype(np.int16)
        save_nifti(ct, files["ct_gz"])
    if not os.path.exists(files["patch_labels"]):
        import cc3d

        patch = lesion_mask((128, 128, 128), 20, 4, r_max=12.0, whole=True)
        save_nifti(cc3d.connected_components(patch, connectivity=26).astype(np.uint16), files["patch_labels"])
    return files


def lung_labels(shape_zyx):
    """Two lungs (3, 4) with vessel-like holes and a trachea (5), as seg-lungs-LUNA16 labels."""
    d, h, w = shape_zyx
    z, y, x = np.ogrid[:d, :h, :w]
    lab = np.zeros(shape_zyx, np.uint8)
    for value, cx in ((3, 0.3), (4, 0.7)):
        e = ((z - d / 2) / (0.45 * d)) ** 2 + ((y - h / 2) / (0.35 * h)) ** 2 + ((x - cx * w) / (0.18 * w)) ** 2
        lab[e <= 1] = value
    rng = np.random.default_rng(7)
    lab[rng.random(shape_zyx) < 0.05] = 0
    lab[(z > d // 2) & (np.abs(y - h // 2) <= 6) & (np.abs(x - w // 2) <= 6)] = 5
    return lab


def scipy_lung_mask(lab):
    """The same steps with scipy.ndimage: erosion with border_value=1, as skimage's binary_erosion
    that the authors called (crates/data/tests/golden/reference.py: morphology)."""
    from scipy import ndimage

    vals, counts = np.unique(lab[lab != 0], return_counts=True)
    keep = np.delete(vals, np.lexsort((vals, counts))[0]) if len(vals) >= 3 else vals
    m = np.isin(lab, keep)
    m = ndimage.binary_dilation(m, iterations=10)
    m = ndimage.binary_erosion(m, iterations=10, border_value=1)
    return ndimage.binary_dilation(m, iterations=3)


def numpy_inverse_weights(labels, w_min=1.0, w_max=2e5):
    """The paper's weights, vectorised with numpy (bincount + gather)."""
    counts = np.bincount(labels.ravel())
    k = np.count_nonzero(counts[1:])
    n = labels.size
    with np.errstate(divide="ignore"):
        table = np.where(counts > 0, n / ((k + 1) * np.maximum(counts, 1)), 0.0)
    return np.clip(table, w_min, w_max).astype(np.float32)[labels]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a 256 x 256 x 100 volume instead of 512 x 512 x 300")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: run `make bench` (it builds the examples)")
    import cc3d
    import nibabel as nib
    from scipy import ndimage

    files = prepare(a.quick)
    rows = []
    for name in ("tumours", "liver"):
        path = files[name]
        mask = np.ascontiguousarray(np.asarray(nib.load(path).dataobj).T)
        desc = f"CCL 26-conn, {name} mask {'x'.join(map(str, mask.shape[::-1]))}"
        nlab = cc3d.connected_components(mask, connectivity=26).max()
        t_ours = ours("ccl", path, a.reps, "--connectivity", "26")
        t_cc3d, _ = timeit(lambda: cc3d.connected_components(mask, connectivity=26), a.reps)
        st = ndimage.generate_binary_structure(3, 3)
        t_scipy, _ = timeit(lambda: ndimage.label(mask, structure=st), max(1, a.reps // 2))
        rows.append((f"{desc} ({nlab} components)", t_ours, [("cc3d", t_cc3d), ("scipy.ndimage.label", t_scipy)]))
    labels = np.ascontiguousarray(np.asarray(nib.load(files["patch_labels"]).dataobj).T).astype(np.uint32)
    t_ours = ours("weights", files["patch_labels"], a.reps * 4)
    t_np, _ = timeit(lambda: numpy_inverse_weights(labels), a.reps * 4)
    rows.append((f"inverse weights, 128^3 patch, {len(np.unique(labels)) - 1} lesions", t_ours, [("numpy bincount", t_np)]))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import lesion_records

    case = [files["case_gt"], files["case_prob"], files["case_logit"]]
    vols = [np.ascontiguousarray(np.asarray(nib.load(p).dataobj).T) for p in case]
    recs = lesion_records.records_vectorized(*vols)
    n_gt, n_pr = sum(r["is_tum"] for r in recs), sum(not r["is_tum"] for r in recs)
    t_ours = ours("records", case, a.reps, binary=BIN_METRICS)
    t_vec, _ = timeit(lambda: lesion_records.records_vectorized(*vols), max(1, a.reps // 2))
    t_loops, _ = timeit(lambda: lesion_records.records_loops(*vols), 1)
    desc = f"lesion records, {'x'.join(map(str, vols[0].shape[::-1]))}, {n_gt} lesions, {n_pr} predicted"
    rows.append((desc, t_ours, [("paper-style loops (skimage)", t_loops), ("vectorised numpy + cc3d", t_vec)]))
    t_ours = ours("report", os.path.join(ROOT, "..", "shared", "paper-records"), a.reps, binary=BIN_METRICS)
    rows.append(("whole report on ../shared/paper-records (19 methods, 3 strata, 50 bootstraps)", t_ours, []))
    t_report = t_ours
    # The iw-lesions Python package beside its peers and beside the Rust calls above.
    import python_wheel

    mask128 = (labels > 0).astype(np.uint8)
    rust = {"weights": rows[2][1], "records": rows[3][1], "records_loops": t_loops, "report": t_report}
    rows += python_wheel.rows(files, vols, labels, mask128, timeit, a.reps, rust)

    # Losses: forward + backward on 2 x 1 x 128^3, ours (tch) against PyTorch in Python, the same
    # libtorch underneath, alternating the two twice so that drift hits both.
    loss_ours, loss_peer = [], []
    for _ in range(3):
        out = subprocess.run([BIN_LOSSES, files["patch_labels"], "--reps", str(2 * a.reps)], check=True, capture_output=True, text=True, env=TORCH_ENV)
        loss_ours.append(json.loads(out.stdout))
        out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses_peer.py"), files["patch_labels"], "--reps", str(2 * a.reps)], check=True, capture_output=True, text=True, env=TORCH_ENV)
        loss_peer.append(json.loads(out.stdout))
    for name in loss_ours[0]:
        t = float(np.median([r[name] for r in loss_ours]))
        tp = float(np.median([r[name] for r in loss_peer]))
        rows.append((f"loss {name}, forward + backward, 2 x 1 x 128^3", t, [("PyTorch (Python)", tp)]))

    # The sampler: 2 x 128^3 batches from LiTS-sized synthetic cases (0.8 x 0.8 x 2 mm).
    prep = os.path.join(DATA, "sampler_prepared")
    if not os.path.exists(os.path.join(prep, "dataset.json")):
        iw = os.path.join(ROOT, "target", "release", "iw")
        raw = os.path.join(DATA, "sampler_raw")
        subprocess.run([iw, "synth", "lits", "--out", raw, "--cases", "4", "--shape", "512,512,160"], check=True, capture_output=True)
        subprocess.run([iw, "prepare", "lits", "--raw", raw, "--out", prep], check=True, capture_output=True)
    n_b = 20 if a.quick else 60
    for workers in (1, 2):
        t_ours = ours("sampler", prep, 1, "--batches", str(n_b), "--workers", str(workers))
        rows.append((f"sampler, one 2 x 128^3 batch (image, mask, weights), {workers} worker(s): {1 / t_ours:.0f} batches/s", t_ours, []))
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampler_peer.py"), prep, "--batches", str(n_b // 2)], check=True, capture_output=True, text=True)
    t_peer = json.loads(out.stdout)["s_per_batch"]
    rows.append((f"sampler, 1 worker vs numpy (one process, np.memmap)", ours("sampler", prep, 1, "--batches", str(n_b), "--workers", "1"), [("numpy", t_peer)]))

    # The model: one training step and sliding-window inference, ours (tch) against PyTorch.
    peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models_peer.py")
    model_tasks = [("train", ["--size", "64", "--reps", "3"], "training step, paper U-Net, 2 x 1 x 64^3")]
    if not a.quick:
        model_tasks += [
            ("train", ["--size", "128", "--reps", "1"], "training step, paper U-Net, 2 x 1 x 128^3"),
            ("infer", ["--shape", "128,256,256", "--reps", "1"], "sliding-window inference, paper U-Net, 256 x 256 x 128 volume (patch 160, stride 144)"),
        ]
    for task, args, desc in model_tasks:
        mine = json.loads(subprocess.run([BIN_MODELS, task, *args], check=True, capture_output=True, text=True, env=TORCH_ENV).stdout)["median_s"]
        theirs = json.loads(subprocess.run([sys.executable, peer, task, *args], check=True, capture_output=True, text=True, env=TORCH_ENV).stdout)["median_s"]
        rows.append((desc, mine, [("PyTorch (Python)", theirs)]))

    # The CPU scale's step (experiments/scales/cpu.yaml: width 0.25, depth 3, 2 x 16 x 32 x 32, one
    # thread, iwdl), channels-last as it trains and in the default layout; issue 27 asks >= 1.0x.
    # Both sides get glibc's allocator setting that iw-torch makes in-process before training
    # (iw_run::resources::keep_freed_memory; BENCHMARKS.md "Training step on the CPU"), here from the
    # environment, and alternate three times (median of the three medians): the step is ~0.1 s and
    # the VM is noisy.
    glibc = dict(TORCH_ENV, MALLOC_MMAP_THRESHOLD_="1073741824", MALLOC_TRIM_THRESHOLD_="4294967296", MALLOC_TOP_PAD_="268435456")
    cpu_scale = ["--patch", "16,32,32", "--width", "0.25", "--depth", "3", "--threads", "1", "--loss", "iwdl", "--reps", "15" if a.quick else "60"]
    for extra, desc in ((["--channels-last"], "training step, CPU scale (width 0.25, 2 x 1 x 16x32x32, iwdl, 1 thread), channels-last"),
                        ([], "training step, CPU scale, default layout")):
        mine, theirs = [], []
        for _ in range(1 if a.quick else 3):
            mine.append(json.loads(subprocess.run([BIN_MODELS, "train", *cpu_scale, *extra], check=True, capture_output=True, text=True, env=glibc).stdout)["median_s"])
            theirs.append(json.loads(subprocess.run([sys.executable, peer, "train", *cpu_scale, *extra], check=True, capture_output=True, text=True, env=glibc).stdout)["median_s"])
        rows.append((desc, float(np.median(mine)), [("PyTorch (Python), same options and allocator setting", float(np.median(theirs)))]))

    lab = np.ascontiguousarray(np.asarray(nib.load(files["lung_labels"]).dataobj).T)
    t_ours = ours("lungmask", files["lung_labels"], a.reps)
    t_scipy, _ = timeit(lambda: scipy_lung_mask(lab), max(1, a.reps // 2))
    rows.append((f"LUNA16 lung mask (drop trachea, 10 dilations + 10 erosions + 3 dilations), {'x'.join(map(str, lab.shape[::-1]))}", t_ours, [("scipy.ndimage", t_scipy)]))

    path = files["ct_gz"]
    t_ours = ours("read", path, a.reps)
    t_nib, _ = timeit(lambda: np.asanyarray(nib.load(path).dataobj), a.reps)
    shape = nib.load(path).shape
    rows.append((f"read .nii.gz int16 {'x'.join(map(str, shape))}", t_ours, [("nibabel", t_nib)]))

    # Start-up (issue 18): what a script that runs one command per case pays per call. iw-torch
    # runs the same command with libtorch linked, as every iw command did before.
    tiny = os.path.join(DATA, "tiny.nii")
    save_nifti(np.ones((8, 8, 8), np.uint8), tiny)
    iw = os.path.join(ROOT, "target", "release", "iw")
    n = max(10, a.reps)
    t_iw, rss_iw = process([iw, "info", tiny], n)
    t_torch, rss_torch = process([iw + "-torch", "info", tiny], n)
    t_nib, rss_nib = process([sys.executable, "-c", "import sys, nibabel; nibabel.load(sys.argv[1]).get_fdata()", tiny], n)
    rows.append((f"start-up: `iw info` on an 8^3 .nii, one whole process ({rss_iw:.0f} MiB peak)", t_iw,
                 [(f"the same in iw-torch, libtorch linked ({rss_torch:.0f} MiB)", t_torch),
                  (f"python -c 'nibabel.load(...).get_fdata()' ({rss_nib:.0f} MiB)", t_nib)]))
    t_help, rss_help = process([iw, "--help"], n)
    t_help_torch, rss_help_torch = process([iw + "-torch", "--help"], n)
    rows.append((f"start-up: `iw --help` ({rss_help:.0f} MiB peak)", t_help,
                 [(f"`iw-torch --help`, libtorch linked ({rss_help_torch:.0f} MiB)", t_help_torch)]))

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"numpy {np.__version__}, cc3d {version('connected-components-3d')}, scipy {version('scipy')}, nibabel {nib.__version__}")
    print(f"medians of {a.reps} runs after a warm-up (weights: {a.reps * 4}); ratio = peer / iw (> 1: iw is faster)\n")
    print(f"| task | iw | peer | peer time | ratio |")
    print(f"|---|---|---|---|---|")
    results = []
    for desc, t, peers in rows:
        if not peers:
            print(f"| {desc} | {t * 1e3:.1f} ms | | | |")
            results.append({"task": desc, "iw_s": t})
        for peer, tp in peers:
            print(f"| {desc} | {t * 1e3:.1f} ms | {peer} | {tp * 1e3:.1f} ms | {tp / t:.2f} |")
            results.append({"task": desc, "iw_s": t, "peer": peer, "peer_s": tp, "ratio": tp / t})
    with open(os.path.join(DATA, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
