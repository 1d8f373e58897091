"""Writes the small seed files of the iw-io fuzz targets (fuzz/seeds/<target>/) with nibabel,
SimpleITK and pydicom. Run from crates/io/fuzz with the project's venv."""
import gzip, io, os
import numpy as np
import nibabel as nib
import SimpleITK as sitk
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
                         DeflatedExplicitVRLittleEndian, RLELossless, generate_uid)

a = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
for name, arr, aff in [("i16", a, np.diag([0.7, 0.8, 2.5, 1])), ("u8", (a % 3).astype(np.uint8), np.eye(4)),
                       ("f32", a.astype(np.float32) / 7, np.diag([-1, -1, 1, 1]))]:
    img = nib.Nifti1Image(arr, aff)
    raw = img.to_bytes()
    open(f"seeds/nifti/{name}.nii", "wb").write(raw)
    open(f"seeds/nifti_gz/{name}.nii.gz", "wb").write(gzip.compress(raw, mtime=0))
img = nib.Nifti1Image(a, np.eye(4)); img.header.set_sform(None, code=0); img.header.set_qform(np.eye(4), code=1)
open("seeds/nifti/qform.nii", "wb").write(img.to_bytes())
big = nib.Nifti1Image(a.astype(">i2"), np.eye(4))
open("seeds/nifti/big_endian.nii", "wb").write(big.to_bytes())

im = sitk.GetImageFromArray(a.astype(np.int16)); im.SetSpacing((0.7, 0.8, 2.5)); im.SetOrigin((1, 2, 3))
for name, compress in [("local.mha", False), ("local_zlib.mha", True)]:
    sitk.WriteImage(im, f"/tmp/iw_seed_{name}", useCompression=compress)
    os.replace(f"/tmp/iw_seed_{name}", f"seeds/metaimage/{name}")
open("seeds/metaimage/detached.mhd", "wb").write(
    b"ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = True\nDimSize = 2 2 1\n"
    b"ElementSpacing = 1 1 2\nElementType = MET_USHORT\nHeaderSize = -1\nElementDataFile = x.raw\n")


def dicom(name, ts, pixels=None, rle=False):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[name])
    meta.TransferSyntaxUID = ts
    ds = Dataset(); ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series"])
    ds.Modality = "CT"; ds.Rows, ds.Columns = 4, 3; ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"; ds.BitsAllocated = ds.BitsStored = 16; ds.HighBit = 15
    ds.PixelRepresentation = 1; ds.PixelSpacing = [0.7, 0.8]; ds.ImagePositionPatient = [1, 2, 3]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]; ds.RescaleSlope = 1; ds.RescaleIntercept = -1024
    px = (np.arange(12, dtype=np.int16) * 37).reshape(4, 3)
    if rle:
        ds.PixelData = px.tobytes(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(RLELossless, encoding_plugin="pydicom")
    else:
        ds.PixelData = px.astype(">i2" if ts == ExplicitVRBigEndian else "<i2").tobytes()
    buf = io.BytesIO(); ds.save_as(buf, enforce_file_format=True)
    open(f"seeds/dicom/{name}.dcm", "wb").write(buf.getvalue())


dicom("explicit_le", ExplicitVRLittleEndian)
dicom("implicit_le", ImplicitVRLittleEndian)
dicom("explicit_be", ExplicitVRBigEndian)
dicom("deflated", DeflatedExplicitVRLittleEndian)
dicom("rle", None, rle=True)

# NRRD: SimpleITK's raw and gzip .nrrd, a detached .nhdr (its data follow as the "data file"
# content: the target passes the input as both), and hand-written headers for the other paths
# (RAS space, ascii and hex encodings, big endian, skips, a size-1 non-spatial axis, 2D).
os.makedirs("seeds/nrrd", exist_ok=True)
im.SetDirection([0, 1, 0, -1, 0, 0, 0, 0, 1])
for name, compress in [("sitk_raw.nrrd", False), ("sitk_gzip.nrrd", True)]:
    sitk.WriteImage(im, f"/tmp/iw_seed_{name}", useCompression=compress)
    os.replace(f"/tmp/iw_seed_{name}", f"seeds/nrrd/{name}")
v = np.arange(24, dtype="<i2") * 37 - 300
head = (b"NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: %s\n"
        b"space: %s\nspace directions: (0.5,0.1,0) (-0.1,0.5,0) (0,0,2)\nspace origin: (10,-20,30)\n")
open("seeds/nrrd/ras.nrrd", "wb").write(head % (b"raw", b"right-anterior-superior") + b"\n" + v.tobytes())
open("seeds/nrrd/ascii.nrrd", "wb").write(
    head % (b"ascii", b"LPS") + b"\n" + " ".join(str(x) for x in v).encode())
open("seeds/nrrd/hex.nrrd", "wb").write(head % (b"hex", b"LAS") + b"\n" + v.tobytes().hex().encode())
open("seeds/nrrd/skips_be.nrrd", "wb").write(
    (head % (b"raw", b"LPS")).replace(b"little", b"big") + b"line skip: 1\nbyte skip: 3\n\nskip\nabc"
    + v.astype(">i2").tobytes())
open("seeds/nrrd/detached.nhdr", "wb").write(
    b"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 1 2 2 1\nencoding: gzip\nspace dimension: 3\n"
    b"kinds: scalar domain domain domain\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\n"
    b"byte skip: 0\ndata file: x.raw.gz\n")
open("seeds/nrrd/flat_2d.nrrd", "wb").write(
    b"NRRD0001\ntype: float\ndimension: 2\nsizes: 2 2\nspacings: 0.5 2\nencoding: text\n\n1.5 -2 3e3 nan\n")
