"""Independent references for the real-scan tests (crates/runner/tests/pyradiomics_cli.rs):
SimpleITK reads the NRRD files, cc3d labels the lesions, numpy computes the inverse weights by
METHOD.md's formula, scripts/bench/lesion_records.py (cc3d, vectorised) the lesion records.

  describe PATH...              JSON list: SimpleITK's shape, spacing, origin, direction, dtype, stats
  weights LABEL IW_WEIGHTS      JSON: components (26-connected) and the largest relative
                                difference between iw's weight map and N / ((K + 1) |c|) in [1, 2e5]
  prediction LABEL PROB LOGIT   writes a probability and a logit map (NRRD, the label's geometry):
                                the label blurred (so predictions differ from it) plus a false positive
  records LABEL PROB LOGIT OUT  the lesion records of lesion_records.records_vectorized as JSON
  lesions MASK PROB             JSON list: the mask's 26-connected components (cc3d) with their
                                voxels, volume (mm^3, from SimpleITK's spacing), world centroid
                                (SimpleITK's index -> physical point), bounding box, max and mean
                                probability
"""
import json
import os
import sys

import numpy as np
import SimpleITK as sitk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../../.."))


def arr(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(path))


def describe(path):
    img = sitk.ReadImage(path)
    a = sitk.GetArrayFromImage(img)
    return {
        "shape_zyx": list(a.shape),
        "spacing_xyz": list(img.GetSpacing()),
        "origin_xyz": list(img.GetOrigin()),
        "direction": list(img.GetDirection()),
        "dtype": a.dtype.name,
        "min": float(a.min()),
        "max": float(a.max()),
        "sum": float(a.astype(np.float64).sum()),
    }


def weights(label, iw_weights):
    import cc3d

    lab, k = cc3d.connected_components(arr(label) > 0.5, connectivity=26, return_N=True)
    sizes = np.bincount(lab.ravel())
    ref = np.clip(lab.size / ((k + 1) * sizes[lab].astype(np.float64)), 1.0, 2e5)
    ours = arr(iw_weights).astype(np.float64)
    rel = np.abs(ours - ref) / ref
    return {"components": int(k), "sizes": sizes[1:].tolist(), "max_rel_diff": float(rel.max()),
            "shape_equal": list(ours.shape) == list(ref.shape)}


def prediction(label, prob_out, logit_out):
    from scipy.ndimage import gaussian_filter

    img = sitk.ReadImage(label)
    gt = (sitk.GetArrayFromImage(img) > 0.5).astype(np.float64)
    p = gaussian_filter(gt, sigma=1.2) * 0.98
    z, y, x = (s // 4 for s in gt.shape)
    p[z, y:y + 3, x:x + 3] = 0.8  # a false positive
    p = np.clip(p, 1e-4, 1 - 1e-4).astype(np.float32)
    logit = (np.log(p) - np.log1p(-p)).astype(np.float32)
    for a, out in [(p, prob_out), (logit, logit_out)]:
        o = sitk.GetImageFromArray(a)
        o.CopyInformation(img)
        sitk.WriteImage(o, out, useCompression=True)


def records(label, prob, logit, out):
    sys.path.insert(0, os.path.join(ROOT, "scripts", "bench"))
    import lesion_records

    recs = lesion_records.records_vectorized(arr(label) > 0.5, arr(prob), arr(logit))
    with open(out, "w") as f:
        json.dump({"0": recs}, f)


def lesions(mask, prob):
    import cc3d

    img = sitk.ReadImage(mask)
    m = sitk.GetArrayFromImage(img)
    p = sitk.GetArrayFromImage(sitk.ReadImage(prob)).astype(np.float64)
    lab, k = cc3d.connected_components(m > 0, connectivity=26, return_N=True)
    voxel = float(np.prod(img.GetSpacing())) * abs(np.linalg.det(np.array(img.GetDirection()).reshape(3, 3)))
    out = []
    for i in range(1, k + 1):
        z, y, x = np.nonzero(lab == i)
        c = img.TransformContinuousIndexToPhysicalPoint((float(x.mean()), float(y.mean()), float(z.mean())))
        out.append({"voxels": int(len(x)), "volume_mm3": len(x) * voxel, "centroid": list(c),
                    "bbox_min": [int(x.min()), int(y.min()), int(z.min())],
                    "bbox_max": [int(x.max()), int(y.max()), int(z.max())],
                    "max_prob": float(p[lab == i].max()), "mean_prob": float(p[lab == i].mean())})
    return out


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "describe":
        print(json.dumps([describe(p) for p in args]))
    elif cmd == "weights":
        print(json.dumps(weights(*args)))
    elif cmd == "prediction":
        prediction(*args)
    elif cmd == "records":
        records(*args)
    elif cmd == "lesions":
        print(json.dumps(lesions(*args)))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
