"""Independent references for iw-io's tests: nibabel, pydicom and SimpleITK.

Run with the project's .venv (pinned versions in scripts/requirements.txt). Subcommands:

  describe READER PATH...    JSON list: what READER (nibabel | sitk | pydicom) sees in each PATH
  make-nifti DIR             NIfTI files written by nibabel: every dtype, big-endian, scaled,
                             oblique sform != qform, NaNs
  make-mhd DIR               MetaImage files written by SimpleITK: dtypes, oblique, .zraw, .mha
  make-nrrd DIR              NRRD files written by SimpleITK: dtypes, oblique, gzip, .nhdr
  make-series DIR            DICOM series written by pydicom from CT_small.dcm: shuffled good
                             series, mixed series, a missing slice
  paths                      JSON: the real files of the installed packages the tests read
"""
import json
import os
import shutil
import sys

import numpy as np


def stats(arr):
    a = np.asarray(arr, dtype=np.float64)
    finite = a[np.isfinite(a)]
    return {
        "sum": float(finite.sum()),
        "nan_count": int(np.isnan(a).sum()),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
    }


def describe_nibabel(path):
    import nibabel as nib

    img = nib.load(path)
    hdr = img.header
    data = img.get_fdata(dtype=np.float64)  # scl_slope / scl_inter applied
    raw_dtype = np.dtype(hdr.get_data_dtype()).newbyteorder("=").name
    slope, inter = float(img.dataobj.slope), float(img.dataobj.inter)  # as read from the file
    scaled = slope != 1 or inter != 0
    out = {
        "shape_zyx": list(data.shape[:3][::-1]),
        "affine_ras": img.affine.tolist(),
        "raw_dtype": raw_dtype,
        "scaled": bool(scaled),
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "qform": hdr.get_qform().tolist(),
        "sform": hdr.get_sform().tolist(),
        "big_endian": hdr.endianness == ">",
    }
    out.update(stats(data))
    return out


def describe_sitk(path):
    import SimpleITK as sitk

    img = sitk.ReadImage(path)
    arr = sitk.GetArrayFromImage(img)  # [z, y, x]
    out = {
        "shape_zyx": list(arr.shape),
        "spacing_xyz": list(img.GetSpacing()),
        "origin_xyz": list(img.GetOrigin()),
        "direction": list(img.GetDirection()),  # row-major 3x3
        "dtype": arr.dtype.name,
    }
    out.update(stats(arr))
    return out


def _number(ds, keyword, default):
    """A DS value, also when pydicom kept it as raw bytes (VR UN)."""
    if keyword not in ds:
        return default
    elem = ds[keyword]
    v = elem.value
    if isinstance(v, (bytes, bytearray)):
        return float(v.decode("ascii").strip("\x00 ").split("\\")[0])
    return float(v)


def describe_pydicom(path):
    import pydicom

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array.astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    slope = _number(ds, "RescaleSlope", 1.0)
    inter = _number(ds, "RescaleIntercept", 0.0)
    arr = arr * slope + inter
    ps = [float(x) for x in ds.PixelSpacing] if "PixelSpacing" in ds else None
    if ps is None and "SharedFunctionalGroupsSequence" in ds:
        sh = ds.SharedFunctionalGroupsSequence[0]
        if "PixelMeasuresSequence" in sh:
            ps = [float(x) for x in sh.PixelMeasuresSequence[0].PixelSpacing]
    out = {
        "shape_zyx": list(arr.shape),
        "pixel_spacing_yx": ps,
        "ipp": [float(x) for x in ds.ImagePositionPatient] if "ImagePositionPatient" in ds else None,
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
    }
    out.update(stats(arr))
    return out


