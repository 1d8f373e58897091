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
