"""Writes the hostile inputs of issue 18 that crates/io/tests/r18_hostile.rs reads.

Run from this folder with the project's venv (nibabel, pydicom, numpy pinned in
scripts/requirements.txt): `../../../../.venv/bin/python make_inputs.py`. The outputs are
committed; fuzz crashes found later are added beside them by hand (fuzz-<target>-<hash>).
"""
import base64, gzip, struct, zlib
import numpy as np
import nibabel as nib
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

rng = np.random.default_rng(18)

# A 73-byte DICOM whose file meta group declares a 4 GiB element (issue 18).
open("dicom_length_bomb.dcm", "wb").write(base64.b64decode(
    "RElDTQIAAAB8////BAAAAERJTUMAAAAaAAIA/wQAAABESUNNAgACAAAA/w0AAP////8AAAAAAP98/wQAAAAAAQgaAABDAgBNAA=="))

# NIfTI with dim = 32767^3 (uint8): 35 TB declared in a 352-byte file.
img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
nib.save(img, "nifti_huge_dim.nii")
b = bytearray(open("nifti_huge_dim.nii", "rb").read())
struct.pack_into("<3h", b, 42, 32767, 32767, 32767)
open("nifti_huge_dim.nii", "wb").write(b)
# The same header gzip-compressed: the declared size cannot be checked against the file length.
open("nifti_huge_dim.nii.gz", "wb").write(gzip.compress(bytes(b)))

# A valid .nii.gz whose gzip CRC-32 is wrong (Python's gzip rejects it).
img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
nib.save(img, "ok.nii.gz")
g = bytearray(open("ok.nii.gz", "rb").read())
g[-8] ^= 0xFF
open("nifti_bad_crc.nii.gz", "wb").write(g)
g = bytearray(open("ok.nii.gz", "rb").read())
g[-4] ^= 0x01  # ISIZE
open("nifti_bad_isize.nii.gz", "wb").write(g)

# qform-only NIfTI whose quaternion has b^2 + c^2 + d^2 = 1.5 (nibabel raises).
img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
h = img.header
h.set_sform(None, code=0)
h.set_qform(np.eye(4), code=1)
nib.save(img, "nifti_bad_quaternion.nii")
b = bytearray(open("nifti_bad_quaternion.nii", "rb").read())
struct.pack_into("<3f", b, 256, 1.0, 0.5, 0.0)
open("nifti_bad_quaternion.nii", "wb").write(b)

# Little-endian NIfTI with dim[0] = 8 (the nifti crate would guess big endian and say 2048).
b = bytearray(open("ok.nii.gz", "rb").read())
b = bytearray(gzip.decompress(bytes(b)))
struct.pack_into("<h", b, 40, 8)
open("nifti_dim0_8.nii", "wb").write(b)

# MetaImage headers: a data file outside the header's folder, and a DimSize that overflows.
hdr = "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = {}\n"
open("metaimage_traversal.mhd", "w").write(hdr.format("../../../../../../../../etc/passwd"))
open("metaimage_absolute.mhd", "w").write(hdr.format("/etc/passwd"))
open("metaimage_dimsize_overflow.mha", "w").write(
    "ObjectType = Image\nNDims = 3\nDimSize = 4294967296 4294967296 4294967296\nElementType = MET_SHORT\nElementDataFile = LOCAL\n")
# zlib data declaring 2^40 voxels: must fail before allocating them.
open("metaimage_zlib_bomb.mha", "wb").write(
    b"ObjectType = Image\nNDims = 3\nDimSize = 1048576 1048576 1\nElementType = MET_UCHAR\n"
    b"CompressedData = True\nElementDataFile = LOCAL\n" + zlib.compress(b"\0" * 1000))


def dicom(name, rows, cols, pixel_bytes, ts, encapsulated=False):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[name])
    meta.TransferSyntaxUID = ts
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelSpacing = [0.7, 0.7]
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    if encapsulated:
        from pydicom.encaps import encapsulate
        ds.PixelData = encapsulate([pixel_bytes])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = pixel_bytes
    ds.save_as(name, enforce_file_format=True)


# RLE Lossless whose one fragment is random bytes; and one with a plausible header whose
# segment decodes short (the decoder's segment copy indexes past it).
dicom("dicom_rle_garbage.dcm", 8, 8, rng.integers(0, 256, 200, dtype=np.uint8).tobytes(), RLELossless, True)
seg_header = struct.pack("<16I", 2, 64, 70, *([0] * 13))
short_segments = seg_header + bytes([2, 1, 2, 3, 0, 0]) + bytes([1, 5, 6])  # 3 + 2 bytes, not 64
dicom("dicom_rle_short_segment.dcm", 8, 8, short_segments + b"\0", RLELossless, True)
# A valid file with Rows = 0.
dicom("dicom_rows_zero.dcm", 0, 8, b"", ExplicitVRLittleEndian)
# Native pixel data shorter than Rows x Columns x 2.
dicom("dicom_short_pixels.dcm", 512, 512, b"\0\0" * 16, ExplicitVRLittleEndian)