def make_nifti(d):
    import nibabel as nib

    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    shape = (7, 6, 5)  # x, y, z as nibabel stores it
    aff = np.array([[0.9, 0, 0, -20.5], [0, 1.1, 0, 12.25], [0, 0, 2.5, 7.0], [0, 0, 0, 1]])
    for dt in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"]:
        info = np.iinfo(dt) if np.dtype(dt).kind in "iu" else None
        if info is not None:
            lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)
            a = rng.integers(lo, hi, size=shape, dtype=dt, endpoint=True)
        else:
            a = rng.normal(0, 100, size=shape).astype(dt)
        img = nib.Nifti1Image(a, aff, dtype=dt)
        nib.save(img, os.path.join(d, f"dtype_{dt}.nii"))
    # big-endian int16 and float32
    for dt in ["int16", "float32"]:
        a = (rng.normal(0, 300, size=shape)).astype(dt)
        hdr = nib.Nifti1Header(endianness=">")
        img = nib.Nifti1Image(a, aff, header=hdr)
        img.set_data_dtype(np.dtype(dt).newbyteorder(">"))
        nib.save(img, os.path.join(d, f"bigendian_{dt}.nii"))
    # scaled int16: slope 0.5, inter -1024
    a = rng.integers(0, 4000, size=shape).astype(np.int16)
    img = nib.Nifti1Image(a, aff)
    img.header.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.5, -1024.0)
    nib.save(img, os.path.join(d, "scaled_int16.nii.gz"))
    # oblique sform different from qform, with NaNs
    th = np.deg2rad(20)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    sform = np.eye(4)
    sform[:3, :3] = rot @ np.diag([0.8, 0.8, 3.0])
    sform[:3, 3] = [10, -30, 45]
    qform = np.eye(4)
    qform[:3, :3] = np.diag([-0.8, 0.8, 3.0])
    qform[:3, 3] = [1, 2, 3]
    a = rng.normal(size=shape).astype(np.float32)
    a[1, 2, 3] = np.nan
    a[4, 0, 1] = np.nan
    img = nib.Nifti1Image(a, None)
    img.header.set_sform(sform, code=2)
    img.header.set_qform(qform, code=1)
    nib.save(img, os.path.join(d, "oblique_nan.nii.gz"))
    # qform only (sform_code 0), with a flipped axis (qfac -1)
    img = nib.Nifti1Image(rng.normal(size=shape).astype(np.float32), None)
    q = np.diag([1.5, 1.5, -2.0, 1.0])
    q[:3, 3] = [5, 6, 7]
    img.header.set_qform(q, code=1)
    img.header.set_sform(np.eye(4), code=0)
    nib.save(img, os.path.join(d, "qform_only_qfac.nii"))


def make_mhd(d):
    import SimpleITK as sitk

    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(11)
    shape_zyx = (5, 6, 7)
    th = np.deg2rad(25)
    direction = [np.cos(th), 0, np.sin(th), 0, 1, 0, -np.sin(th), 0, np.cos(th)]
    kinds = {
        "uint8": sitk.sitkUInt8, "int8": sitk.sitkInt8, "uint16": sitk.sitkUInt16,
        "int16": sitk.sitkInt16, "uint32": sitk.sitkUInt32, "int32": sitk.sitkInt32,
        "float32": sitk.sitkFloat32, "float64": sitk.sitkFloat64,
    }
    for name in kinds:
        if np.dtype(name).kind in "iu":
            info = np.iinfo(name)
            a = rng.integers(max(info.min, -(2**30)), min(info.max, 2**30), size=shape_zyx).astype(name)
        else:
            a = rng.normal(0, 50, size=shape_zyx).astype(name)
        img = sitk.GetImageFromArray(a)
        img.SetSpacing((0.7, 0.8, 2.5))
        img.SetOrigin((-100.5, 20.25, -300.0))
        img.SetDirection(direction)
        sitk.WriteImage(img, os.path.join(d, f"dtype_{name}.mhd"))
    a = rng.integers(-1000, 2000, size=shape_zyx).astype(np.int16)
    img = sitk.GetImageFromArray(a)
    img.SetSpacing((0.6, 0.6, 1.25))
    img.SetOrigin((1, 2, 3))
    img.SetDirection(direction)
    sitk.WriteImage(img, os.path.join(d, "compressed.mhd"), useCompression=True)
    sitk.WriteImage(img, os.path.join(d, "local.mha"))
    sitk.WriteImage(img, os.path.join(d, "local_compressed.mha"), useCompression=True)


def make_nrrd(d):
    import SimpleITK as sitk

    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(12)
    shape_zyx = (5, 6, 7)
    th = np.deg2rad(25)
    direction = [np.cos(th), 0, np.sin(th), 0, 1, 0, -np.sin(th), 0, np.cos(th)]
    for name in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"]:
        if np.dtype(name).kind in "iu":
            info = np.iinfo(name)
            a = rng.integers(max(info.min, -(2**40)), min(info.max, 2**40), size=shape_zyx).astype(name)
        else:
            a = rng.normal(0, 50, size=shape_zyx).astype(name)
        img = sitk.GetImageFromArray(a)
        img.SetSpacing((0.7, 0.8, 2.5))
        img.SetOrigin((-100.5, 20.25, -300.0))
        img.SetDirection(direction)
        sitk.WriteImage(img, os.path.join(d, f"dtype_{name}.nrrd"))
    a = rng.integers(-1000, 2000, size=shape_zyx).astype(np.int16)
    img = sitk.GetImageFromArray(a)
    img.SetSpacing((0.6, 0.6, 1.25))
    img.SetOrigin((1, 2, 3))
    img.SetDirection(direction)
    sitk.WriteImage(img, os.path.join(d, "compressed.nrrd"), useCompression=True)
    sitk.WriteImage(img, os.path.join(d, "detached.nhdr"))
    sitk.WriteImage(img, os.path.join(d, "detached_compressed.nhdr"), useCompression=True)


def make_series(d):
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    src = get_testdata_file("CT_small.dcm")
    base = pydicom.dcmread(src)
    rng = np.random.default_rng(3)
    base_pixels = base.pixel_array.astype(np.int16)

    def write_series(folder, positions, uids=None, shuffle=True):
        os.makedirs(folder, exist_ok=True)
        series_uid = generate_uid()
        order = rng.permutation(len(positions)) if shuffle else range(len(positions))
        for n, i in enumerate(order):
            ds = pydicom.dcmread(src)  # a fresh copy: Dataset.copy() shares its elements
            ds.SeriesInstanceUID = uids[i] if uids else series_uid
            ds.SOPInstanceUID = generate_uid()
            ds.ImagePositionPatient = [float(x) for x in positions[i]]
            ds.InstanceNumber = int(n + 1)
            arr = base_pixels + np.int16(i * 10)
            ds.PixelData = arr.tobytes()
            ds.save_as(os.path.join(folder, f"IM{n:04d}.dcm"), enforce_file_format=True)

    ipp0 = np.array([float(x) for x in base.ImagePositionPatient])
    iop = np.array([float(x) for x in base.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    good = [ipp0 + normal * 2.5 * k for k in range(6)]
    write_series(os.path.join(d, "good"), good)
    write_series(os.path.join(d, "mixed"), good, uids=[generate_uid() if k == 3 else "1.2.3.4" for k in range(6)])
    gap = [p for k, p in enumerate(good) if k != 3]
    write_series(os.path.join(d, "gap"), gap)


def paths():
    import importlib.util

    def pkg(name):
        return os.path.dirname(importlib.util.find_spec(name).origin)

    import pydicom.data

    ts = os.path.join(pydicom.data.get_testdata_file("CT_small.dcm"))
    store = os.path.join(pkg("data_store"), "data")
    return {
        "nibabel_data": os.path.join(pkg("nibabel"), "tests", "data"),
        "totalseg_ct": os.path.join(pkg("totalsegmentator"), "resources", "ct_brain_atlas_1mm.nii.gz"),
        "mni_t1": os.path.join(pkg("nilearn"), "datasets", "data", "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"),
        "ct_small": ts,
        "mr_small": pydicom.data.get_testdata_file("MR_small.dcm"),
        "jpeg_lossy": pydicom.data.get_testdata_file("JPEG-lossy.dcm"),
        "pydicom_data": store,
        "site_packages": os.path.dirname(pkg("nibabel")),
    }


def main():
    cmd = sys.argv[1]
    if cmd == "describe":
        reader = {"nibabel": describe_nibabel, "sitk": describe_sitk, "pydicom": describe_pydicom}[sys.argv[2]]
        print(json.dumps([reader(p) for p in sys.argv[3:]]))
    elif cmd == "make-nifti":
        make_nifti(sys.argv[2])
    elif cmd == "make-mhd":
        make_mhd(sys.argv[2])
    elif cmd == "make-nrrd":
        make_nrrd(sys.argv[2])
    elif cmd == "make-series":
        make_series(sys.argv[2])
    elif cmd == "paths":
        print(json.dumps(paths()))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
